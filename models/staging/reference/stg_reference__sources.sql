select
    source_id,
    source_text,
    source_kind,
    reliability,
    -- Used to pick one best value among competing figures (higher wins).
    case reliability when 'high' then 3 when 'medium' then 2 when 'low' then 1 else 0 end
        as reliability_rank
from {{ ref('sources') }}
