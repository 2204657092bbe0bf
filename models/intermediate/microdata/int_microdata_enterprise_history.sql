-- The register's history as slowly changing dimension of type 2: one row per enterprise and
-- period in which its area, class and above-scale flag stayed the same. Rows that repeat the
-- state before them (a monthly register snapshot) are collapsed into one period. valid_to is
-- the first day the next state holds (exclusive); NULL for the current state.
with

register as (
    select * from {{ ref('stg_microdata__enterprises') }}
),

compared as (
    select
        *,
        lag(county_code) over by_date as previous_county_code,
        lag(industry_class) over by_date as previous_industry_class,
        lag(above_scale) over by_date as previous_above_scale,
        row_number() over by_date as record_number
    from register
    window by_date as (
        partition by credit_code
        order by record_date
    )
),

changes as (
    select *
    from compared
    where record_number = 1
        or county_code is distinct from previous_county_code
        or industry_class is distinct from previous_industry_class
        or above_scale is distinct from previous_above_scale
),

latest as (
    -- Opening and closing dates are the enterprise's, not the period's: the latest record knows best.
    select
        credit_code,
        enterprise_name,
        opened_on,
        closed_on
    from register
    qualify row_number() over (
            partition by credit_code
            order by record_date desc
        ) = 1
),

final as (
    select
        changes.credit_code,
        latest.enterprise_name,
        changes.county_code,
        {{ microdata_area_column('area', 'area_code', "'rest_of_china'") }} as area_code,
        {{ microdata_area_column('area', 'area_group', "'rest_of_china'") }} as area_group,
        {{ microdata_area_column('area', 'province_code', 'null') }} as province_code,
        changes.industry_class,
        changes.division_code,
        changes.above_scale,
        changes.record_date as valid_from,
        lead(changes.record_date) over (
            partition by changes.credit_code
            order by changes.record_date
        ) as valid_to,
        latest.opened_on,
        latest.closed_on,
        changes.basis,
        changes.source_file
    from changes
    inner join latest on latest.credit_code = changes.credit_code
    {{ microdata_area_joins('changes.county_code', 'area') }}
)

select
    *,
    valid_to is null as is_current
from final
