{#- The first month an incremental run of a microdata fact rebuilds, as a SQL date literal.

    `chengyu build --microdata` passes var microdata_reprocess_from: the earliest month whose
    input files changed since the version the facts were carried over from, or the look-back
    window before the newest month if that is earlier (src/chengyu_cluster/microdata/intake.py). A
    plain dbt run has no such var: it rebuilds the var('microdata_lookback_months') months
    before the newest month of `relation`. Rendered once per model (a literal), so the
    pre-hook's delete and the model's select agree, and the filter reaches the Parquet scan. -#}
{% macro microdata_window_start(relation, date_column) -%}
    {%- if not execute -%}
        {{- return("date '1900-01-01'") -}}
    {%- endif -%}
    {%- set explicit = var('microdata_reprocess_from', none) -%}
    {%- if explicit -%}
        {{- return("date '" ~ explicit ~ "'") -}}
    {%- endif -%}
    {%- set query -%}
        select {{ iso_month_start_before('max(' ~ date_column ~ ')', var('microdata_lookback_months') | int) }}
        from {{ relation }}
    {%- endset -%}
    {%- set newest = run_query(query).columns[0].values()[0] -%}
    {{- return("date '" ~ (newest or '1900-01-01') ~ "'") -}}
{%- endmacro %}


{#- The first month an incremental run of the layer's shared models rebuilds (the enterprise x
    month grid, and the marts by year from its year on): microdata_reprocess_from when chengyu
    passes it, else the earlier of the two facts' windows (reports and invoices), so that every
    month either fact rebuilds is rebuilt in the grid first. -#}
{% macro microdata_layer_window_start() -%}
    {%- if not execute -%}
        {{- return("date '1900-01-01'") -}}
    {%- endif -%}
    {%- set explicit = var('microdata_reprocess_from', none) -%}
    {%- if explicit -%}
        {{- return("date '" ~ explicit ~ "'") -}}
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
