{#- Use the folder's schema name as is (staging, intermediate, marts, raw) instead of
    dbt's default "<target schema>_<custom>", so analysts query marts.fct_... .
    `chengyu build --target spark` builds into candidate schemas: it passes the var
    chengyu_candidate_suffix (b + the build id in lower case, e.g. b20261129t174512123456z)
    and every schema becomes "<name>__<suffix>" (marts__b2026...). The suffix is checked
    here as well, so nothing but a build id can reach a schema name (src/chengyu_cluster/
    publish/spark_views.py publishes the candidate by switching views). -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set base = target.schema if custom_schema_name is none else custom_schema_name | trim -%}
    {%- set suffix = var('chengyu_candidate_suffix', none) -%}
    {%- if suffix is none -%}
        {{ base }}
    {%- elif modules.re.fullmatch('b[0-9]{8}t[0-9]{12}z', suffix | string) -%}
        {{ base }}__{{ suffix }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("chengyu_candidate_suffix must be b<build id>, e.g. b20261129t174512123456z") }}
    {%- endif -%}
{%- endmacro %}
