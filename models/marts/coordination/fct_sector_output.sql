select
    area_code,
    sector_code,
    year,
    output_value_yuan,
    supplied_value_original,
    supplied_unit_original,
    basis,
    method,
    microdata_coverage_share,
    is_area_specific,
    derived_from_figure_ids,
    prior_ids,
    specialty_ids,
    supplied_source,
    output_p5_yuan,
    output_p50_yuan,
    output_p95_yuan,
    prior_value_yuan,
    null_reason,
    n_fitted_figures,
    n_area_figures
from {{ ref('int_sector_output') }}
where cluster_role = 'member'
