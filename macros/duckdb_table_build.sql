{#- DuckDB only (dispatched by adapter; Spark keeps dbt-spark's materialization and persist_docs).
    dbt-duckdb builds each table as <name>__dbt_tmp, renames it and drops a <name>__dbt_backup, and
    persists docs with a table comment, two column look-ups and a column comment statement: seven
    statements around the model's SQL, each with its events, in every build. In `chengyu build`
    the candidate file is new, so a table does not exist yet: it is created under its own name in
    one transaction, and its docs are written by one statement. Where it exists already (a plain
    `dbt build` into warehouse/dev.duckdb), dbt-duckdb's own materialization runs unchanged. -#}

{% materialization table, adapter='duckdb', supported_languages=['sql', 'python'] %}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- if existing_relation is not none or config.get('partitioned_by') or config.get('sorted_by')
          or config.get('indexes') or config.get('grants') or adapter.use_ducklake_table_workarounds(this) -%}
        {{ return(dbt.materialization_table_duckdb()) }}
    {%- endif -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}
    {% call statement('main', language=model['language']) -%}
        {{- create_table_as(False, target_relation, compiled_code, model['language']) }}
    {%- endcall %}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% do persist_docs(target_relation, model) %}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{% macro duckdb__persist_docs(relation, model, for_relation, for_columns) -%}
    {#- The relation's comment and its columns' in one statement, the columns looked up once. -#}
    {%- set statements = [] -%}
    {%- if for_relation and config.persist_relation_docs() and model.description -%}
        {%- do statements.append(alter_relation_comment(relation, model.description)) -%}
    {%- endif -%}
    {%- if for_columns and config.persist_column_docs() and model.columns -%}
        {%- set existing = adapter.get_columns_in_relation(relation) | map(attribute='name') | list -%}
        {%- for name, column in validate_doc_columns(relation, model.columns, existing).items() -%}
            {%- set quoted = adapter.quote(name) if column['quote'] else name -%}
            {%- do statements.append('comment on column ' ~ relation ~ '.' ~ quoted ~ ' is '
                                     ~ duckdb_escape_comment(column['description']) ~ ';') -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if statements -%}
        {%- do run_query(statements | join('\n')) -%}
    {%- endif -%}
{%- endmacro %}
