{#- on-run-start: create the microdata relations, empty, when they do not exist yet.
    `chengyu build --microdata DIR` creates them (as views over the store's immutable copies)
    before dbt runs; otherwise the microdata models build empty from these tables. A view of
    the same name satisfies `if not exists`. -#}
{% macro create_missing_microdata_tables() %}
    {%- if execute -%}
        {%- for source in graph.sources.values() if source.source_name == 'microdata' %}
    create schema if not exists {{ source.schema }};
    create table if not exists {{ source.schema }}.{{ source.name }} (
            {%- for column in source.columns.values() %}
        {{ adapter.quote(column.name) }} {{ column.data_type }}{{ "," if not loop.last }}
            {%- endfor %}
    );
        {%- endfor %}
    {%- endif -%}
{% endmacro %}
