-- Lock-down for terminal clients of the published warehouse.
-- DuckDB CLI:  duckdb -readonly -init bi/duckdb/read_only.sql warehouse/chengyu.duckdb
-- Harlequin:   harlequin -r --init-path bi/duckdb/read_only.sql warehouse/chengyu.duckdb
-- Read-only mode refuses writes. This setting closes the file system: read_text, read_csv,
-- COPY ... TO, ATTACH and extension installs fail, and it cannot be switched back on in the
-- session. No semicolons in these comments: Harlequin splits the file at every one.
SET enable_external_access = false;
