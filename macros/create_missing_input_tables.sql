{#- on-run-start: create the input reader's tables, empty, when they do not exist yet.
    `chengyu build` writes them before dbt runs; a plain `dbt build` (development) has no
    user file and gets empty tables with the layout declared in _inputs__sources.yml. -#}
{% macro create_missing_input_tables() %}
    {%- if execute -%}
        {%- for source in graph.sources.values() if source.source_name == 'inputs' %}
    create schema if not exists {{ source.schema }};
    create table if not exists {{ source.schema }}.{{ source.name }} (
            {%- for column in source.columns.values() %}
        {{ column.name }} {{ column.data_type }}{{ "," if not loop.last }}
            {%- endfor %}
    );
        {%- endfor %}
    {%- endif -%}
{% endmacro %}
