{#- The first month an incremental run of a microdata fact rebuilds, as a SQL date literal.

    `chengyu build --microdata` passes var microdata_reprocess_from: the earliest month whose
    input files changed since the version the facts were carried over from, or the look-back
    window before the newest month if that is earlier (src/chengyu_cluster/microdata.py). A
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
        select strftime(date_trunc('month', max({{ date_column }})) - to_months({{ var('microdata_lookback_months') | int }}),
                        '%Y-%m-%d')
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
        select strftime(least(
                (select date_trunc('month', max(report_month)) from {{ ref('stg_microdata__enterprise_month') }}),
                (select date_trunc('month', max(issue_date)) from {{ ref('stg_microdata__supply_invoices') }})
            ) - to_months({{ var('microdata_lookback_months') | int }}), '%Y-%m-%d')
    {%- endset -%}
    {%- set newest = run_query(query).columns[0].values()[0] -%}
    {{- return("date '" ~ (newest or '1900-01-01') ~ "'") -}}
{%- endmacro %}


{#- Pre-hook of an incremental microdata fact: remove the months the run rebuilds. -#}
{% macro microdata_delete_window(month_column, relation, date_column) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ month_column }} >= {{ microdata_window_start(relation, date_column) }}
    {%- endif -%}
{%- endmacro %}


{#- Pre-hook of an incremental model of the layer's window (microdata_layer_window_start):
    remove the months from its start (grain 'month') or the years from its year (grain 'year'). -#}
{% macro microdata_delete_layer_window(column, grain='month') -%}
    {%- if is_incremental() -%}
        {%- if grain == 'year' %}
        delete from {{ this }} where {{ column }} >= year({{ microdata_layer_window_start() }})
        {%- else %}
        delete from {{ this }} where {{ column }} >= {{ microdata_layer_window_start() }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
