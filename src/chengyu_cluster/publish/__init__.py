"""Publishing: warehouse versions (DuckDB files), Spark views, the PostgreSQL copy."""
