"""Enterprise microdata: check the files, keep immutable copies, load them into the candidate.

`chengyu build --microdata DIR` (layout: docs/microdata_layout.md) runs, before dbt:

1. **Read once, into the store.** Every input file under DIR/enterprises, DIR/enterprise_month
   and DIR/supply_invoices is hashed (sha256). A file whose hash the warehouse's microdata
   store already holds was checked by an earlier build and is reused as it is. A new file is
   copied into the store's incoming folder (hashed again while copying: a file that changes
   while being read is refused), and everything after reads that copy, never the user's file.
2. **Checks** on the copies, in DuckDB SQL so that a hundred million rows need no Python
   loop: per row (types, required values, credit-code check characters, area and class
   codes, signs of amounts, ...), and across all files, new and reused (duplicated keys and
   invoice ids, red-letter invoices against the invoices they cancel, one value kind per
   enterprise and year, reports and invoices of enterprises in the register by their month,
   year-to-date values that fall, files delivered twice). Problems are reported as
   one line each, `file, row, column, rule`, with the error type of the input reader
   (inputs.Issue, inputs.Findings): the first 50 printed and all counted; any error stops
   the build with exit 3 before a candidate exists.
3. **Store.** A checked copy becomes immutable (read-only): a Parquet file already in the
   layout's types is kept byte for byte, anything else (CSV, other Parquet types) is written
   once as typed Parquet. Store layout, beside the warehouse file:

       <warehouse>/<name>.microdata/objects/<table>/<sha256>/<file name>.parquet
       <warehouse>/<name>.microdata/objects/<table>/<sha256>/meta.json   rows per month
       <warehouse>/<name>.microdata/manifests/<build id>.json           store files a build uses
       <warehouse>/<name>.microdata/tmp/                                incoming copies, spill

   Each object is written from its own checked copy, so a delivery may mix CSV and Parquet
   (of any castable types) in one table. The warehouse records store files relative to the
   store (`objects/...`: the same in every warehouse built from the same files, and valid
   when the store moves); the names in tmp/ carry the process id, and what a killed load left
   there is removed by the next one (remove_leftovers).

4. **Load.** In the candidate, `raw_microdata.enterprises | enterprise_month | supply_invoices`
   are views over the store files of this build (`raw_microdata.partitions` lists them with
   their months). A published version's views name only immutable store files, kept as long
   as a kept version's manifest names them (garbage collected at the next build), so the
   warehouse never depends on a file the user can change, and no version copies the history.
5. **Incremental.** If the published version was built from the same microdata code and
   seeds (the layer fingerprint), its incremental models (INCREMENTAL_FACTS: the enterprise x
   month grid, the invoices per seller x buyer x month, `microdata.fct_supply_flow`,
   `microdata.fct_enterprise_month` and the three marts by year; aggregates, not the
   invoices) are copied into the candidate and dbt runs them incrementally from
   the `reprocess_from` of raw_microdata.load_state: the earliest month whose input files were added, removed or
   replaced, whose register records changed, or whose enterprise opening or closing date
   changed, and at least the look-back window (var microdata_lookback_months) before the
   newest month. Months before it are not read again. `--full-refresh` (or any change of
   code or seeds) rebuilds every month; the result is the same (tests/test_microdata.py; the
   rule per model: docs/microdata_layout.md).

Why not DuckLake (the duckdb-extension-ducklake wheel exists for DuckDB 1.5.5): the published
warehouse is one DuckDB file opened read-only with external access disabled (`chengyu sql`,
BI tools); its marts must be tables inside it either way, and the invoices only need to be
immutable and addressable per build. Content-addressed Parquet files plus the version's own
manifest give that with the file system alone, one dependency less, and the same crash
safety as the versions: a copy becomes visible by a rename, and nothing a published version
names is ever rewritten.
"""
