-- One row per figure that bears on the sector-output panel, and per cell the user
-- supplied: the constraint it puts on the fit and how the fitted panel meets it.
--   target, prior_value, fitted_value: in the figure's terms (yuan for a level, a rate
--   for growth, a share); residual = fitted - target; normalised_residual is relative to
--   the target for levels and in rate units otherwise; is_met compares it with the
--   tolerance (a '>=' or '<=' row only on its binding side).
--   status: 'fitted', 'not evaluable: ...' (it names cells without a prior, e.g. C39) or
--   'not fitted: ...' (a target, an industry scale no sum of divisions matches, a figure
--   that is not the best value of its key, a year outside the panel).
-- Tests: assert_hard_panel_constraints_met (error) and warn_soft_panel_constraints_not_met
-- (warning).

with

constraints as (
    select * from {{ ref('int_panel_constraints') }}
),

audit as (
    select * from {{ ref('int_panel_fit_audit') }}
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
        constraints.value_original,
        constraints.unit_original,
        constraints.value_qualifier,
        constraints.target,
        audit.prior_value,
        audit.fitted_value,
        audit.residual,
        audit.normalised_residual,
        constraints.tolerance,
        audit.is_met,
        audit.is_binding,
        coalesce(constraints.exclusion, audit.status) as status,
        constraints.note
    from constraints
    left join audit on constraints.constraint_id = audit.constraint_id
)

select * from final
