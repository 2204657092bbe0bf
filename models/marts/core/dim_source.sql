with

sources as (
    select * from {{ ref('stg_reference__sources') }}
),

figures as (
    select * from {{ ref('int_reported_figures_checked') }}
),

figure_counts as (
    select
        source_id,
        count(*) as n_figures
    from figures
    group by source_id
),

final as (
    select
        sources.source_id,
        sources.source_text,
        sources.source_kind,
        sources.reliability,
        sources.reliability_rank,
        coalesce(figure_counts.n_figures, 0) as n_figures
    from sources
    left join figure_counts on sources.source_id = figure_counts.source_id
)

select * from final
