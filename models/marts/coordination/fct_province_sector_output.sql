-- Provinces contain the members: never add these rows to fct_sector_output.
select
    area_code,
    sector_code,
    year,
    output_value_yuan,
    basis,
    method,
    is_area_specific,
    derived_from_figure_ids,
    prior_ids,
    output_p5_yuan,
    output_p50_yuan,
    output_p95_yuan,
    prior_value_yuan,
    null_reason,
    n_fitted_figures
from {{ ref('int_sector_output_provinces') }}
