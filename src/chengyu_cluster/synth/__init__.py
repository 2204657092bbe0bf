"""Synthetic enterprise microdata, deterministic from a seed (`chengyu synth`)."""
