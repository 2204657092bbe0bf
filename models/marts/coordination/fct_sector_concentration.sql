-- One row per division x year, over the eight member areas: the spatial HHI, Hoover coefficient and locational Gini
-- of the fitted panel (draw 0 of int_concentration_draws, which defines them), with the 90 % intervals of HHI and
-- Hoover over the Monte Carlo draws 1..n. (The Gini ranks LQs within each draw; its interval is not published.)

with

concentration as (
    select * from {{ ref('int_concentration_draws') }}
),

fitted as (
    select * from concentration
    where draw_id = 0
),

intervals as (
    select
        sector_code,
        year,
        {{ continuous_quantile('hhi', 0.05) }} as hhi_p5,
        {{ continuous_quantile('hhi', 0.95) }} as hhi_p95,
        {{ continuous_quantile('hoover_coefficient', 0.05) }} as hoover_p5,
        {{ continuous_quantile('hoover_coefficient', 0.95) }} as hoover_p95
    from concentration
    where draw_id > 0
    group by sector_code, year
),

final as (
    select
        fitted.sector_code,
        fitted.year,
        fitted.n_areas,
        fitted.sector_output_yuan,
        fitted.hhi,
        fitted.hhi_normalised,
        fitted.hoover_coefficient,
        fitted.locational_gini,
        fitted.null_reason,
        fitted.estimated_input_share,
        {{ basis_from_inputs('fitted.estimated_input_share', 'fitted.has_synthetic_input') }} as basis,
        -- Divisions no source tells apart are NULL in every draw (int_concentration_draws): so is their interval.
        intervals.hhi_p5,
        intervals.hhi_p95,
        case when fitted.hoover_coefficient is not null then intervals.hoover_p5 end as hoover_p5,
        case when fitted.hoover_coefficient is not null then intervals.hoover_p95 end as hoover_p95
    from fitted
    left join intervals on fitted.sector_code = intervals.sector_code and fitted.year = intervals.year
)

select * from final
