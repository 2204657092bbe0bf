{#- A store file as the raw microdata relations name it (DuckDB's read_parquet filename, an
    absolute path; Spark's _metadata.file_path, a file: URI), relative to the microdata store:
    objects/<table>/<sha256>/<file>.parquet. Warehouses built from the same data then hold the
    same rows wherever their store is, and the path stays valid when the store moves. A path
    outside the store's layout is kept as it is. -#}
{% macro store_relative_path(column) -%}
    coalesce(nullif({{ regexp_extract_group(column, '(objects/[^/]+/[^/]+/[^/]+)$') }}, ''), {{ column }})
{%- endmacro %}
