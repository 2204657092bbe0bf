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
    of the loader's views (microdata.attach): each named table becomes a view over those files
    with the store path as source_file, exactly as DuckDB's read_parquet(..., filename = true)
    gives it. The files must hold the source's columns with its types, as the loader's checked
    store copies do. Tables not named are created empty when missing, as on DuckDB. -#}
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
                {%- set selects = [] -%}
                {%- for path in files[source.name] -%}
                    {%- set columns = [] -%}
                    {%- for column in data_columns -%}
                        {%- do columns.append(adapter.quote(column.name)) -%}
                    {%- endfor -%}
                    {%- for column in loader_columns -%}
                        {%- do columns.append("cast('" ~ path | replace("\\", "\\\\") | replace("'", "\\'") ~ "' as string) as "
                            ~ adapter.quote(column.name)) -%}
                    {%- endfor -%}
                    {%- do selects.append("select " ~ columns | join(", ") ~ " from parquet.`" ~ path ~ "`") -%}
                {%- endfor -%}
                {%- do run_query("create or replace view " ~ source.schema ~ "." ~ source.name ~ " as\n"
                    ~ selects | join("\nunion all\n")) -%}
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
