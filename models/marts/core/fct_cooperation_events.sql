select
    event_id,
    event_date,
    date_precision,
    event_en,
    participants_text,
    {{ list_length('participant_area_codes') }} as n_participant_areas,
    {{ list_to_string('participant_area_codes', ';') }} as participant_area_codes,
    source_id,
    'reported' as basis
from {{ ref('stg_reference__cooperation_events') }}
