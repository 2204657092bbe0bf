{#- Map a credit code or county code to its area through int_microdata_area_map: a Chongqing
    member district by all six digits, a Sichuan member city by its first four, the rest of
    Sichuan or Chongqing by the first two, everything else the rest of China. `digits` is an
    expression giving the six-digit county code; `alias` names the three joins. -#}
{% macro microdata_area_joins(digits, alias) -%}
    left join {{ ref('int_microdata_area_map') }} as {{ alias }}_6
        on {{ alias }}_6.match_length = 6 and {{ alias }}_6.match_value = {{ digits }}
    left join {{ ref('int_microdata_area_map') }} as {{ alias }}_4
        on {{ alias }}_4.match_length = 4 and {{ alias }}_4.match_value = left({{ digits }}, 4)
    left join {{ ref('int_microdata_area_map') }} as {{ alias }}_2
        on {{ alias }}_2.match_length = 2 and {{ alias }}_2.match_value = left({{ digits }}, 2)
{%- endmacro %}

{% macro microdata_area_column(alias, column, default) -%}
    coalesce({{ alias }}_6.{{ column }}, {{ alias }}_4.{{ column }}, {{ alias }}_2.{{ column }}
        {%- if default is not none %}, {{ default }}{% endif %})
{%- endmacro %}
