"""The input reader: every seed and user file read once, checked and typed (CSV and Excel)."""
