-- One row per panel unit (the eight members, the rest of each province): the standard
-- deviations of its own uncertainty components in the constrained fit, derived from the
-- 90 % ranges of seeds/estimation_priors.csv, sd = ln(high / low) / (2 x 1.645):
--   unit_level    for a member the root sum of squares of its relative-intensity prior
--                 (or, where the intensity comes from reported secondary-industry shares,
--                 relative_intensity_from_secondary_share) and its GDP-per-resident prior
--                 if its GDP uses one; for the rest of a province rest_of_province_level;
--   division_mix  a Dirichlet mix whose dispersion matches the baseline-share ranges:
--                 sd^2 = mean over divisions of rel_sd_k^2 s_k / (1 - s_k) (a share s with
--                 relative sd r has variance r^2 s^2 = sd^2 s (1 - s)); for a member the
--                 ranges of the multipliers of its specialty claims add their terms,
--                 divided by the number of divisions.

with

priors as (
    select
        *,
        ln(value_high / value_low) / (2 * 1.6448536269514722) as log_sd
    from {{ ref('stg_reference__estimation_priors') }}
),

equipment as (
    select * from {{ ref('int_area_equipment_output') }}
),

gdp as (
    select * from {{ ref('int_area_gdp_panel') }}
),

claims as (
    select * from {{ ref('stg_reference__area_specialties') }}
),

units as (
    select distinct
        panel_unit,
        area_code,
        province_code,
        unit_role
    from {{ ref('int_panel_prior_cells') }}
    where prior_yuan is not null
),

member_prior_ids as (
    -- The priors a member's equipment level rests on, in any panel year.
    select
        area_code,
        {{ distinct_list(flatten_list_agg('prior_ids')) }} as prior_ids
    from (
        select
            area_code,
            prior_ids
        from equipment
        union all
        select
            area_code,
            prior_ids
        from gdp
    )
    group by area_code
),

unit_level as (
    select
        units.panel_unit,
        case
            when units.unit_role = 'rest_of_province' then rest.log_sd
            else sqrt(
                    power(coalesce(max(intensity.log_sd), {{ any_non_null('from_share.log_sd') }}), 2)
                    + power(coalesce(max(per_resident.log_sd), 0), 2)
                )
        end as sd,
        case
            when units.unit_role = 'rest_of_province' then rest.prior_id
            else coalesce(max(intensity.prior_id), {{ any_non_null('from_share.prior_id') }})
                || coalesce(';' || max(per_resident.prior_id), '')
        end as prior_ids
    from units
    left join member_prior_ids on units.area_code = member_prior_ids.area_code
    left join priors as intensity
        on intensity.prior_kind = 'relative_industrial_intensity'
            and {{ list_has('member_prior_ids.prior_ids', 'intensity.prior_id') }}
    left join priors as per_resident
        on per_resident.prior_kind = 'relative_gdp_per_resident'
            and {{ list_has('member_prior_ids.prior_ids', 'per_resident.prior_id') }}
    left join priors as from_share on from_share.prior_kind = 'relative_intensity_from_secondary_share'
    left join priors as rest
        on rest.prior_kind = 'rest_of_province_level' and units.province_code = rest.area_code
    group by units.panel_unit, units.unit_role, rest.log_sd, rest.prior_id
),

baseline_dispersion as (
    select
        area_code as province_code,
        avg(power(log_sd, 2) * value / (1 - value)) as variance,
        count(*) as n_divisions,
        {{ ordered_string_agg('prior_id', "';'", 'prior_id') }} as prior_ids
    from priors
    where prior_kind = 'baseline_sector_share'
    group by area_code
),

claim_dispersion as (
    -- The strongest claim per member x division, as in int_sector_output_estimated.
    select
        claims.area_code,
        claims.sector_code,
        {{ arg_max_value('multiplier.log_sd', 'multiplier.value') }} as log_sd,
        {{ arg_max_value('multiplier.prior_id', 'multiplier.value') }} as prior_id
    from claims
    inner join priors as multiplier
        on multiplier.prior_kind = 'specialty_multiplier'
            and claims.claim_strength = multiplier.claim_strength
    group by claims.area_code, claims.sector_code
),

mix_dispersion as (
    select
        units.panel_unit,
        sqrt(
            baseline_dispersion.variance
            + coalesce(sum(power(claim_dispersion.log_sd, 2) * baseline.value / (1 - baseline.value)), 0)
            / baseline_dispersion.n_divisions
        ) as sd,
        baseline_dispersion.prior_ids
        || coalesce(';' || {{ sorted_distinct_string_agg('claim_dispersion.prior_id', "';'") }}, '') as prior_ids
    from units
    inner join baseline_dispersion on units.province_code = baseline_dispersion.province_code
    left join claim_dispersion on units.area_code = claim_dispersion.area_code and units.unit_role = 'member'
    left join priors as baseline
        on baseline.prior_kind = 'baseline_sector_share'
            and units.province_code = baseline.area_code
            and claim_dispersion.sector_code = baseline.sector_code
    group by
        units.panel_unit, baseline_dispersion.variance, baseline_dispersion.n_divisions,
        baseline_dispersion.prior_ids
),

final as (
    select
        units.panel_unit,
        units.province_code,
        unit_level.sd as unit_level_sd,
        unit_level.prior_ids as unit_level_prior_ids,
        mix_dispersion.sd as division_mix_sd,
        mix_dispersion.prior_ids as division_mix_prior_ids
    from units
    inner join unit_level on units.panel_unit = unit_level.panel_unit
    inner join mix_dispersion on units.panel_unit = mix_dispersion.panel_unit
)

select * from final
