-- The register as loaded: one row per enterprise and record date (a change record or a
-- snapshot row). Renamed and typed only; history is built in int_microdata_enterprise_history.
with

source as (
    select * from {{ source('microdata', 'enterprises') }}
),

final as (
    select
        credit_code,
        name as enterprise_name,
        area_code as county_code,
        industry_class,
        -- GB/T 4754-2017: the division is the section letter and the first two digits (C3670 -> C36).
        left(industry_class, 3) as division_code,
        above_scale,
        opened_on,
        closed_on,
        record_date,
        coalesce(basis, 'reported') as basis,
        {{ store_relative_path('source_file') }} as source_file
    from source
)

select * from final
