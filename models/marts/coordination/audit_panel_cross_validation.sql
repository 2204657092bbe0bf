-- One row per figure the constrained fit holds (audit_panel_constraints, status 'fitted'):
-- the figure left out and predicted from all the others (int_panel_fit_cross_validation,
-- docs/estimator.md 'Calibration'), the prediction's 50 % and 90 % intervals and whether they
-- hold the figure. The report prints the coverage by level from these rows.

with

cross_validation as (
    select * from {{ ref('int_panel_fit_cross_validation') }}
),

constraints as (
    select * from {{ ref('int_panel_constraints') }}
),

final as (
    select
        cross_validation.constraint_id,
        constraints.figure_id,
        constraints.origin,
        constraints.area_code,
        constraints.year,
        cross_validation.level,
        cross_validation.kind,
        cross_validation.sense,
        cross_validation.is_hard,
        cross_validation.reported_value,
        cross_validation.predicted_value,
        cross_validation.p5_value,
        cross_validation.p25_value,
        cross_validation.p75_value,
        cross_validation.p95_value,
        cross_validation.is_inside_50,
        cross_validation.is_inside_90,
        cross_validation.prediction_error
    from cross_validation
    inner join constraints on cross_validation.constraint_id = constraints.constraint_id
)

select * from final
