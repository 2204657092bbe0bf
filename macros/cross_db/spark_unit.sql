{#- dbt unit tests on Spark: dbt-core 1.11's `unit` materialization (global_project
    macros/materializations/tests/unit.sql) with one change. dbt-core creates a temporary
    view of the model's SQL as an empty subquery (`... where false limit 0`) to learn the
    column types, then runs the comparison query with the same SQL inside it: Spark analyses
    the model's SQL twice, and on kilobytes of fixture rows that analysis is most of a unit
    test's cost (docs/spark.md "Per-statement cost"). Here the temporary view holds the
    model's SQL itself and the comparison reads the view. The temporary view keeps its
    analysed plan (spark.sql.legacy.storeAnalyzedPlanForView in profiles.yml), so the SQL is
    analysed once. The check is dbt-core's: the same expected rows cast to the same column
    types (those of the view, which are the model's), the same comparison query around the
    same rows, the same result table for dbt's diff. The root project's materialization wins
    dbt's lookup on Spark only; DuckDB keeps dbt-core's. -#}
{%- materialization unit, adapter='spark' -%}

  {% set relations = [] %}
  {% set sql_header = config.get('sql_header') if flags.REQUIRE_SQL_HEADER_IN_TEST_CONFIGS else none %}

  {% set expected_rows = config.get('expected_rows') %}
  {% set expected_sql = config.get('expected_sql') %}

  {%- set target_relation = this.incorporate(type='table') -%}
  {%- set temp_relation = make_temp_relation(target_relation)-%}
  {%- set actual_sql = 'select * from ' ~ temp_relation -%}
  {% do run_query(get_create_table_as_sql(True, temp_relation, sql)) %}
  {% set tested_expected_column_names = expected_rows[0].keys() if (expected_rows | length ) > 0 else get_columns_in_query(actual_sql) %}
  {%- set columns_in_relation = adapter.get_columns_in_relation(temp_relation) -%}
  {%- set column_name_to_data_types = {} -%}
  {%- set column_name_to_quoted = {} -%}
  {%- for column in columns_in_relation -%}
  {%-   do column_name_to_data_types.update({column.name|lower: column.data_type}) -%}
  {%-   do column_name_to_quoted.update({column.name|lower: column.quoted}) -%}
  {%- endfor -%}

  {%- set expected_column_names_quoted = [] -%}
  {%- for column_name in tested_expected_column_names -%}
  {%-   do expected_column_names_quoted.append(column_name_to_quoted[column_name|lower]) -%}
  {%- endfor -%}

  {% if not expected_sql %}
  {%   set expected_sql = get_expected_sql(expected_rows, column_name_to_data_types, column_name_to_quoted) %}
  {% endif %}
  {% set unit_test_sql = get_unit_test_sql(actual_sql, expected_sql, expected_column_names_quoted) %}

  {% call statement('main', fetch_result=True) -%}

    {% if sql_header %}{{ sql_header }}{% endif %}
    {{ unit_test_sql }}

  {%- endcall %}

  {% do adapter.drop_relation(temp_relation) %}

  {{ return({'relations': relations}) }}

{%- endmaterialization -%}
