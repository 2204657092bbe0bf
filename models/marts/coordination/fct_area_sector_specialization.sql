-- One row per reference x member area x division x year.
-- LQ = s[i,k] / s[R,k]. Decisions:
--   * a zero or missing denominator gives LQ NULL and lq_null_reason, never an error;
--   * LQ is compared with 1 after rounding to 9 decimals, so an LQ of exactly 1 (up to
--     floating-point noise) counts as specialised;
--   * a cell whose estimate carries no area-specific information (its share equals the
--     reference's by construction) gets is_specialised NULL with the reason;
--   * strong cluster (US Cluster Mapping rule): LQ >= the 75th percentile of the
--     division's LQs across the eight members (linear interpolation, percentile_cont),
--     LQ >= 1, and output above the division's 25th percentile across the members;
--   * intervals: the same LQ and flags on every Monte Carlo draw of the fitted panel
--     (int_specialization_draws) give the LQ's 90 % interval and the share of draws in
--     which each flag holds; a flag is robust when it holds in at least var
--     robust_flag_share of the draws (0.9), and only robust flags are findings.

with

shares as (
    select * from {{ ref('int_sector_shares') }}
),

areas as (
    select * from {{ ref('stg_reference__areas') }}
),

indistinct as (
    -- Divisions no source tells apart (issue 25): their LQs would be copies of each other.
    select * from {{ ref('int_indistinct_divisions') }}
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
    from {{ ref('int_specialization_draws') }}
    group by all
),

measured as (
    select
        shares.*,
        case when indistinct.sector_code is null then shares.area_share / nullif(shares.reference_share, 0) end
            as location_quotient,
        case
            when indistinct.sector_code is not null then indistinct.null_reason
            when shares.output_value_yuan is null then 'no output value for the cell'
            when shares.area_total_yuan = 0 then 'the area has no output in the year'
            when shares.reference_share = 0 then 'the division has no output in the reference'
            -- A member's cell supplied (user figure, microdata) in a division the panel
            -- otherwise leaves NULL (C39): the reference's total is unknown.
            when shares.reference_share is null
                then 'the division''s output in the reference is unknown (a cell is NULL)'
        end as lq_null_reason
    from shares
    left join indistinct on shares.sector_code = indistinct.sector_code
),

cut_offs as (
    select
        reference,
        sector_code,
        year,
        percentile_cont(0.75) within group (
            order by location_quotient
        ) as lq_p75,
        percentile_cont(0.25) within group (
            order by output_value_yuan
        ) as output_p25
    from measured
    group by all
),

final as (
    select
        measured.reference,
        measured.area_code,
        areas.admin_level,
        measured.sector_code,
        measured.year,
        measured.output_value_yuan,
        measured.area_share,
        measured.reference_share,
        measured.location_quotient,
        measured.lq_null_reason,
        case
            when measured.location_quotient is null or not measured.is_area_specific then null
            else round(measured.location_quotient, 9) >= 1
        end as is_specialised,
        case
            when measured.location_quotient is not null and not measured.is_area_specific
                then 'no figure or claim distinguishes this area in this division '
                    || '(its share is the prior mix of its province)'
        end as specialisation_null_reason,
        cut_offs.lq_p75,
        cut_offs.output_p25,
        case
            when measured.location_quotient is null or not measured.is_area_specific then null
            else round(measured.location_quotient, 9) >= round(cut_offs.lq_p75, 9)
                and round(measured.location_quotient, 9) >= 1
                and measured.output_value_yuan > cut_offs.output_p25
        end as is_strong_cluster,
        measured.estimated_input_share,
        {{ basis_from_inputs('measured.estimated_input_share', 'measured.has_synthetic_input') }} as basis,
        -- No interval for an LQ that does not exist.
        case when measured.location_quotient is not null then draws.lq_p5 end as lq_p5,
        case when measured.location_quotient is not null then draws.lq_p50 end as lq_p50,
        case when measured.location_quotient is not null then draws.lq_p95 end as lq_p95,
        case when measured.is_area_specific and measured.location_quotient is not null
                then draws.share_of_draws_specialised
        end as share_of_draws_specialised,
        case when measured.is_area_specific and measured.location_quotient is not null
                then draws.share_of_draws_strong_cluster
        end as share_of_draws_strong_cluster,
        case
            when measured.is_area_specific and measured.location_quotient is not null
                then draws.share_of_draws_specialised >= {{ var('robust_flag_share') }}
        end as is_robust_specialised,
        case
            when measured.is_area_specific and measured.location_quotient is not null
                then draws.share_of_draws_strong_cluster >= {{ var('robust_flag_share') }}
        end as is_robust_strong_cluster
    from measured
    inner join cut_offs
        on measured.reference = cut_offs.reference
            and measured.sector_code = cut_offs.sector_code
            and measured.year = cut_offs.year
    inner join areas on measured.area_code = areas.area_code
    left join draws
        on measured.reference = draws.reference
            and measured.area_code = draws.area_code
            and measured.sector_code = draws.sector_code
            and measured.year = draws.year
)

select * from final
