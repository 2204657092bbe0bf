-- One row per reported figure, resolved and normalised (int_figures_normalised), with its
-- metric, period and source attached and the reason it cannot be used (NULL when it
-- can). fct_reported_figures keeps the usable ones, audit_rejected_figures the others:
-- no figure is dropped silently, and no rejected figure reaches a measure.
-- Each figure also carries the vintage of its series (seeds/figure_series_vintages.csv;
-- NULL outside the regional accounts) and the boundary version of its area it refers to
-- (seeds/area_boundaries.csv by statistical year; an area without versions keeps its
-- code, a figure without a year the current version).

with

figures as (
    select * from {{ ref('int_figures_normalised') }}
),

metrics as (
    select * from {{ ref('int_metrics_with_period') }}
),

areas as (
    select * from {{ ref('stg_reference__areas') }}
),

sources as (
    select * from {{ ref('stg_reference__sources') }}
),

scope_overrides as (
    select * from {{ ref('stg_reference__figure_scope_overrides') }}
),

vintages as (
    select * from {{ ref('stg_reference__figure_series_vintages') }}
),

boundaries as (
    select * from {{ ref('stg_reference__area_boundaries') }}
),

joined as (
    select
        figures.*,
        sources.source_id,
        -- A figure's own scope where its words narrow the metric's usual one.
        coalesce(scope_overrides.scope, metrics.scope) as scope,
        metrics.measure_kind,
        metrics.quantity,
        metrics.period_type,
        metrics.months_covered,
        metrics.unit_family as expected_unit_family,
        sources.reliability as source_reliability,
        sources.reliability_rank,
        areas.area_code is not null as area_known,
        metrics.metric_code is not null as metric_known,
        vintages.series_vintage,
        -- The release stage from the vintages seed; else read from the source: statistical
        -- bulletins (统计公报) and figures called 初步核算 are initial releases, yearbooks
        -- (年鉴) and figures called 最终核实 final verifications.
        case
            when vintages.release_stage is not null and vintages.release_stage <> 'not_stated'
                then vintages.release_stage
            when figures.quote like '%最终核实%' or figures.source_text like '%年鉴%'
                or lower(figures.source_text) like '%yearbook%' then 'final_verification'
            when figures.quote like '%初步核算%' or figures.source_text like '%统计公报%' then 'initial'
            else 'not_stated'
        end as release_stage,
        vintages.vintage_evidence,
        coalesce(boundaries.boundary_id, figures.area_code) as boundary_id
    from figures
    left join metrics on figures.metric_code = metrics.metric_code
    left join sources on figures.source_text = sources.source_text
    left join scope_overrides on figures.figure_id = scope_overrides.figure_id
    left join areas on figures.area_code = areas.area_code
    left join vintages on figures.figure_id = vintages.figure_id
    left join boundaries
        on figures.area_code = boundaries.area_code
            and (
                (
                    figures.year is not null
                    and figures.year >= coalesce(boundaries.first_statistical_year, figures.year)
                    and figures.year <= coalesce(boundaries.last_statistical_year, figures.year)
                )
                or (figures.year is null and boundaries.valid_to is null)
            )
),

final as (
    select
        *,
        case
            when area_code is null then 'entity_code: cannot resolve the entity to an area'
            when not area_known then 'entity_code: area ' || area_code || ' is not in seeds/areas.csv'
            when not metric_known then 'metric: ' || metric_code || ' is not defined in seeds/metrics.csv'
            when value_original is null then 'value: ''' || value_raw || ''' is not a number'
            when base_unit is null then 'unit: ''' || unit_raw || ''' cannot be parsed (seeds/unit_conversions.csv)'
            when unit_family <> expected_unit_family
                then 'unit: ' || unit_family || ' unit for a metric measured in ' || expected_unit_family
            when year_raw is not null and year is null then 'year: ''' || year_raw || ''' is not a year'
            when source_id is null then 'source: not listed in seeds/sources.csv'
        end as rejection_reason
    from joined
)

select * from final
