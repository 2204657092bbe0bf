{#- Generic tests written here because the dbt package hub cannot be reached.
    Each returns the offending rows (column_rules: each failed rule and value), so a failure
    shows what is wrong. -#}

{% test non_negative(model, column_name) %}
select *
from {{ model }}
where {{ column_name }} < 0
{% endtest %}


{% test within_range(model, column_name, min_value=none, max_value=none) %}
select *
from {{ model }}
where
    {%- if min_value is not none %} {{ column_name }} < {{ min_value }}{% endif %}
    {%- if min_value is not none and max_value is not none %} or{% endif %}
    {%- if max_value is not none %} {{ column_name }} > {{ max_value }}{% endif %}
{% endtest %}


{% test unique_combination(model, combination_of_columns) %}
{#- NULL counts as a value of its own, as it does for a grain ("no subject"). -#}
select
    {% for column in combination_of_columns %}{{ column }}, {% endfor %}
    count(*) as n_rows
from {{ model }}
group by all
having count(*) > 1
{% endtest %}


{% test expression_is_true(model, expression) %}
select *
from {{ model }}
where not ({{ expression }})
{% endtest %}


{% test sums_to(model, column_name, total=1, tolerance=0.000000001) %}
{#- The column's values add up to `total` (a set of weights or shares). -#}
select sum({{ column_name }}) as column_sum
from {{ model }}
having abs(sum({{ column_name }}) - {{ total }}) > {{ tolerance }}
{% endtest %}


{% test classes_are_contiguous(model, lower_column, upper_column, first_lower, last_upper) %}
{#- Classes (lower, upper] cover [first_lower, last_upper] without gap or overlap:
    each class starts where the previous one ends. Returns the class that breaks it. -#}
with

ordered as (
    select
        {{ lower_column }} as lower_value,
        {{ upper_column }} as upper_value,
        lag({{ upper_column }}) over (order by {{ lower_column }}) as previous_upper,
        row_number() over (order by {{ lower_column }}) as class_number,
        count(*) over () as n_classes
    from {{ model }}
)

select *
from ordered
where (class_number = 1 and lower_value <> {{ first_lower }})
    or (class_number > 1 and lower_value <> previous_upper)
    or (class_number = n_classes and upper_value <> {{ last_upper }})
{% endtest %}


{% test column_rules(model, grain=[], unique=[], not_null=[], accepted_values={}, within_range={}, non_negative=[],
                     expressions=[], relationships={}) %}
{#- A model's grain and column checks in one query, so dbt runs one test node instead of one per
    column and rule (each node costs dbt 30-70 ms, most of a small test's time). Each rule fails
    on the same rows as the test it replaces: the grain (unique_combination: the columns together,
    NULL a value of its own), unique (one column, NULL ignored), not_null, accepted_values (NULL
    accepted, values compared as quoted text, numbers as numbers), within_range, non_negative,
    expression_is_true (NULL is not true) and relationships (NULL references nothing). One row per
    failed rule and offending value, with the number of rows that have it. A model's
    relationships go in a test of their own (column_rules_<model>_references): a test that refs a
    second model is skipped by a selection without it (cautious indirect selection) and no longer
    holds back the first model's children, so it must not carry the model's one-parent checks. -#}
{%- set checks = [] -%}
{%- for column in not_null -%}
    {%- do checks.append(('not_null(' ~ column ~ ')', column, column ~ ' is null')) -%}
{%- endfor -%}
{%- for column, values in accepted_values.items() -%}
    {%- set listed = [] -%}
    {#- Numbers stay numbers (an integer column against '1' would need a cast on Spark). -#}
    {%- for value in values -%}
        {%- do listed.append(value if value is number and value is not boolean
                             else "'" ~ (value | string | replace("'", "''")) ~ "'") -%}
    {%- endfor -%}
    {%- do checks.append(('accepted_values(' ~ column ~ ')', column, column ~ ' not in (' ~ listed | join(', ') ~ ')')) -%}
{%- endfor -%}
{%- for column, bounds in within_range.items() -%}
    {%- set outside = [] -%}
    {%- if bounds.get('min_value') is not none %}{% do outside.append(column ~ ' < ' ~ bounds.min_value) %}{% endif -%}
    {%- if bounds.get('max_value') is not none %}{% do outside.append(column ~ ' > ' ~ bounds.max_value) %}{% endif -%}
    {%- do checks.append(('within_range(' ~ column ~ ')', column, outside | join(' or '))) -%}
{%- endfor -%}
{%- for column in non_negative -%}
    {%- do checks.append(('non_negative(' ~ column ~ ')', column, column ~ ' < 0')) -%}
{%- endfor -%}
{%- for expression in expressions -%}
    {#- The rule's text as a string literal: its own quotes shown as double quotes. -#}
    {%- do checks.append(('expression_is_true: ' ~ expression | replace("'", '"') | replace('\n', ' '), none,
                          'not (' ~ expression ~ ')')) -%}
{%- endfor -%}
{%- for column, parent in relationships.items() -%}
    {%- do checks.append(('relationships(' ~ column ~ ' -> ' ~ parent.to.identifier ~ '.' ~ parent.field ~ ')', column,
                          column ~ ' is not null and ' ~ column ~ ' not in (select ' ~ parent.field ~ ' from '
                          ~ parent.to ~ ' where ' ~ parent.field ~ ' is not null)')) -%}
{%- endfor -%}
{#- One query branch per rule, (name, failing value as text, rows it reads, group by, having). The
    grain and unique columns: one row per repeated value, as unique_combination and dbt's unique
    return them (a grain's columns joined by ', '); every other rule: one row per failing value. -#}
{%- set text = dbt.type_string() -%}
{%- set branches = [] -%}
{%- if grain -%}
    {%- set shown = [] -%}
    {%- for column in grain -%}
        {%- do shown.append("coalesce(cast(" ~ column ~ " as " ~ text ~ "), 'NULL')") -%}
    {%- endfor -%}
    {%- do branches.append(('unique_combination(' ~ grain | join(', ') ~ ')',
                            "concat_ws(', ', " ~ shown | join(', ') ~ ")", 'true', grain | join(', '),
                            'having count(*) > 1')) -%}
{%- endif -%}
{%- for column in unique -%}
    {%- do branches.append(('unique(' ~ column ~ ')', 'cast(' ~ column ~ ' as ' ~ text ~ ')', column ~ ' is not null',
                            column, 'having count(*) > 1')) -%}
{%- endfor -%}
{%- for name, column, failing in checks -%}
    {%- do branches.append((name, 'cast(' ~ (column if column is not none else 'null') ~ ' as ' ~ text ~ ')',
                            failing, '1, 2', '')) -%}
{%- endfor -%}
{%- for name, shown, kept, group_by, having in branches %}
select
    '{{ name }}' as failed_check,
    {{ shown }} as failing_value,
    count(*) as n_rows
from {{ model }}
where {{ kept }}
group by {{ group_by }}
{{ having }}
{% if not loop.last %}union all{% endif %}
{%- endfor %}
{% endtest %}


{#- The relation a data test reads (dbt's get_where_subquery, overridden here for every test).
    As dbt's own: the `where` config. And a test of the microdata layer with meta
    `microdata_rebuilt_months: <date column>` reads the months from microdata_tests_since() on
    (`microdata_rebuilt_years: <year column>`: the whole years from its year on, for a test
    that compares the months of a year): the months the build rebuilt (earlier ones were
    tested by the build that made them, from the same store objects). That bound is read from the candidate at run time, which a `where`
    config cannot do (dbt renders it while parsing, from vars). -#}
{% macro default__get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- if config.get('where') -%}
        {%- do conditions.append(config.get('where')) -%}
    {%- endif -%}
    {%- set rebuilt = (config.get('meta') or {}).get('microdata_rebuilt_months') -%}
    {%- if rebuilt -%}
        {%- do conditions.append(rebuilt ~ ' >= ' ~ microdata_tests_since()) -%}
    {%- endif -%}
    {%- set rebuilt_years = (config.get('meta') or {}).get('microdata_rebuilt_years') -%}
    {%- if rebuilt_years -%}
        {%- do conditions.append(rebuilt_years ~ ' >= year(' ~ microdata_tests_since() ~ ')') -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ conditions | join(' and ') ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}
