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
--   C39: the area's equipment output x the ratio of the two provinces' reported
--        electronic-information output to their reported narrow-equipment plus
--        automobile output in the same year (prior electronics_to_c39 scales it).

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

best_figures as (
    select * from {{ ref('int_indicator_candidates') }}
    where rank_in_key = 1
        and subject is null
        and area_code = '{{ var("two_province_area_code") }}'
        and quantity = 'gross_output'
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
        list_sort(list_distinct(list(claims.specialty_id))) as specialty_ids,
        arg_max(multiplier.prior_id, multiplier.value) as prior_id
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
        list_sort(list_distinct(list_filter([baseline.prior_id, strongest_claim.prior_id], p -> p is not null)))
            as prior_ids,
        coalesce(strongest_claim.specialty_ids, []) as specialty_ids
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
        list_sort(list_distinct(list_concat(equipment.prior_ids, member_shares.prior_ids))) as prior_ids,
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
        list_sort(list_distinct(flatten(list(member.figure_ids) || [province.figure_ids]))) as figure_ids,
        list_sort(list_distinct(flatten(list(member.prior_ids)))) as prior_ids
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
        list_sort(list_distinct(list_append(rest.prior_ids, baseline.prior_id))) as prior_ids,
        cast([] as varchar []) as specialty_ids
    from rest_of_province as rest
    inner join baseline on rest.area_code = baseline.province_code
    left join members_by_province as members
        on rest.area_code = members.province_code
            and baseline.sector_code = members.sector_code
            and rest.year = members.year
),

electronics_scale as (
    select * from priors
    where prior_kind = 'electronics_to_c39'
),

electronics_ratio as (
    select
        electronics.value_base / (narrow.value_base + auto.value_base) * scale.value as ratio,
        [electronics.figure_id, narrow.figure_id, auto.figure_id] as figure_ids,
        scale.prior_id
    from best_figures as electronics
    inner join best_figures as narrow
        on electronics.year = narrow.year and narrow.scope = 'equipment_narrow'
    inner join best_figures as auto
        on electronics.year = auto.year and auto.scope = 'automotive'
    cross join electronics_scale as scale
    where electronics.scope = 'electronics'
    qualify row_number() over (
            order by electronics.year desc
        ) = 1
),

electronics_sector as (
    select
        equipment.area_code,
        sectors.sector_code,
        equipment.year,
        equipment.equipment_yuan * electronics_ratio.ratio as output_value_yuan,
        'equipment_x_reported_electronics_ratio' as method,
        -- The same ratio for every area: the cell's share of its area equals the
        -- reference's by construction and says nothing about specialisation.
        false as is_area_specific,
        list_sort(list_distinct(list_concat(equipment.figure_ids, electronics_ratio.figure_ids))) as figure_ids,
        list_sort(list_append(equipment.prior_ids, electronics_ratio.prior_id)) as prior_ids,
        cast([] as varchar []) as specialty_ids
    from equipment
    cross join electronics_ratio
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
