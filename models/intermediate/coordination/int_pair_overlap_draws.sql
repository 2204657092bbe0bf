-- One row per draw (0 = the fitted panel) x unordered pair of distinct members (area_code_a < area_code_b, so an
-- area is never paired with itself) x division x year, against the eight-area cluster (int_specialization_draws):
-- duplicated when both areas are specialised (LQ >= 1), complementary when exactly one is, neither when none is,
-- undetermined when either side's specialisation is unknown (NULL).

with

specialization as (
    select * from {{ ref('int_specialization_draws') }}
    where reference = 'cluster8'
),

final as (
    select
        a.draw_id,
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
        greatest(a.estimated_input_share, b.estimated_input_share) as estimated_input_share,
        a.has_synthetic_input or b.has_synthetic_input as has_synthetic_input
    from specialization as a
    inner join specialization as b
        on a.draw_id = b.draw_id
            and a.sector_code = b.sector_code
            and a.year = b.year
            and a.area_code < b.area_code
)

select * from final
