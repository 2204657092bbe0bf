-- Lock-down for Harlequin (and Python sessions) reading the published warehouse.
-- Harlequin:   harlequin -r --init-path bi/duckdb/read_only.sql warehouse/chengyu.duckdb
-- The DuckDB CLI uses its safe mode instead: bi/duckdb/duckdb-safe warehouse/chengyu.duckdb
-- Read-only mode refuses writes. The first setting closes the file system: read_text, read_csv,
-- COPY ... TO, ATTACH and extension installs fail, and SQL cannot switch it back on. The second
-- locks every other setting. Neither binds a client that can open another database (the
-- DuckDB CLI's .open starts a new session with the defaults): README, DuckDB CLI.
-- No semicolons in these comments: Harlequin splits the file at every one.
SET enable_external_access = false;
SET lock_configuration = true;
