-- Dated, non-classification figures ranked within their key
-- (area x metric x subject x year) by the best-value rule:
--   1. source reliability (high > medium > low), where an exact figure that lies within the
--      rounding of a more reliable rounded figure of its key takes that figure's reliability
--      (the rounded one confirms it, the exact one is more precise: Zhejiang 2020, 64613
--      against "6.5万亿"). A rounded figure's rounding is half a unit of its last non-zero
--      digit (65000 -> 500);
--   2. a final verification before a release of unstated stage before an initial release
--      (release_stage, int_reported_figures_checked; Chongqing 2016: 17741 of the national
--      series over the bulletin's initial 17558.76);
--   3. an exact value before a rounded one, a rounded one before a lower bound or target;
--   4. the lowest figure_id, so the choice is deterministic.
-- The figure's year is part of the key, so "recency" only enters through the release stage.

with

figures as (
    select * from {{ ref('int_reported_figures_checked') }}
    where rejection_reason is null
        and year is not null
        and measure_kind <> 'code'
),

digits as (
    select {{ integer_series(0, 12) }} as digit_place
),

rounding as (
    -- Half a unit of the last non-zero digit of each rounded value, in the base unit.
    select
        figures.figure_id,
        0.5 * power(10, max(digits.digit_place)) * figures.factor_to_base as rounding_half_unit_base
    from figures
    inner join digits
        on figures.value_original = round(figures.value_original / power(10, digits.digit_place))
            * power(10, digits.digit_place)
    where figures.value_qualifier = 'rounded'
    group by figures.figure_id, figures.factor_to_base
),

confirmed as (
    -- The most reliable rounded figure of the key that each exact figure lies within.
    select
        exact.figure_id,
        max(rounded.reliability_rank) as confirmed_reliability_rank
    from figures as exact
    inner join figures as rounded
        on exact.area_code = rounded.area_code
            and exact.metric_code = rounded.metric_code
            and coalesce(exact.subject, '') = coalesce(rounded.subject, '')
            and exact.year = rounded.year
    inner join rounding on rounded.figure_id = rounding.figure_id
    where exact.value_qualifier = 'exact'
        and abs(exact.value_base - rounded.value_base) <= rounding.rounding_half_unit_base
    group by exact.figure_id
),

ranked as (
    select
        figures.*,
        greatest(figures.reliability_rank, coalesce(confirmed.confirmed_reliability_rank, 0))
            as effective_reliability_rank,
        row_number() over (
            partition by figures.area_code, figures.metric_code, coalesce(figures.subject, ''), figures.year
            order by
                greatest(figures.reliability_rank, coalesce(confirmed.confirmed_reliability_rank, 0)) desc,
                case figures.release_stage when 'final_verification' then 0 when 'not_stated' then 1 else 2 end,
                case figures.value_qualifier when 'exact' then 0 when 'rounded' then 1 else 2 end,
                figures.figure_id asc
        ) as rank_in_key,
        count(*) over (
            partition by figures.area_code, figures.metric_code, coalesce(figures.subject, ''), figures.year
        ) as n_competing_figures
    from figures
    left join confirmed on figures.figure_id = confirmed.figure_id
)

select * from ranked
