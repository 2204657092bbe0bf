-- One row per unordered pair of distinct member areas (area_code_a < area_code_b) x
-- division x year, against the eight-area cluster: duplicated when both areas are
-- specialised (LQ >= 1), complementary when exactly one is, neither when none is,
-- undetermined when either side's specialisation is unknown (NULL). The share of Monte
-- Carlo draws of the fitted panel in which the division is duplicated or complementary
-- (int_pair_overlap_draws) says whether the reading is robust.

with

draws as (
    select * from {{ ref('int_pair_overlap_draws') }}
),

specialization as (
    select * from {{ ref('fct_area_sector_specialization') }}
    where reference = 'cluster8'
),

final as (
    select
        a.area_code as area_code_a,
        b.area_code as area_code_b,
        a.sector_code,
        a.year,
        a.location_quotient as location_quotient_a,
        b.location_quotient as location_quotient_b,
        case
            when a.is_specialised is null or b.is_specialised is null then 'undetermined'
            when a.is_specialised and b.is_specialised then 'duplicated'
            when a.is_specialised or b.is_specialised then 'complementary'
            else 'neither'
        end as overlap,
        a.admin_level <> b.admin_level as is_cross_level,
        greatest(a.estimated_input_share, b.estimated_input_share) as estimated_input_share,
        {{ basis_from_inputs('greatest(a.estimated_input_share, b.estimated_input_share)',
                             "a.basis = 'synthetic' or b.basis = 'synthetic'") }} as basis,
        case
            when a.is_specialised is not null and b.is_specialised is not null
                then draws.share_of_draws_duplicated
        end as share_of_draws_duplicated,
        case
            when a.is_specialised is not null and b.is_specialised is not null
                then draws.share_of_draws_complementary
        end as share_of_draws_complementary
    from specialization as a
    inner join specialization as b
        on a.sector_code = b.sector_code
            and a.year = b.year
            and a.area_code < b.area_code
    left join draws
        on a.area_code = draws.area_code_a
            and b.area_code = draws.area_code_b
            and a.sector_code = draws.sector_code
            and a.year = draws.year
)

select * from final
