"""Exit codes of `chengyu`: the one place they are defined (every module takes them from here).

Exit codes (also in the README):
  0   success
  1   unexpected error (a bug: please report it with the output)
  2   wrong command-line usage (an empty --out, a --project-dir that is not the repository)
  3   an input file was rejected (file, line, column and rule are printed)
  4   the dbt build failed: a model did not build or a dbt test failed
  5   the quality gate found a large shift from the published version, or a public mart
      or column disappeared (`build --accept-shift REASON` publishes and records why)
  6   locked: another build or rollback of the same warehouse is running, or a process
      holds the warehouse file open for writing (a build stops then: its quality gate
      cannot compare; `--accept-shift REASON` publishes without a comparison)
  7   no such version: the publish log records no kept version live before the current
      one, or the version asked for does not exist
  8   `sql` / `analyses` / `metrics`: a statement was refused (not a read) or failed, an
      unknown analysis or metric; any reading command: there is no published warehouse yet
  9   the warehouse path holds something chengyu did not publish, a reader left a .wal
      beside it (opened it read-write), its file name is not <name>.duckdb, or a
      version with the build id exists; an output path holds a link, FIFO, device, the
      wrong kind or (export) a non-empty folder; publish-postgres --schema is not
      chengyu's own publication: nothing is overwritten
  10  storage: the warehouse folder is read-only, not permitted, or the disk is full; an
      output path the file system refuses (a name too long, a file on the way, /proc)
  11  a version is damaged: it does not match its recorded size or checksum, or does not
      open; for the published one, every command that opens it and the build say so and
      name `chengyu rollback --to <the last version that verifies>`
  12  PostgreSQL refused (no connection, missing privilege or role, or a lock wait
      timed out); after `build --publish-postgres` the DuckDB version is published
  13  out of memory: DuckDB reached its limit (`sql`: its --memory-limit)
  14  `build --target spark`: Spark cannot start here (pyspark / dbt-spark not installed,
      no Java runtime)
  130 interrupted (Ctrl-C / SIGINT); 143 terminated (SIGTERM): the build's child
      processes are stopped, its candidate removed, the published warehouse unchanged
"""

from __future__ import annotations

#: The table above, as `chengyu --help` prints it.
EXIT_CODE_TABLE = __doc__[__doc__.index("Exit codes (also") :]

EXIT_OK = 0
EXIT_BUG = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_DBT = 4
EXIT_QUALITY = 5
EXIT_LOCKED = 6
EXIT_NO_VERSION = 7
EXIT_QUERY = 8
EXIT_IN_THE_WAY = 9
EXIT_STORAGE = 10
EXIT_CORRUPT = 11
EXIT_POSTGRES_REFUSED = 12
EXIT_OUT_OF_MEMORY = 13
EXIT_SPARK_UNAVAILABLE = 14
EXIT_SIGINT = 130  # 128 + SIGINT
EXIT_SIGTERM = 143  # 128 + SIGTERM


class ChengyuExit(Exception):
    """End the command with a one-line message and an exit code."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
