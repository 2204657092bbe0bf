{#- Disclosure control of the microdata marts (docs/microdata_layout.md, "Disclosure control").
    disclosure_cells: one row per cell of `contributions` (a CTE with the cell columns,
    `enterprise_id` and `contribution`, any number of rows per enterprise and cell) with the
    number of contributing enterprises and the absolute contributions of all of them and of the
    largest two (absolute: net flows and derived monthly output can be negative). -#}
{% macro disclosure_cells(contributions, cell_columns) -%}
    {%- set cells = cell_columns | join(', ') -%}
    select
        {{ cells }},
        count(*) as n_enterprises,
        sum(abs_contribution) as total_abs_yuan,
        sum(abs_contribution) filter (where contribution_rank <= 2) as top2_abs_yuan
    from (
        select
            per_enterprise.*,
            row_number() over (
                partition by {{ cells }} order by abs_contribution desc, enterprise_id asc
            ) as contribution_rank
        from (
            select
                {{ cells }},
                enterprise_id,
                abs(sum(contribution)) as abs_contribution
            from {{ contributions }}
            group by {{ cells }}, enterprise_id
        ) as per_enterprise
    ) as ranked
    group by {{ cells }}
{%- endmacro %}

{#- The primary suppression rule: 'too_few_enterprises' below var disclosure_min_enterprises
    (threshold rule), 'dominated' when the largest two hold more than
    var disclosure_dominance_top2_share of the cell ((2, k) dominance rule), NULL when the cell
    may be published. A cell with no contributions (NULL count) has too few. -#}
{% macro disclosure_reason(n_enterprises, top2_abs, total_abs) -%}
    case
        when coalesce({{ n_enterprises }}, 0) < {{ var('disclosure_min_enterprises') }} then 'too_few_enterprises'
        when {{ top2_abs }} > {{ var('disclosure_dominance_top2_share') }} * {{ total_abs }} then 'dominated'
    end
{%- endmacro %}
