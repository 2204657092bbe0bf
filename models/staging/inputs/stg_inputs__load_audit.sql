-- One row per input file the build read (every seed and the user's file), as the input
-- reader recorded it.
select
    file,
    kind,
    size_bytes,
    sha256,
    row_count,
    loaded_at
from {{ source('inputs', 'load_audit') }}
