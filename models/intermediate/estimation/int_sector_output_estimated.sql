-- One row per area (the two provinces and the eight members) x GB/T 4754 division x
-- panel year: estimated gross output in yuan.
--   divisions of the provincial definition (all but C39):
--     member:   its equipment output x its sector shares, where the shares are its
--               province's baseline mix (prior baseline_sector_share) multiplied, for
--               every division the news report names a specialty of the area in, by
--               the multiplier of the strongest claim (prior specialty_multiplier),
--               then normalised to sum to 1;
--     province: the sum of its members plus the rest of the province (province total
--               minus members) split by the baseline mix, so it still reconciles to the
--               province total.
--   C39: NULL. No figure splits electronics by area, and the electronic-information
--        totals include software and services: no defensible prior (int_panel_prior_cells).
-- These estimates are the priors of the constrained fit (int_panel_fit_cells), not the
-- published panel.

with

equipment as (
    select * from {{ ref('int_area_equipment_output') }}
),

areas as (
    select * from {{ ref('stg_reference__areas') }}
),

sectors as (
    select * from {{ ref('stg_reference__sectors') }}
),

priors as (
    select * from {{ ref('stg_reference__estimation_priors') }}
),

claims as (
    select * from {{ ref('stg_reference__area_specialties') }}
),

baseline as (
    select
        area_code as province_code,
        sector_code,
        value as share,
        prior_id
    from priors
    where prior_kind = 'baseline_sector_share'
),

strongest_claim as (
    select
        claims.area_code,
        claims.sector_code,
        max(multiplier.value) as multiplier,
        {{ sorted_distinct_list(list_agg('claims.specialty_id')) }} as specialty_ids,
        {{ arg_max_value('multiplier.prior_id', 'multiplier.value') }} as prior_id
    from claims
    inner join priors as multiplier
        on multiplier.prior_kind = 'specialty_multiplier'
            and claims.claim_strength = multiplier.claim_strength
    group by claims.area_code, claims.sector_code
),

member_weights as (
    select
        areas.area_code,
        baseline.sector_code,
        baseline.share * coalesce(strongest_claim.multiplier, 1) as weight,
        {{ sorted_distinct_list(non_null_elements(list_of('baseline.prior_id', 'strongest_claim.prior_id'))) }}
            as prior_ids,
        coalesce(strongest_claim.specialty_ids, {{ empty_text_list() }}) as specialty_ids
    from areas
    inner join baseline on areas.province_code = baseline.province_code
    left join strongest_claim
        on areas.area_code = strongest_claim.area_code and baseline.sector_code = strongest_claim.sector_code
    where areas.cluster_role = 'member'
),

member_shares as (
    select
        *,
        weight / sum(weight) over (partition by area_code) as share
    from member_weights
),

member_sector as (
    select
        equipment.area_code,
        member_shares.sector_code,
        equipment.year,
        equipment.equipment_yuan * member_shares.share as output_value_yuan,
        'member_equipment_x_prior_mix_x_specialty_multiplier' as method,
        true as is_area_specific,
        equipment.figure_ids,
        {{ sorted_distinct_list(concat_lists('equipment.prior_ids', 'member_shares.prior_ids')) }} as prior_ids,
        member_shares.specialty_ids
    from equipment
    inner join member_shares on equipment.area_code = member_shares.area_code
),

members_by_province as (
    select
        areas.province_code,
        member_sector.sector_code,
        member_sector.year,
        sum(member_sector.output_value_yuan) as output_value_yuan
    from member_sector
    inner join areas on member_sector.area_code = areas.area_code
    group by all
),

rest_of_province as (
    select
        province.area_code,
        province.year,
        province.equipment_yuan - sum(member.equipment_yuan) as rest_yuan,
        {{ sorted_distinct_list(
            'flatten(' ~ concat_lists(list_agg('member.figure_ids'), list_of('province.figure_ids')) ~ ')'
        ) }} as figure_ids,
        {{ sorted_distinct_list(flatten_list_agg('member.prior_ids')) }} as prior_ids
    from equipment as province
    inner join areas on province.area_code = areas.province_code and areas.cluster_role = 'member'
    inner join equipment as member on areas.area_code = member.area_code and province.year = member.year
    group by province.area_code, province.year, province.equipment_yuan, province.figure_ids
),

province_sector as (
    select
        rest.area_code,
        baseline.sector_code,
        rest.year,
        rest.rest_yuan * baseline.share + coalesce(members.output_value_yuan, 0) as output_value_yuan,
        'members_plus_rest_of_province_x_prior_mix' as method,
        true as is_area_specific,
        rest.figure_ids,
        {{ sorted_distinct_list(append_to_list('rest.prior_ids', 'baseline.prior_id')) }} as prior_ids,
        cast({{ empty_text_list() }} as {{ text_list_type() }}) as specialty_ids
    from rest_of_province as rest
    inner join baseline on rest.area_code = baseline.province_code
    left join members_by_province as members
        on rest.area_code = members.province_code
            and baseline.sector_code = members.sector_code
            and rest.year = members.year
),

electronics_sector as (
    select
        equipment.area_code,
        sectors.sector_code,
        equipment.year,
        cast(null as double) as output_value_yuan,
        'no_prior' as method,
        false as is_area_specific,
        cast({{ empty_text_list() }} as {{ text_list_type() }}) as figure_ids,
        cast({{ empty_text_list() }} as {{ text_list_type() }}) as prior_ids,
        cast({{ empty_text_list() }} as {{ text_list_type() }}) as specialty_ids
    from equipment
    inner join sectors on not sectors.in_provincial_equipment_definition
),

final as (
    select * from member_sector
    union all
    select * from province_sector
    union all
    select * from electronics_sector
)

select * from final
