"""Reading the published warehouse: SQL, analyses, metrics, the report, Parquet export."""
