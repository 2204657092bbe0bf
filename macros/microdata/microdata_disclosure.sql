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

{#- Secondary suppression. The cells of a group add up to a published total (the purchases of
    a row, the flow of a direction, the province's output), so a lone cell withheld by the
    primary rule would be the total minus the others: the group's published cell with the
    smallest absolute value is withheld with it ('secondary'). Two or more withheld cells
    protect each other. `cells` has the group columns, `cell_column` (orders ties),
    `value_column` and `primary_reason`; the result adds `suppression_reason` (the primary
    reason, 'secondary' or NULL). Feed only groups whose total is published: where the total is
    withheld, subtraction reveals nothing. -#}
{% macro disclosure_secondary(cells, group_columns, cell_column, value_column) -%}
    {%- set groups = group_columns | join(', ') -%}
    {%- set publishable = 'primary_reason is null and ' ~ value_column ~ ' is not null' -%}
    select
        *,
        coalesce(
            primary_reason,
            case when n_primary_in_group = 1 and publishable_rank = 1 and {{ publishable }} then 'secondary' end
        ) as suppression_reason
    from (
        select
            *,
            count(primary_reason) over (partition by {{ groups }}) as n_primary_in_group,
            row_number() over (
                partition by {{ groups }}
                order by case when {{ publishable }} then 0 else 1 end, abs({{ value_column }}) asc, {{ cell_column }} asc
            ) as publishable_rank
        from {{ cells }}
    ) as ranked
{%- endmacro %}

{#- The panel constraints of cells the enterprise microdata supply that disclosure control
    withholds (int_microdata_sector_output.disclosure_reason): constraint_id as
    int_panel_constraints names them, and the reason. The audit marts that show a constraint's
    value (audit_panel_constraints, audit_panel_cross_validation) blank it by this list. -#}
{% macro withheld_microdata_constraints() -%}
    select
        'microdata:' || area_code || ':' || sector_code || ':' || year as constraint_id,
        'withheld by disclosure control of the enterprise microdata: ' || disclosure_reason as reason
    from {{ ref('int_microdata_sector_output') }}
    where disclosure_reason is not null
{%- endmacro %}
