{#- SQL of the microdata layer that DuckDB and Spark spell differently (docs/spark.md). -#}

{#- An aggregate: the group's distinct non-NULL texts, sorted, joined by a plain delimiter; NULL
    when the group has none (as DuckDB's string_agg). -#}
{% macro sorted_distinct_string_agg(expression, delimiter) -%}
    {{ return(adapter.dispatch('sorted_distinct_string_agg')(expression, delimiter)) }}
{%- endmacro %}

{% macro default__sorted_distinct_string_agg(expression, delimiter) -%}
    string_agg(
            distinct {{ expression }}, '{{ delimiter }}'
            order by {{ expression }}
        )
{%- endmacro %}

{% macro spark__sorted_distinct_string_agg(expression, delimiter) -%}
    case when count({{ expression }}) > 0
        then array_join(array_sort(collect_set({{ expression }})), '{{ delimiter }}') end
{%- endmacro %}
