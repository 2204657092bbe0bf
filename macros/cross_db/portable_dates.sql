{#- Dates and date series that DuckDB and Spark spell differently, behind adapter.dispatch
    (docs/spark.md). Each default__ form is the DuckDB spelling the models used before, so the
    DuckDB build does not change; each spark__ form is the Spark SQL 4.x equivalent. -#}

{#- Set-returning, in a select list: one row per month (a date, the first of the month) from
    `first` to `last`, both included; both must be first days of a month. No row when either
    is NULL or `last` is before `first`. Spark allows no expression around a generator: the
    cast to date is part of the DuckDB form (Spark's sequence of dates is already dates). -#}
{% macro month_series(first, last) -%}
    {{ return(adapter.dispatch('month_series')(first, last)) }}
{%- endmacro %}

{% macro default__month_series(first, last) -%}
    cast(unnest(generate_series({{ first }}, {{ last }}, interval 1 month)) as date)
{%- endmacro %}

{#- Spark's sequence fails on a start after the stop with a positive step (DuckDB gives an
    empty list): such a pair gives no row here either. -#}
{% macro spark__month_series(first, last) -%}
    explode(case when {{ first }} <= {{ last }} then sequence({{ first }}, {{ last }}, interval 1 month) end)
{%- endmacro %}


{#- The first day of the month `months` months before the month of a date, as text
    'YYYY-MM-DD' (NULL for NULL): the start of a look-back window. -#}
{% macro iso_month_start_before(expression, months) -%}
    {{ return(adapter.dispatch('iso_month_start_before')(expression, months)) }}
{%- endmacro %}

{% macro default__iso_month_start_before(expression, months) -%}
    strftime(date_trunc('month', {{ expression }}) - to_months({{ months }}), '%Y-%m-%d')
{%- endmacro %}

{% macro spark__iso_month_start_before(expression, months) -%}
    date_format(add_months(trunc({{ expression }}, 'MM'), -{{ months }}), 'yyyy-MM-dd')
{%- endmacro %}
