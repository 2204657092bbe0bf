select
    event_id,
    event_date,
    date_precision,
    event_en,
    participants_text,
    -- Area codes separated by ';' in the seed; empty when no area took part as such.
    {{ split_to_list('participant_area_codes', ';') }} as participant_area_codes,
    source_id
from {{ ref('cooperation_events') }}
