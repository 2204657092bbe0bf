"""Enterprise microdata: check the delivered files, keep them in the store, load them into the candidate."""
