{#- DuckDB only (dispatched by adapter; Spark keeps dbt-spark's materialization and persist_docs).
    dbt-duckdb builds each table as <name>__dbt_tmp, renames it and drops a <name>__dbt_backup, and
    persists docs with a table comment, two column look-ups and a column comment statement: seven
    statements around the model's SQL, each with its events, in every build. Here the table is
    created under its own name, in one transaction that first drops the table it replaces (if any:
    in `chengyu build` the candidate file is new; dbt-duckdb's drop_relation_for_rebuild), and its
    docs are written by one statement. A failed model rolls back and leaves the previous table, as
    dbt-duckdb's swap does. Options this
    path does not know (partitioned_by, sorted_by, indexes, grants, DuckLake) go to dbt-duckdb's
    own materialization. -#}

{% materialization table, adapter='duckdb', supported_languages=['sql', 'python'] %}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- if config.get('partitioned_by') or config.get('sorted_by')
          or config.get('indexes') or config.get('grants') or adapter.use_ducklake_table_workarounds(this) -%}
        {{ return(dbt.materialization_table_duckdb()) }}
    {%- endif -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {#- A Python model writes its table through a cursor of its own, outside the model's transaction:
        when it replaces a table, it writes <name>__dbt_tmp, renamed once the old table is dropped. -#}
    {%- set replaced_by_python = existing_relation is not none and model['language'] == 'python' -%}
    {%- set built_relation = make_intermediate_relation(target_relation) if replaced_by_python else target_relation -%}
    {%- if replaced_by_python %}{{ drop_relation_if_exists(load_cached_relation(built_relation)) }}{% endif -%}
    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}
    {#- dbt-duckdb's own in-place rebuild (its path for tables that foreign keys reference): the drop
        inside the model's transaction, foreign-key dependents kept and restored. -#}
    {%- set dropped_dependents = [] -%}
    {%- if existing_relation is not none and not replaced_by_python -%}
        {%- set dropped_dependents = drop_relation_for_rebuild(existing_relation) -%}
    {%- endif %}
    {% call statement('main', language=model['language']) -%}
        {{- create_table_as(False, built_relation, compiled_code, model['language']) }}
    {%- endcall %}
    {%- if replaced_by_python -%}
        {%- set dropped_dependents = drop_relation_for_rebuild(existing_relation) -%}
        {{ adapter.rename_relation(built_relation, target_relation) }}
    {%- endif %}
    {% do restore_foreign_key_dependents(dropped_dependents) %}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% do persist_docs(target_relation, model) %}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{% materialization view, adapter='duckdb' %}
    {#- The same for a view: created under its own name, the relation it replaces dropped first in the
        same transaction (dbt's default view materialization: a __dbt_tmp view, renames, a backup). -#}
    {%- if config.get('grants') -%}
        {{ return(dbt.materialization_view_default()) }}
    {%- endif -%}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='view') -%}
    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}
    {%- set dropped_dependents = [] if existing_relation is none else drop_relation_for_rebuild(existing_relation) %}
    {% call statement('main') -%}
        {{ get_create_view_as_sql(target_relation, sql) }}
    {%- endcall %}
    {% do restore_foreign_key_dependents(dropped_dependents) %}
    {% do persist_docs(target_relation, model) %}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
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
