"""The build pipeline: inputs -> candidate -> dbt -> quality gate -> publish, with an engine backend
(DuckDB files or Spark schemas), and the dbt runners it drives."""
