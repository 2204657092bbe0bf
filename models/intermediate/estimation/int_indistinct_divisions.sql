-- One row per division that no source tells apart from another division: the two have the
-- same baseline share prior in every province (its central value; the ranges may differ,
-- which moves the draws a little but gives both the same point value everywhere), no specialty claim names
-- either, and no fitted figure (reported or user-supplied) covers one without the other. The
-- fit then gives them output in the same proportion everywhere, so their location quotients,
-- concentration and the like would be copies that look like two findings: the marts publish
-- those measures NULL with null_reason (the output estimates themselves stay, with intervals).

with

priors as (
    select
        area_code as province_code,
        sector_code,
        value
    from {{ ref('stg_reference__estimation_priors') }}
    where prior_kind = 'baseline_sector_share'
),

claims as (
    select distinct sector_code from {{ ref('stg_reference__area_specialties') }}
),

constraints as (
    select * from {{ ref('int_panel_constraints') }}
    where exclusion is null
),

same_prior as (
    select
        first_division.sector_code as division_a,
        second_division.sector_code as division_b
    from priors as first_division
    inner join priors as second_division
        on first_division.province_code = second_division.province_code
            and first_division.sector_code < second_division.sector_code
            and first_division.value = second_division.value
    group by first_division.sector_code, second_division.sector_code
    having count(*) = (select count(distinct provinces.province_code) from priors as provinces)
),

separating as (
    -- A fitted figure covering one of the two divisions without the other tells them apart.
    select distinct
        same_prior.division_a,
        same_prior.division_b
    from same_prior
    cross join constraints
    where {{ list_has('constraints.sector_codes', 'same_prior.division_a') }}
        <> {{ list_has('constraints.sector_codes', 'same_prior.division_b') }}
),

indistinct as (
    select same_prior.*
    from same_prior
    left join separating
        on same_prior.division_a = separating.division_a and same_prior.division_b = separating.division_b
    left join claims as claim_a on same_prior.division_a = claim_a.sector_code
    left join claims as claim_b on same_prior.division_b = claim_b.sector_code
    where separating.division_a is null and claim_a.sector_code is null and claim_b.sector_code is null
),

reasons as (
    select
        division_a,
        division_b,
        division_a || '+' || division_b as division_group,
        'no source tells ' || division_a || ' and ' || division_b || ' apart (the same prior share, no claim, '
        || 'no figure naming one without the other): their measures would be copies of each other' as null_reason
    from indistinct
),

final as (
    select
        division_a as sector_code,
        division_group,
        null_reason
    from reasons
    union all
    select
        division_b as sector_code,
        division_group,
        null_reason
    from reasons
)

select * from final
