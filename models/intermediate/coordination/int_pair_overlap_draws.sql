-- One row per unordered pair of members x division x year: the share of Monte Carlo
-- draws (int_specialization_draws, reference cluster8) in which the division is
-- duplicated (both areas specialised) or complementary (exactly one), over the draws in
-- which both flags are known.

with

flags as (
    select * from {{ ref('int_specialization_draws') }}
    where reference = 'cluster8'
),

final as (
    select
        a.area_code as area_code_a,
        b.area_code as area_code_b,
        a.sector_code,
        a.year,
        avg(cast(a.is_specialised and b.is_specialised as int)) as share_of_draws_duplicated,
        avg(cast(a.is_specialised != b.is_specialised as int)) as share_of_draws_complementary
    from flags as a
    inner join flags as b
        on a.draw_id = b.draw_id
            and a.sector_code = b.sector_code
            and a.year = b.year
            and a.area_code < b.area_code
    group by all
)

select * from final
