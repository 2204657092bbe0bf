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
