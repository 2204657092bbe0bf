-- One row per prior cell (with a prior) x uncertainty component of the constrained fit:
-- how far the prior may be off, and which cells err together (docs/estimator.md):
--   province_level  common factor of all units of a province (prior province_equipment_level);
--   unit_level      common factor of one unit in all divisions and years
--                   (int_panel_unit_uncertainty);
--   unit_year       common factor of one unit in one year (year_deviation);
--   division_mix    one Dirichlet division mix per unit, persistent over the years, each year
--                   keeping its total (int_panel_unit_uncertainty);
--   mix_drift       a year's own deviation from the persistent mix (division_mix_drift).
-- Standard deviations come from the 90 % ranges of seeds/estimation_priors.csv,
-- sd = ln(high / low) / (2 x 1.645), times the component's calibration factor (var
-- panel_prior_width_factors, set by leave-one-figure-out cross-validation; a share's sd is
-- capped at 0.95, the Dirichlet needs it below 1).

with

cells as (
    select * from {{ ref('int_panel_prior_cells') }}
    where prior_yuan is not null
),

priors as (
    select
        *,
        ln(value_high / value_low) / (2 * 1.6448536269514722) as log_sd
    from {{ ref('stg_reference__estimation_priors') }}
),

unit_uncertainty as (
    select * from {{ ref('int_panel_unit_uncertainty') }}
),

province_level as (
    select
        area_code as province_code,
        log_sd as sd,
        prior_id
    from priors
    where prior_kind = 'province_equipment_level'
),

year_deviation as (
    select
        log_sd as sd,
        prior_id
    from priors
    where prior_kind = 'year_deviation'
),

mix_drift as (
    -- The prior states a reference share and its range in one year.
    select
        log_sd * sqrt(value / (1 - value)) as sd,
        prior_id
    from priors
    where prior_kind = 'division_mix_drift'
),

components as (
    select
        cells.panel_unit,
        cells.sector_code,
        cells.year,
        'province_level' as component_id,
        'common_factor' as component_kind,
        cells.province_code as group_label,
        province_level.sd,
        cast(null as string) as block_label,
        cast(null as string) as part_label,
        province_level.prior_id as prior_ids
    from cells
    inner join province_level on cells.province_code = province_level.province_code
    union all
    select
        cells.panel_unit,
        cells.sector_code,
        cells.year,
        'unit_level' as component_id,
        'common_factor' as component_kind,
        cells.panel_unit as group_label,
        unit_uncertainty.unit_level_sd as sd,
        cast(null as string) as block_label,
        cast(null as string) as part_label,
        unit_uncertainty.unit_level_prior_ids as prior_ids
    from cells
    inner join unit_uncertainty on cells.panel_unit = unit_uncertainty.panel_unit
    union all
    select
        cells.panel_unit,
        cells.sector_code,
        cells.year,
        'unit_year' as component_id,
        'common_factor' as component_kind,
        cells.panel_unit || '|' || cells.year as group_label,
        year_deviation.sd,
        cast(null as string) as block_label,
        cast(null as string) as part_label,
        year_deviation.prior_id as prior_ids
    from cells
    cross join year_deviation
    union all
    select
        cells.panel_unit,
        cells.sector_code,
        cells.year,
        'division_mix' as component_id,
        'share' as component_kind,
        cells.panel_unit as group_label,
        unit_uncertainty.division_mix_sd as sd,
        cells.panel_unit || '|' || cells.year as block_label,
        cells.sector_code as part_label,
        unit_uncertainty.division_mix_prior_ids as prior_ids
    from cells
    inner join unit_uncertainty on cells.panel_unit = unit_uncertainty.panel_unit
    union all
    select
        cells.panel_unit,
        cells.sector_code,
        cells.year,
        'mix_drift' as component_id,
        'share' as component_kind,
        cells.panel_unit || '|' || cells.year as group_label,
        mix_drift.sd,
        cast(null as string) as block_label,
        cast(null as string) as part_label,
        mix_drift.prior_id as prior_ids
    from cells
    cross join mix_drift
),

final as (
    select
        panel_unit,
        sector_code,
        year,
        component_id,
        component_kind,
        group_label,
        least(
            sd * case component_id
                {%- for component_id, factor in var('panel_prior_width_factors').items() %}
                    when '{{ component_id }}' then {{ factor }}
                {%- endfor %}
                else 1
            end,
            case when component_kind = 'share' then 0.95 else 1e9 end
        ) as sd,
        block_label,
        part_label,
        prior_ids
    from components
)

select * from final
