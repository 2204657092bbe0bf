-- One row per data line of the user's sector output CSV (`chengyu build --sector-output
-- PATH`), as the chengyu input reader checked and typed it. Without a file: no rows.
-- The value stays in its unit here; int_sector_output_supplied converts it to yuan.
select
    area_code,
    sector_code,
    year,
    value as value_original,
    unit as unit_original,
    measure,
    source,
    -- reported (the default) or synthetic (generated test data).
    coalesce(basis, 'reported') as basis,
    -- all (the default: every enterprise) or above_scale (规模以上: a lower bound of the cell).
    coalesce(scope, 'all') as scope,
    line_number as supplied_line
from {{ source('inputs', 'user_sector_output') }}
