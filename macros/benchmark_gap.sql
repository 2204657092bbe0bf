{#- Growth of one side of fct_benchmark_gap from the previous year: nominal within a vintage, the
    reported real rate across a series break when the other side has one too, else NULL. Used
    inside the window `w` of the links CTE. -#}
{% macro gap_link_growth(value, own_real_growth, other_real_growth) %}
    case
        when lag(year) over w is null then null
        when lag(series_vintage) over w = series_vintage then {{ value }} / nullif(lag({{ value }}) over w, 0) - 1
        when {{ other_real_growth }} is not null then {{ own_real_growth }}
    end
{% endmacro %}

{#- CAGR since the first year of one side: NULL when its links mix real and nominal growth; from
    the levels within one vintage; chained from the yearly links (exp of the summed logs) across a
    break when every link exists. Rounded to 12 decimals: exp, ln and pow differ in the last bits
    between DuckDB and Spark. -#}
{% macro gap_cagr_since_start(value, start_value, log_links) %}
    case
        when n_real_links > 0 and n_real_links < n_links then null
        when year > start_year and not break_since_start
            then round(pow({{ value }} / {{ start_value }}, 1.0e0 / (year - start_year)) - 1, 12)
        when year > start_year and n_links = year - start_year
            then round(pow(round(exp({{ log_links }}), 12), 1.0e0 / (year - start_year)) - 1, 12)
    end
{% endmacro %}
