{#- on-run-start: create the microdata relations, empty, when they do not exist yet.
    `chengyu build --microdata DIR` creates them (as views over the store's immutable copies)
    before dbt runs; otherwise the microdata models build empty from these tables. A view of
    the same name satisfies `if not exists`.
    With microdata, chengyu also passes a memory limit and a spill folder for DuckDB (vars
    microdata_memory_limit, microdata_temp_directory): set here for the whole database, so that
    a build over a hundred million invoices stays within the limit. -#}
{% macro create_missing_microdata_tables() %}
    {%- if execute -%}
        {%- if var('microdata_memory_limit', none) %}
    set memory_limit = '{{ var("microdata_memory_limit") }}';
        {%- endif %}
        {%- if var('microdata_temp_directory', none) %}
    set temp_directory = '{{ var("microdata_temp_directory") }}';
        {%- endif %}
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
