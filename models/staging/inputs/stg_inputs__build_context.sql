-- The identity of this build as `chengyu build` recorded it (one row), or no row for a
-- plain `dbt build` (a development build).
select
    build_id,
    code_version
from {{ source('inputs', 'build_context') }}
