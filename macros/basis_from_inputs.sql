{#- The basis of a measure built on several inputs: synthetic if any input is synthetic
    test data, else estimated if any input value is estimated, else reported. -#}
{% macro basis_from_inputs(estimated_share, has_synthetic) -%}
    case
        when {{ has_synthetic }} then 'synthetic'
        when {{ estimated_share }} > 0 then 'estimated'
        else 'reported'
    end
{%- endmacro %}
