{#- on-run-start: create the microdata relations, empty, when they do not exist yet.
    `chengyu build --microdata DIR` creates them (as views over the store's immutable copies)
    before dbt runs; otherwise the microdata models build empty from these tables. A view of
    the same name satisfies `if not exists`.
    With microdata, chengyu also writes a memory limit and a spill folder for DuckDB into
    raw_microdata.load_state (keys memory_limit, temp_directory): set here for the whole
    database, so that a build over a hundred million invoices stays within the limit. Read by
    the hook's SQL into DuckDB variables (the values never become SQL text), not passed as dbt
    vars, which would make dbt parse the whole project again in every build; without them the
    settings stay as they are.
    Spark (docs/spark.md) has no loader: see spark__create_missing_microdata_tables. -#}
{% macro create_missing_microdata_tables() %}
    {{- return(adapter.dispatch('create_missing_microdata_tables')()) -}}
{% endmacro %}

{% macro default__create_missing_microdata_tables() %}
    {%- if execute -%}
        {%- for source in graph.sources.values() if source.source_name == 'microdata' %}
    create schema if not exists {{ source.schema }};
    create table if not exists {{ source.schema }}.{{ source.name }} (
            {%- for column in source.columns.values() %}
        {{ adapter.quote(column.name) }} {{ column.data_type }}{{ "," if not loop.last }}
            {%- endfor %}
    );
        {%- endfor %}
        {%- set load_state = source('microdata', 'load_state') %}
        {%- for setting in ['memory_limit', 'temp_directory'] %}
    set variable microdata_{{ setting }} = (select max(value) from {{ load_state }} where key = '{{ setting }}');
    set {{ setting }} = coalesce(getvariable('microdata_{{ setting }}'), current_setting('{{ setting }}'));
        {%- endfor %}
    {%- endif -%}
{% endmacro %}

{#- Spark runs one statement per call, so the statements run here one by one and the hook
    itself is empty. Var microdata_parquet_files ({table: [Parquet file, ...]}) plays the part
    of the loader's views (microdata.attach): each named table becomes a view over those files,
    with the file as source_file. The files must hold the source's columns with its types, as
    the loader's checked store copies do. Tables not named are created empty when missing, as
    on DuckDB.
    The view reads all of a table's files as ONE relation (spark_parquet_files: a glob naming
    each file), not a union of one relation per file: Spark analyses and plans each relation
    anew in every query that reads the view, so a test reading it seven times over eleven
    months planned 77 file scans (5.6-9.8 s against 0.75-1.5 s; docs/spark.md). A glob skips a
    file that is missing, so each file is first named on its own in one `describe query`,
    which fails on a missing file or column, as the view of one relation per file did.
    source_file is Spark's name of the file (_metadata.file_path, a URL-encoded URI: file:/... for
    a local path): staging keeps the part under the store (store_relative_path), the same as
    DuckDB's. -#}
{% macro spark__create_missing_microdata_tables() %}
    {%- if execute -%}
        {%- set files = var('microdata_parquet_files', {}) or {} -%}
        {%- set schemas = [] -%}
        {%- for source in graph.sources.values() if source.source_name == 'microdata' %}
            {%- if source.schema not in schemas -%}
                {%- do run_query("create schema if not exists " ~ source.schema) -%}
                {%- do schemas.append(source.schema) -%}
            {%- endif -%}
            {%- set loader_columns = [] -%}
            {%- set data_columns = [] -%}
            {%- for column in source.columns.values() -%}
                {%- do (loader_columns if (column.meta or {}).get('loader_column') else data_columns).append(column) -%}
            {%- endfor -%}
            {%- if files.get(source.name) -%}
                {%- set existing = adapter.get_relation(database=none, schema=source.schema, identifier=source.name) -%}
                {%- if existing is not none and not existing.is_view -%}
                    {%- do run_query("drop table " ~ source.schema ~ "." ~ source.name) -%}
                {%- endif -%}
                {%- set columns = [] -%}
                {%- for column in data_columns -%}
                    {%- do columns.append(adapter.quote(column.name)) -%}
                {%- endfor -%}
                {%- for column in loader_columns -%}
                    {%- do columns.append("_metadata.file_path as " ~ adapter.quote(column.name)) -%}
                {%- endfor -%}
                {%- set each_file = [] -%}
                {%- for path in files[source.name] -%}
                    {%- do each_file.append("select " ~ columns | join(", ") ~ " from parquet.`"
                        ~ spark_parquet_files([path]) | replace("`", "``") ~ "`") -%}
                {%- endfor -%}
                {%- set glob = spark_parquet_files(files[source.name]) -%}
                {%- if glob -%}
                    {%- do run_query("describe query " ~ each_file | join("\nunion all\n")) -%}
                    {%- set each_file = ["select " ~ columns | join(", ") ~ " from parquet.`" ~ glob | replace("`", "``") ~ "`"] -%}
                {%- endif -%}
                {%- do run_query("create or replace view " ~ source.schema ~ "." ~ source.name ~ " as\n"
                    ~ each_file | join("\nunion all\n")) -%}
            {%- else -%}
                {%- set columns = [] -%}
                {%- for column in source.columns.values() -%}
                    {%- do columns.append(adapter.quote(column.name) ~ " " ~ portable_data_type(column.data_type) | trim) -%}
                {%- endfor -%}
                {%- do run_query("create table if not exists " ~ source.schema ~ "." ~ source.name
                    ~ " (" ~ columns | join(", ") ~ ")") -%}
            {%- endif -%}
        {%- endfor %}
    {%- endif -%}
{% endmacro %}

{#- A Hadoop glob that names exactly `paths`, or '' when none can. Spark reads every path of a
    file relation as a glob, so even one file is named with the glob's characters escaped (a
    backslash): a[1].parquet is that file, not a1.parquet. Several files: their longest common
    folder (escaped), then the rest of each path as one alternative of {a,b,...}. Hadoop expands
    alternatives that hold a slash into patterns of their own and loses a backslash escape inside
    them (measured: {x/a\[1\].parquet,...} read nothing of a[1].parquet, f\*.parquet read two
    more files), so an alternative that holds a glob character leaves '', as does a common part
    that ends before the path of a URI starts (s3a://{b1/x,b2/y}) or is empty: the caller then
    reads the files one relation each. The store's copies are
    objects/<table>/<sha256>/<name of [A-Za-z0-9._-]>, so only the store's folder can hold one. -#}
{% macro spark_parquet_files(paths) -%}
    {%- set special = "\\{}[]*?,^" -%}
    {%- set ns = namespace(common=0, prefix="", ok=true) -%}
    {%- if paths | length > 0 -%}
        {%- set first, last = paths | min, paths | max -%}
        {%- for i in range([first | length, last | length] | min) -%}
            {%- if ns.common == i and first[i] == last[i] -%}{%- set ns.common = i + 1 -%}{%- endif -%}
        {%- endfor -%}
        {%- set cut = first | length if paths | length == 1 else first[:ns.common].rfind("/") + 1 -%}
        {#- where the path of a URI starts: after the slash that ends scheme://authority -#}
        {%- set scheme_end = first.find("://") -%}
        {%- set path_start = first.find("/", scheme_end + 3) + 1 if scheme_end >= 0 else 0 -%}
        {%- for char in first[:cut] -%}
            {%- set ns.prefix = ns.prefix ~ ("\\" if char in special else "") ~ char -%}
        {%- endfor -%}
        {%- set rests = [] -%}
        {%- for path in paths if paths | length > 1 -%}
            {%- for char in path[cut:] if char in special -%}{%- set ns.ok = false -%}{%- endfor -%}
            {%- do rests.append(path[cut:]) -%}
        {%- endfor -%}
        {%- if paths | length == 1 -%}
            {{- ns.prefix -}}
        {%- elif ns.ok and cut > 0 and cut >= path_start -%}
            {{- ns.prefix ~ "{" ~ rests | join(",") ~ "}" -}}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
