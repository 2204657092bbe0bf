select
    event_id,
    event_date,
    date_precision,
    event_en,
    participants_text,
    -- Area codes separated by ';' in the seed; empty when no area took part as such.
    coalesce(string_split(nullif(participant_area_codes, ''), ';'), []) as participant_area_codes,
    source_id
from {{ ref('cooperation_events') }}
