-- One row per figure that bears on the sector-output panel, and per cell the user
-- supplied: the constraint it puts on the fit and how the fitted panel meets it.
--   target, prior_value, fitted_value: in the figure's terms (yuan for a level, a rate
--   for growth, a share); residual = fitted - target; normalised_residual is relative to
--   the target for levels and in rate units otherwise; is_met compares it with the
--   tolerance (a '>=' or '<=' row only on its binding side).
--   status: 'fitted', 'not evaluable: ...' (it names cells without a prior, e.g. C39) or
--   'not fitted: ...' (a target, an industry scale no sum of divisions matches, a figure
--   that is not the best value of its key, a year outside the panel).
-- A cell the enterprise microdata supply is a constraint too; when disclosure control withholds
-- it (int_microdata_sector_output.disclosure_reason) its value, target and fitted value are NULL
-- here as in fct_sector_output, and the status says why.
-- Tests: assert_hard_panel_constraints_met (error) and warn_soft_panel_constraints_not_met
-- (warning).

with

constraints as (
    select * from {{ ref('int_panel_constraints') }}
),

audit as (
    select * from {{ ref('int_panel_fit_audit') }}
),

withheld as (
    {{ withheld_microdata_constraints() }}
),

final as (
    select
        constraints.constraint_id,
        constraints.figure_id,
        constraints.origin,
        constraints.area_code,
        constraints.metric_code,
        constraints.scope,
        constraints.year,
        constraints.base_year,
        {{ list_to_string('constraints.sector_codes', ';') }} as sector_codes,
        constraints.kind,
        constraints.sense,
        constraints.is_hard,
        case when withheld.reason is null then constraints.value_original end as value_original,
        constraints.unit_original,
        constraints.value_qualifier,
        case when withheld.reason is null then constraints.target end as target,
        audit.prior_value,
        case when withheld.reason is null then audit.fitted_value end as fitted_value,
        case when withheld.reason is null then audit.residual end as residual,
        case when withheld.reason is null then audit.normalised_residual end as normalised_residual,
        constraints.tolerance,
        audit.is_met,
        audit.is_binding,
        coalesce(withheld.reason, constraints.exclusion, audit.status) as status,
        constraints.note
    from constraints
    left join audit on constraints.constraint_id = audit.constraint_id
    left join withheld on constraints.constraint_id = withheld.constraint_id
)

select * from final
