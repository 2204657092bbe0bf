"""Step 1: the small reference tables (seats, distances, cells, classes, input mix, months)."""

from __future__ import annotations

from pathlib import Path

from chengyu_cluster.synth.plan import SynthConfig, first_day_of_month
from chengyu_cluster.synth.shape import (
    ANNUAL_GROWTH,
    BORDER_FACTOR,
    DIVISION_CLASSES,
    INPUT_MIX,
    INTERNAL_KM,
    OUTSIDE_LOCAL_FACTOR,
    SEASONAL,
    SEATS,
    division_weights,
)
from chengyu_cluster.synth.sql_text import values_list


def reference_tables(con, project_dir: Path, cfg: SynthConfig) -> None:
    """Small tables of the shape: seats, distances, cells, classes, input mix, months."""
    _create_seats(con)
    _create_cells(con, project_dir)
    _create_classes_and_input_mix(con)
    con.execute(RELOCATION_CDF_SQL)
    _create_months(con, cfg)


def _create_seats(con) -> None:
    """seats, seat_counties and the great-circle distances between seats (haversine, 6371 km)."""
    con.execute(f"""create table seats as select * from (values {
        values_list([(i, s.seat, s.group, s.province, s.lat, s.lon, s.gdp_yi) for i, s in enumerate(SEATS)])
    })
        t(seat_id, seat, grp, province, lat, lon, gdp_yi)""")
    con.execute(f"""create table seat_counties as select * from (values {
        values_list([(i, c, j, len(s.counties)) for i, s in enumerate(SEATS) for j, c in enumerate(s.counties)])
    })
        t(seat_id, county, county_index, n_counties)""")
    con.execute(f"""
        create table distances as
        select a.seat_id as from_seat, b.seat_id as to_seat,
            case when a.seat_id = b.seat_id then {INTERNAL_KM}
                 else 2 * 6371 * asin(sqrt(pow(sin(radians(b.lat - a.lat) / 2), 2)
                      + cos(radians(a.lat)) * cos(radians(b.lat)) * pow(sin(radians(b.lon - a.lon) / 2), 2)))
            end as km,
            case when a.province = b.province and a.province <> 'other' then 1.0 else {BORDER_FACTOR} end as border
        from seats a cross join seats b
    """)


def _cell_rows(weights: dict[tuple[str, str], float]) -> list[tuple]:
    """(in_register, seat_id, division, weight): register cells (Sichuan and Chongqing) from the
    division weights, then out-of-register cells everywhere (rest of China by national mix)."""
    seat_id = {s.seat: i for i, s in enumerate(SEATS)}
    register = [(True, seat_id[s], d, w) for (s, d), w in sorted(weights.items())]
    divs = sorted(DIVISION_CLASSES)
    national = {d: sum(w for (s, dd), w in weights.items() if dd == d) for d in divs}
    total_national = sum(national.values())
    outside = []
    for i, s in enumerate(SEATS):
        for d in divs:
            if s.group == "rest_of_china":
                outside.append((False, i, d, s.gdp_yi * national[d] / total_national))
            elif (s.seat, d) in weights:
                outside.append((False, i, d, weights[(s.seat, d)] * OUTSIDE_LOCAL_FACTOR))
    return register + outside


def _create_cells(con, project_dir: Path) -> None:
    rows = _cell_rows(division_weights(project_dir))
    con.execute(
        f"create table cells as select * from (values {values_list(rows)}) t(in_register, seat_id, division, weight)"
    )
    con.execute(CELL_CDF_SQL)


def _create_classes_and_input_mix(con) -> None:
    con.execute(f"""create table classes as select * from (values {
        values_list([(d, c, j, len(cs)) for d, cs in DIVISION_CLASSES.items() for j, c in enumerate(cs)])
    })
        t(division, industry_class, class_index, n_classes)""")
    mix = [(b, s, share) for b, row in INPUT_MIX.items() for s, share in row.items()]
    con.execute(
        f"create table input_mix as select * from (values {values_list(mix)}) t(buyer_division, seller_division, share)"
    )
    con.execute(INPUT_CDF_SQL)


def _month_rows(cfg: SynthConfig) -> list[tuple]:
    """(m, month_start, days, intensity, ci_start, ci_end) per generated month: intensity is the
    seasonal factor times growth; ci_* its cumulative sums in millionths, as integers, so that
    invoice counts can be apportioned with exact integer arithmetic."""
    months = []
    cumulative = 0
    for m in range(cfg.months):
        start = first_day_of_month(cfg.start_year, m)
        nxt = first_day_of_month(cfg.start_year, m + 1)
        intensity = SEASONAL[start.month - 1] * (1 + ANNUAL_GROWTH) ** (m / 12)
        scaled = round(intensity * 1e6)
        months.append((m, start.isoformat(), (nxt - start).days, intensity, cumulative, cumulative + scaled))
        cumulative += scaled
    return months


def _create_months(con, cfg: SynthConfig) -> None:
    con.execute(
        f"create table months as select m, month_start::date as month_start, days, intensity, "
        f"ci_start::bigint as ci_start, ci_end::bigint as ci_end "
        f"from (values {values_list(_month_rows(cfg))}) t(m, month_start, days, intensity, ci_start, ci_end)"
    )


CELL_CDF_SQL = """
    create table cell_cdf as
    select in_register, seat_id, division,
        (sum(weight) over (partition by in_register order by seat_id, division rows unbounded preceding) - weight)
            / sum(weight) over (partition by in_register) as lo
    from cells
"""
INPUT_CDF_SQL = """
    create table input_cdf as
    select buyer_division, seller_division,
        (sum(share) over (partition by buyer_division order by seller_division rows unbounded preceding) - share)
            / sum(share) over (partition by buyer_division) as lo
    from input_mix
"""
# Relocation targets: seats of the same province, by mass.
RELOCATION_CDF_SQL = """
    create table relocation_cdf as
    select province, seat_id,
        (sum(gdp_yi) over (partition by province order by seat_id rows unbounded preceding) - gdp_yi)
            / sum(gdp_yi) over (partition by province) as lo
    from seats where province <> 'other'
"""
