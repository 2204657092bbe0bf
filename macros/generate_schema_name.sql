{#- Use the folder's schema name as is (staging, intermediate, marts, raw) instead of
    dbt's default "<target schema>_<custom>", so analysts query marts.fct_... -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
