-- Question 5: how has the coupling coordination of the Sichuan and Chongqing equipment
-- subsystems developed?
--
-- How to read it: one row per year. D (coordination degree) in 0..1 with its class
-- (0.5-0.6 barely coordinated ... 0.9-1 high-quality). Two couplings are shown: the
-- classic C, which stays near 1 whenever the two scores are of similar size, and the
-- corrected C of 王淑佳 et al. (2021), which also falls when the scores are far apart.
-- The indicators, normalisation and weights behind U1 and U2 are choices
-- (seeds/coupling_indicators.csv, seeds/coupling_subsystems.csv); the scores rest on
-- the estimated panel (estimated_input_share).

select
    year,
    round(u1_sichuan, 3) as u1_sichuan,
    round(u2_chongqing, 3) as u2_chongqing,
    round(coupling_classic, 3) as c_classic,
    round(coupling_corrected, 3) as c_corrected,
    round(development_index, 3) as t,
    round(coordination_degree_classic, 3) as d_classic,
    class_classic_en,
    round(coordination_degree_corrected, 3) as d_corrected,
    class_corrected_en,
    class_corrected_zh,
    round(estimated_input_share, 2) as estimated_input_share
from {{ ref('fct_cluster_coupling') }}
order by year
