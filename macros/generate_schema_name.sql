{#- Use the folder's schema name as is (staging, intermediate, marts, raw) instead of
    dbt's default "<target schema>_<custom>", so analysts query marts.fct_... .
    `chengyu build --target spark` builds into candidate schemas "<name>__b<build id>": it
    applies the suffix to dbt's parsed manifest (src/chengyu_cluster/pipeline/spark_schemas.py,
    candidate_manifest), not here, so that the parse is the same for every build and dbt's
    partial parsing keeps it. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ target.schema if custom_schema_name is none else custom_schema_name | trim }}
{%- endmacro %}
