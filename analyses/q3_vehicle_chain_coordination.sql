-- Question 3: does Chongqing assemble vehicles while Sichuan supplies the parts?
--
-- How to read it: for each province's member areas and year, output by chain stage
-- (dim_sector.chain_stage: final_assembly = C36 vehicles and C37 transport equipment;
-- components = C33, C34, C38, C39, C40; machinery = C35; services = C43) and the
-- components-to-assembly ratio. The pattern officials want is a high ratio on the
-- Sichuan side and a low one on the Chongqing side.
--
-- What the data can and cannot say: division output shows where each stage is
-- produced, not who buys from whom. C36 mixes complete vehicles with parts (367), so
-- "assembly" is overstated where parts makers sit. Whether Chongqing's assemblers
-- actually source from Sichuan needs interregional input-output tables (CEADs MRIO) or
-- firm-level supply data, which this warehouse does not hold; the national 2012 table
-- figures it has (F0213-F0216) only say the auto industry buys 80 % of its output value
-- as intermediate inputs. Every row here rests on the estimated panel.

with

output as (
    select * from {{ ref('fct_sector_output') }}
),

sectors as (
    select * from {{ ref('dim_sector') }}
),

areas as (
    select * from {{ ref('dim_area') }}
),

by_stage as (
    select
        areas.province_name_en as province,
        output.year,
        sum(output.output_value_yuan) filter (where sectors.chain_stage = 'final_assembly') as assembly_yuan,
        sum(output.output_value_yuan) filter (where sectors.chain_stage = 'components') as components_yuan,
        sum(output.output_value_yuan) filter (where sectors.chain_stage = 'components' and output.is_area_specific)
            as components_area_specific_yuan,
        -- From the method: a synthetic user figure relabels fitted cells 'synthetic', not reported.
        bool_or(output.method = 'constrained_fit') as rests_on_estimates
    from output
    inner join sectors on output.sector_code = sectors.sector_code
    inner join areas on output.area_code = areas.area_code
    group by all
)

select
    province,
    year,
    round(assembly_yuan / 1e8, 1) as assembly_100m_yuan,
    round(components_yuan / 1e8, 1) as components_100m_yuan,
    round(components_yuan / nullif(assembly_yuan, 0), 2) as components_per_assembly,
    -- Without C39, whose estimate is the same share everywhere and says nothing here.
    round(components_area_specific_yuan / nullif(assembly_yuan, 0), 2) as components_per_assembly_excl_c39,
    rests_on_estimates
from by_stage
order by year, province
