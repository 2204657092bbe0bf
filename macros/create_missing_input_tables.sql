{#- on-run-start: create the input reader's tables, empty, when they do not exist yet.
    `chengyu build` writes them before dbt runs; a plain `dbt build` (development) has no
    user file and gets empty tables with the layout declared in _inputs__sources.yml.
    Spark runs one statement per call: there the statements run one by one here and the
    hook itself is empty. -#}
{% macro create_missing_input_tables() %}
    {%- if execute -%}
        {%- set statements = [] -%}
        {%- for source in graph.sources.values() if source.source_name == 'inputs' %}
            {%- do statements.append("create schema if not exists " ~ source.schema) -%}
            {%- set columns = [] -%}
            {%- for column in source.columns.values() -%}
                {%- do columns.append(column.name ~ " " ~ portable_data_type(column.data_type) | trim) -%}
            {%- endfor -%}
            {%- do statements.append("create table if not exists " ~ source.schema ~ "." ~ source.name
                ~ " (" ~ columns | join(", ") ~ ")") -%}
        {%- endfor -%}
        {%- if target.type == 'spark' -%}
            {%- for statement in statements -%}{%- do run_query(statement) -%}{%- endfor -%}
        {%- else -%}
            {{ statements | join(";\n") }};
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
