-- Dated, non-classification figures ranked within their key
-- (area x metric x subject x year) by the best-value rule:
--   1. source reliability (high > medium > low);
--   2. an exact value before a rounded one, a rounded one before a lower bound or target;
--   3. the lowest figure_id, so the choice is deterministic.
-- Sources carry no publication date, so "recency" cannot be ranked honestly; the
-- figure's year is already part of the key.

with

figures as (
    select * from {{ ref('int_reported_figures_checked') }}
    where rejection_reason is null
        and year is not null
        and measure_kind <> 'code'
),

ranked as (
    select
        *,
        row_number() over (
            partition by area_code, metric_code, coalesce(subject, ''), year
            order by
                reliability_rank desc,
                case value_qualifier when 'exact' then 0 when 'rounded' then 1 else 2 end,
                figure_id asc
        ) as rank_in_key,
        count(*) over (
            partition by area_code, metric_code, coalesce(subject, ''), year
        ) as n_competing_figures
    from figures
)

select * from ranked
