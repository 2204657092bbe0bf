{#- Generic tests written here because the dbt package hub cannot be reached.
    Each returns the offending rows, so a failure shows what is wrong. -#}

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
