-- Question 2: which member areas duplicate each other most, and in which divisions?
--
-- How to read it: one row per pair of areas in the latest panel year, most similar
-- first. similarity near 1 and a high share of duplicated divisions mean the two areas
-- build the same things (产业同构) and compete; a low similarity with many
-- complementary divisions means they can divide the work. duplicated_divisions lists
-- the divisions where both are specialised (LQ >= 1 against the cluster).
-- cross_level = true marks a prefecture city beside a district: their sizes differ by
-- an order of magnitude, so compare structure, not volume.

with

pairs as (
    select every_year.* from {{ ref('fct_area_pair_structure') }} as every_year
    where every_year.year = (select max(latest.year) from {{ ref('fct_area_pair_structure') }} as latest)
),

overlap as (
    select * from {{ ref('fct_area_pair_sector_overlap') }}
    where overlap = 'duplicated'
),

areas as (
    select * from {{ ref('dim_area') }}
)

select
    area_a.name_en as area_a,
    area_b.name_en as area_b,
    pairs.year,
    round(pairs.similarity_coefficient, 3) as similarity,
    round(pairs.krugman_dissimilarity, 3) as krugman_dissimilarity,
    pairs.n_duplicated,
    pairs.n_complementary,
    round(pairs.share_duplicated, 2) as share_duplicated,
    (
        select
            string_agg(
                overlap.sector_code, ', '
                order by overlap.sector_code
            )
        from overlap
        where overlap.area_code_a = pairs.area_code_a
            and overlap.area_code_b = pairs.area_code_b
            and overlap.year = pairs.year
    ) as duplicated_divisions,
    pairs.is_cross_level as cross_level,
    pairs.basis
from pairs
inner join areas as area_a on pairs.area_code_a = area_a.area_code
inner join areas as area_b on pairs.area_code_b = area_b.area_code
order by pairs.similarity_coefficient desc
