-- One row per panel year: coupling coordination between the Sichuan (U1) and
-- Chongqing (U2) equipment subsystems.
--   U = sum_j w_j x'_j                     (int_coupling_indicators)
--   C classic   = 2 sqrt(U1 U2) / (U1 + U2)
--   C corrected = sqrt((1 - |U1 - U2|) * min(U1, U2) / max(U1, U2))   (王淑佳 et al. 2021,
--                 two subsystems: it also falls when the scores are far apart)
--   T = a U1 + b U2 (subsystem weights, seeds/coupling_subsystems.csv); D = sqrt(C T)
-- The class follows D in steps of 0.1 (seeds/coordination_classes.csv, lower < D <= upper).

with

indicators as (
    select * from {{ ref('int_coupling_indicators') }}
),

subsystems as (
    select * from {{ ref('stg_reference__coupling_subsystems') }}
),

classes as (
    select * from {{ ref('stg_reference__coordination_classes') }}
),

scores as (
    select
        year,
        sum(normalised_value * weight) filter (where subsystem = 'U1') as u1,
        sum(normalised_value * weight) filter (where subsystem = 'U2') as u2,
        -- Value-weighted, as in every mart (col_estimated_input_share): the share of the
        -- year's weighted score that rests on an estimated value, or on an estimated
        -- series maximum it is divided by.
        sum(weight * normalised_value * cast(raw_is_estimated or coalesce(max_is_estimated, false) as int))
        / nullif(sum(weight * normalised_value), 0) as estimated_input_share,
        coalesce(bool_or(crosses_vintage_break), false) as crosses_vintage_break
    from indicators
    group by year
),

weights as (
    select
        max(weight) filter (where subsystem = 'U1') as alpha,
        max(weight) filter (where subsystem = 'U2') as beta
    from subsystems
),

coupled as (
    select
        scores.year,
        scores.u1,
        scores.u2,
        2 * sqrt(scores.u1 * scores.u2) / nullif(scores.u1 + scores.u2, 0) as coupling_classic,
        sqrt(
            (1 - abs(scores.u1 - scores.u2)) * least(scores.u1, scores.u2)
            / nullif(greatest(scores.u1, scores.u2), 0)
        ) as coupling_corrected,
        weights.alpha * scores.u1 + weights.beta * scores.u2 as development_index,
        scores.estimated_input_share,
        scores.crosses_vintage_break
    from scores
    cross join weights
),

final as (
    select
        coupled.year,
        coupled.u1 as u1_sichuan,
        coupled.u2 as u2_chongqing,
        coupled.coupling_classic,
        coupled.coupling_corrected,
        coupled.development_index,
        sqrt(coupled.coupling_classic * coupled.development_index) as coordination_degree_classic,
        sqrt(coupled.coupling_corrected * coupled.development_index) as coordination_degree_corrected,
        classic_class.class_en as class_classic_en,
        classic_class.class_zh as class_classic_zh,
        corrected_class.class_en as class_corrected_en,
        corrected_class.class_zh as class_corrected_zh,
        case when coupled.u1 + coupled.u2 = 0 then 'both subsystem scores are zero' end as null_reason,
        coupled.estimated_input_share,
        case when coupled.estimated_input_share > 0 then 'estimated' else 'reported' end as basis,
        coupled.crosses_vintage_break,
        case
            when coupled.crosses_vintage_break
                then 'gdp_index divides GDP on the 2018 census base by the pre-revision GDP of the first panel year'
                    || ' (a level break: Chongqing 2018 +6.0 %); no reported 2019 real growth of both provinces'
                    || ' chains it, so U1, U2 and D are flagged, not corrected (col_series_vintage)'
        end as series_break_note
    from coupled
    left join classes as classic_class
        on (
            sqrt(coupled.coupling_classic * coupled.development_index) > classic_class.lower_bound
            or classic_class.lower_bound = 0 and coupled.coupling_classic * coupled.development_index = 0
        )
        and sqrt(coupled.coupling_classic * coupled.development_index) <= classic_class.upper_bound
    left join classes as corrected_class
        on (
            sqrt(coupled.coupling_corrected * coupled.development_index) > corrected_class.lower_bound
            or corrected_class.lower_bound = 0 and coupled.coupling_corrected * coupled.development_index = 0
        )
        and sqrt(coupled.coupling_corrected * coupled.development_index) <= corrected_class.upper_bound
)

select * from final
