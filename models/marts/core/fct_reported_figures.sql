with

checked as (
    select * from {{ ref('int_reported_figures_checked') }}
),

final as (
    select
        figure_id,
        area_code,
        sector_code,
        subject,
        metric_code,
        scope,
        measure_kind,
        period_type,
        year,
        value_original,
        unit_raw as unit_original,
        unit_note,
        value_base,
        base_unit,
        value_qualifier,
        is_lower_bound,
        source_id,
        source_reliability as reliability,
        quote,
        series_vintage,
        release_stage,
        vintage_evidence,
        boundary_id,
        'reported' as basis
    from checked
    where rejection_reason is null
)

select * from final
