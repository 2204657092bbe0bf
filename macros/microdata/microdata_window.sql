{#- The first month the loader's plan rebuilds, as a SQL date literal, or none (no plan). In a
    `chengyu build --microdata`, the plan the loader wrote into raw_microdata.load_state decides,
    read from the candidate at run time (not passed as a var: a change of vars makes dbt parse the
    whole project again, so builds with microdata pass none and parse only what changed); a var
    cannot override it. Without a loader (a plain dbt run), var microdata_reprocess_from, which
    must be a date such as 2020-04-01. A DATE read back, never text pasted into SQL. -#}
{% macro microdata_planned_start() -%}
    {%- set loaded = adapter.dispatch('microdata_loaded_start')() if execute else none -%}
    {%- if loaded is not none -%}
        {{- return(loaded or none) -}}
    {%- endif -%}
    {%- set explicit = var('microdata_reprocess_from', none) -%}
    {%- if explicit -%}
        {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', explicit | string) -%}
            {{- exceptions.raise_compiler_error(
                "var microdata_reprocess_from is not a date such as 2020-04-01: " ~ explicit) -}}
        {%- endif -%}
        {{- return("date '" ~ explicit ~ "'") -}}
    {%- endif -%}
    {{- return(none) -}}
{%- endmacro %}

{#- The loader's plan: none when there is no loader's state (no table yet, e.g. a `dbt compile` of
    a new file, or no rows: a plain dbt run); '' when it planned a full build; the date literal of
    reprocess_from when it carried the facts over. A carried-over plan without its month fails
    the run rather than falling back to another window. -#}
{% macro default__microdata_loaded_start() -%}
    {%- set load_state = source('microdata', 'load_state') -%}
    {%- if adapter.get_relation(load_state.database, load_state.schema, load_state.identifier) is none -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set query -%}
        select
            max(case when key = 'carried_over' then value end) as carried_over,
            max(case when key = 'reprocess_from' and value <> '' then cast(value as date) end) as reprocess_from
        from {{ load_state }}
    {%- endset -%}
    {%- set row = run_query(query).rows[0] -%}
    {%- if row[0] is none -%}
        {{- return(none) -}}
    {%- elif row[0] != 'true' -%}
        {{- return('') -}}
    {%- elif row[1] is none -%}
        {{- exceptions.raise_compiler_error(
            "raw_microdata.load_state says the facts were carried over but names no reprocess_from month") -}}
    {%- endif -%}
    {{- return("date '" ~ row[1].isoformat() ~ "'") -}}
{%- endmacro %}

{#- Spark has no loader (docs/spark.md): only the var plans its window. -#}
{% macro spark__microdata_loaded_start() -%}
    {{- return(none) -}}
{%- endmacro %}


{#- The first month the microdata layer's data tests check, as a SQL date literal: the months
    the build rebuilt (microdata_planned_start), or every month. -#}
{% macro microdata_tests_since() -%}
    {{- return(microdata_planned_start() or "date '1900-01-01'") -}}
{%- endmacro %}


{#- The first month an incremental run of a microdata fact rebuilds, as a SQL date literal.

    `chengyu build --microdata` plans it (microdata_planned_start): the earliest month whose
    input files changed since the version the facts were carried over from, or the look-back
    window before the newest month if that is earlier (src/chengyu_cluster/microdata/plan.py).
    A plain dbt run has no plan: it rebuilds the var('microdata_lookback_months') months
    before the newest month of `relation`. Rendered once per model (a literal), so the
    pre-hook's delete and the model's select agree, and the filter reaches the Parquet scan. -#}
{% macro microdata_window_start(relation, date_column) -%}
    {%- if not execute -%}
        {{- return("date '1900-01-01'") -}}
    {%- endif -%}
    {%- set planned = microdata_planned_start() -%}
    {%- if planned -%}
        {{- return(planned) -}}
    {%- endif -%}
    {%- set query -%}
        select {{ iso_month_start_before('max(' ~ date_column ~ ')', var('microdata_lookback_months') | int) }}
        from {{ relation }}
    {%- endset -%}
    {%- set newest = run_query(query).columns[0].values()[0] -%}
    {{- return("date '" ~ (newest or '1900-01-01') ~ "'") -}}
{%- endmacro %}


{#- The first month an incremental run of the layer's shared models rebuilds (the enterprise x
    month grid, and the marts by year from its year on): microdata_planned_start() when there
    is a plan, else the earlier of the two facts' windows (reports and invoices), so that every
    month either fact rebuilds is rebuilt in the grid first. -#}
{% macro microdata_layer_window_start() -%}
    {%- if not execute -%}
        {{- return("date '1900-01-01'") -}}
    {%- endif -%}
    {%- set planned = microdata_planned_start() -%}
    {%- if planned -%}
        {{- return(planned) -}}
    {%- endif -%}
    {%- set query -%}
        {#- least() skips a NULL on both engines: the other fact's newest month counts alone. -#}
        select {{ iso_month_start_before(
            "least((select max(report_month) from " ~ ref('stg_microdata__enterprise_month') ~ "),"
            ~ " (select max(issue_date) from " ~ ref('stg_microdata__supply_invoices') ~ "))",
            var('microdata_lookback_months') | int) }}
    {%- endset -%}
    {%- set newest = run_query(query).columns[0].values()[0] -%}
    {{- return("date '" ~ (newest or '1900-01-01') ~ "'") -}}
{%- endmacro %}


{#- Pre-hook of an incremental microdata fact: remove the months the run rebuilds. -#}
{% macro microdata_delete_window(month_column, relation, date_column) -%}
    {%- if is_incremental() -%}
        {{- microdata_delete_where(month_column, '>=', microdata_window_start(relation, date_column)) -}}
    {%- endif -%}
{%- endmacro %}


{#- Pre-hook of an incremental model of the layer's window (microdata_layer_window_start):
    remove the months from its start (grain 'month') or the years from its year (grain 'year'). -#}
{% macro microdata_delete_layer_window(column, grain='month') -%}
    {%- if is_incremental() -%}
        {%- if grain == 'year' %}
        {{- microdata_delete_where(column, '>=', 'year(' ~ microdata_layer_window_start() ~ ')') -}}
        {%- else %}
        {{- microdata_delete_where(column, '>=', microdata_layer_window_start()) -}}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{#- Remove the rows of the model being built ({{ this }}) whose partition column compares to a
    SQL value so: `column >= value`. DuckDB deletes them (the hook's SQL). A Spark Parquet table
    cannot delete rows: its microdata models are partitioned by that column
    (microdata_partition_by), so the partitions that hold such rows are dropped here, statement by
    statement (the hook's SQL is empty). The run then writes the partitions it rebuilds
    (insert_overwrite, microdata_incremental_strategy); a month or year that no longer has rows
    stays dropped, as after DuckDB's delete. -#}
{% macro microdata_delete_where(column, operator, value) -%}
    {{- return(adapter.dispatch('microdata_delete_where')(column, operator, value)) -}}
{%- endmacro %}

{% macro default__microdata_delete_where(column, operator, value) -%}
    delete from {{ this }} where {{ column }} {{ operator }} {{ value }}
{%- endmacro %}

{% macro spark__microdata_delete_where(column, operator, value) -%}
    {%- if execute -%}
        {#- The partition values come from `show partitions` and are compared in a query over
            literals: a filter on the table's partition column would be pushed to the Hive
            metastore, whose Derby store fails on a date filter
            (INTERNAL_ERROR_HIVE_METASTORE_PARTITION_FILTER). -#}
        {%- set values = [] -%}
        {%- for row in run_query("show partitions " ~ this).rows -%}
            {%- set spec = row[0] -%}
            {%- if spec.startswith(column ~ "=") -%}
                {%- do values.append("('" ~ spec[(column | length) + 1:] ~ "')") -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if values -%}
            {%- set query -%}
                select p from values {{ values | join(", ") }} as partitions(p) where p {{ operator }} {{ value }}
            {%- endset -%}
            {%- set specs = [] -%}
            {%- for partition in run_query(query).columns[0].values() | sort -%}
                {%- do specs.append("partition (" ~ column ~ " = '" ~ partition ~ "')") -%}
            {%- endfor -%}
            {%- if specs -%}
                {%- do run_query("alter table " ~ this ~ " drop if exists " ~ specs | join(", ")) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{#- The incremental strategy of the microdata layer's models: DuckDB appends after the pre-hook's
    delete (microdata_delete_where); Spark writes with insert_overwrite, which, with the table
    partitioned by the model's month or year (microdata_partition_by), replaces the partitions the
    run writes and keeps the others (dbt-spark's dynamic partition overwrite). -#}
{% macro microdata_incremental_strategy() -%}
    {{- return(adapter.dispatch('microdata_incremental_strategy')()) -}}
{%- endmacro %}

{% macro default__microdata_incremental_strategy() -%}
    {{- return('append') -}}
{%- endmacro %}

{% macro spark__microdata_incremental_strategy() -%}
    {{- return('insert_overwrite') -}}
{%- endmacro %}


{#- The partitioning of a microdata model's table: none on DuckDB, the model's month or year
    column on Spark (the unit the incremental run replaces). -#}
{% macro microdata_partition_by(column) -%}
    {{- return(adapter.dispatch('microdata_partition_by')(column)) -}}
{%- endmacro %}

{% macro default__microdata_partition_by(column) -%}
    {{- return(none) -}}
{%- endmacro %}

{% macro spark__microdata_partition_by(column) -%}
    {{- return([column]) -}}
{%- endmacro %}
