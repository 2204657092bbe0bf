-- One row per figure the constrained fit holds (audit_panel_constraints, status 'fitted', same
-- constraint_id): the figure left out and predicted from all the others
-- (int_panel_fit_cross_validation, docs/estimator.md 'Calibration'), the prediction's 50 % and
-- 90 % intervals and whether they hold the figure. The report prints the coverage by level.
-- A microdata cell withheld by disclosure control is left out: its interval would bound its value.

with

cross_validation as (
    select * from {{ ref('int_panel_fit_cross_validation') }}
),

withheld as (
    {{ withheld_microdata_constraints() }}
),

final as (
    select
        constraint_id,
        level,
        kind,
        sense,
        is_hard,
        reported_value,
        predicted_value,
        p5_value,
        p25_value,
        p75_value,
        p95_value,
        is_inside_50,
        is_inside_90,
        prediction_error
    from cross_validation
    where constraint_id not in (select withheld.constraint_id from withheld)
)

select * from final
