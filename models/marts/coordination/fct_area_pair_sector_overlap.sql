-- One row per unordered pair of distinct member areas (area_code_a < area_code_b) x division x year, against the
-- eight-area cluster: the overlap of the fitted panel (draw 0 of int_pair_overlap_draws, which defines the classes)
-- and, where it is determined, the share of the Monte Carlo draws 1..n (over those in which it is determined) in
-- which the division is duplicated or complementary: whether the reading is robust.

with

overlap as (
    select * from {{ ref('int_pair_overlap_draws') }}
),

areas as (
    select * from {{ ref('stg_reference__areas') }}
),

fitted as (
    select * from overlap
    where draw_id = 0
),

draws as (
    select
        area_code_a,
        area_code_b,
        sector_code,
        year,
        avg(case when overlap <> 'undetermined' then cast(overlap = 'duplicated' as int) end)
            as share_of_draws_duplicated,
        avg(case when overlap <> 'undetermined' then cast(overlap = 'complementary' as int) end)
            as share_of_draws_complementary
    from overlap
    where draw_id > 0
    group by all
),

final as (
    select
        fitted.area_code_a,
        fitted.area_code_b,
        fitted.sector_code,
        fitted.year,
        fitted.location_quotient_a,
        fitted.location_quotient_b,
        fitted.overlap,
        area_a.admin_level <> area_b.admin_level as is_cross_level,
        fitted.estimated_input_share,
        {{ basis_from_inputs('fitted.estimated_input_share', 'fitted.has_synthetic_input') }} as basis,
        case when fitted.overlap <> 'undetermined' then draws.share_of_draws_duplicated end
            as share_of_draws_duplicated,
        case when fitted.overlap <> 'undetermined' then draws.share_of_draws_complementary end
            as share_of_draws_complementary
    from fitted
    inner join areas as area_a on fitted.area_code_a = area_a.area_code
    inner join areas as area_b on fitted.area_code_b = area_b.area_code
    left join draws
        on fitted.area_code_a = draws.area_code_a
            and fitted.area_code_b = draws.area_code_b
            and fitted.sector_code = draws.sector_code
            and fitted.year = draws.year
)

select * from final
