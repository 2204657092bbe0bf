-- One row per reference x member area x division x year: the location quotient and its flags of the fitted panel
-- (draw 0 of int_specialization_draws, which defines them), with
--   * lq_null_reason where a zero or missing denominator leaves the LQ NULL (never an error);
--   * specialisation_null_reason for a cell whose estimate carries no area-specific information (its share equals
--     the reference's by construction);
--   * intervals: over the Monte Carlo draws 1..n, the LQ's 90 % interval and the share of draws in which each flag
--     holds; a flag is robust when it holds in at least var robust_flag_share of the draws (0.9), and only robust
--     flags are findings.

with

specialization as (
    select * from {{ ref('int_specialization_draws') }}
),

areas as (
    select * from {{ ref('stg_reference__areas') }}
),

fitted as (
    select
        *,
        case
            when indistinct_reason is not null then indistinct_reason
            when output_value_yuan is null then 'no output value for the cell'
            when area_total_yuan = 0 then 'the area has no output in the year'
            when reference_share = 0 then 'the division has no output in the reference'
            -- A member's cell supplied (user figure, microdata) in a division the panel
            -- otherwise leaves NULL (C39): the reference's total is unknown.
            when reference_share is null then 'the division''s output in the reference is unknown (a cell is NULL)'
        end as lq_null_reason
    from specialization
    where draw_id = 0
),

draws as (
    select
        reference,
        area_code,
        sector_code,
        year,
        {{ continuous_quantile('location_quotient', 0.05) }} as lq_p5,
        {{ continuous_quantile('location_quotient', 0.50) }} as lq_p50,
        {{ continuous_quantile('location_quotient', 0.95) }} as lq_p95,
        avg(cast(is_specialised as int)) as share_of_draws_specialised,
        avg(cast(is_strong_cluster as int)) as share_of_draws_strong_cluster
    from specialization
    where draw_id > 0
    group by all
),

final as (
    select
        fitted.reference,
        fitted.area_code,
        areas.admin_level,
        fitted.sector_code,
        fitted.year,
        fitted.output_value_yuan,
        fitted.area_share,
        fitted.reference_share,
        fitted.location_quotient,
        fitted.lq_null_reason,
        fitted.is_specialised,
        case
            when fitted.location_quotient is not null and not fitted.is_area_specific
                then 'no figure or claim distinguishes this area in this division '
                    || '(its share is the prior mix of its province)'
        end as specialisation_null_reason,
        fitted.lq_p75,
        fitted.output_p25,
        fitted.is_strong_cluster,
        fitted.estimated_input_share,
        {{ basis_from_inputs('fitted.estimated_input_share', 'fitted.has_synthetic_input') }} as basis,
        -- No interval for an LQ that does not exist.
        case when fitted.location_quotient is not null then draws.lq_p5 end as lq_p5,
        case when fitted.location_quotient is not null then draws.lq_p50 end as lq_p50,
        case when fitted.location_quotient is not null then draws.lq_p95 end as lq_p95,
        case when fitted.is_area_specific and fitted.location_quotient is not null
                then draws.share_of_draws_specialised
        end as share_of_draws_specialised,
        case when fitted.is_area_specific and fitted.location_quotient is not null
                then draws.share_of_draws_strong_cluster
        end as share_of_draws_strong_cluster,
        case
            when fitted.is_area_specific and fitted.location_quotient is not null
                then draws.share_of_draws_specialised >= {{ var('robust_flag_share') }}
        end as is_robust_specialised,
        case
            when fitted.is_area_specific and fitted.location_quotient is not null
                then draws.share_of_draws_strong_cluster >= {{ var('robust_flag_share') }}
        end as is_robust_strong_cluster
    from fitted
    inner join areas on fitted.area_code = areas.area_code
    left join draws
        on fitted.reference = draws.reference
            and fitted.area_code = draws.area_code
            and fitted.sector_code = draws.sector_code
            and fitted.year = draws.year
)

select * from final
