"""Recompute the coordination measures in pandas from fct_sector_output of a real build
and compare them with the marts: two independent implementations of METHODS.md."""

from __future__ import annotations

import itertools

import duckdb
import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="module")
def frames(built):
    con = duckdb.connect(str(built.published), read_only=True)
    try:
        yield {
            "output": con.execute("select * from marts.fct_sector_output").df(),
            "provinces": con.execute("select * from marts.fct_province_sector_output").df(),
            "lq": con.execute("select * from marts.fct_area_sector_specialization").df(),
            "pairs": con.execute("select * from marts.fct_area_pair_structure").df(),
            "concentration": con.execute("select * from marts.fct_sector_concentration").df(),
        }
    finally:
        con.close()


# Divisions no source tells apart (int_indistinct_divisions): their measures are published NULL
# with the reason, not as copies of each other; the recomputation below expects exactly that.
INDISTINCT = {"C40", "C43"}
INDISTINCT_REASON = "no source tells C40 and C43 apart"


def _matrix(output: pd.DataFrame, year: int) -> pd.DataFrame:
    # Divisions without a value (C39: no figure and no defensible prior) are left out.
    x = output[output.year == year].pivot(index="area_code", columns="sector_code", values="output_value_yuan")
    return x.dropna(axis=1, how="all")


def test_location_quotients_match(frames):
    output, provinces, marts = frames["output"], frames["provinces"], frames["lq"]
    checked = 0
    for year in sorted(output.year.unique()):
        x = _matrix(output, year)
        area_shares = x.div(x.sum(axis=1), axis=0)
        references = {
            "cluster8": x.sum(axis=0),
            "sichuan_chongqing": _matrix(provinces, year).sum(axis=0),
        }
        for reference, totals in references.items():
            expected = area_shares / (totals / totals.sum())
            expected[sorted(INDISTINCT & set(expected.columns))] = np.nan
            rows = marts[(marts.year == year) & (marts.reference == reference)]
            got = rows.pivot(index="area_code", columns="sector_code", values="location_quotient")
            np.testing.assert_allclose(
                got.loc[expected.index, expected.columns].to_numpy(), expected.to_numpy(), rtol=1e-9
            )
            masked = rows[rows.sector_code.isin(INDISTINCT)]
            assert len(masked) == 16 and masked.lq_null_reason.str.startswith(INDISTINCT_REASON).all()
            checked += expected.size
    # 8 members x 8 divisions with a value x 9 years, against two references.
    assert checked == 2 * 8 * 8 * 9


def test_similarity_and_krugman_match(frames):
    output, marts = frames["output"], frames["pairs"]
    for year in sorted(output.year.unique()):
        x = _matrix(output, year)
        for a, b in itertools.combinations(sorted(x.index), 2):
            # Divisions with a value in both areas, shares renormalised over them.
            keep = x.loc[a].notna() & x.loc[b].notna()
            sa = x.loc[a, keep] / x.loc[a, keep].sum()
            sb = x.loc[b, keep] / x.loc[b, keep].sum()
            similarity = (sa * sb).sum() / np.sqrt((sa**2).sum() * (sb**2).sum())
            krugman = (sa - sb).abs().sum()
            row = marts[(marts.year == year) & (marts.area_code_a == a) & (marts.area_code_b == b)]
            assert len(row) == 1
            assert row.similarity_coefficient.iloc[0] == pytest.approx(similarity, rel=1e-9)
            assert row.krugman_dissimilarity.iloc[0] == pytest.approx(krugman, rel=1e-9)
    # An area is never paired with itself and every pair appears once a year: 28 pairs.
    assert (marts.area_code_a < marts.area_code_b).all()
    assert marts.groupby("year").size().eq(28).all()


def test_concentration_matches(frames):
    output, marts = frames["output"], frames["concentration"]
    specific = output.groupby(["year", "sector_code"]).is_area_specific.any()
    for year in sorted(output.year.unique()):
        x = _matrix(output, year)
        n = len(x)
        area_weight = x.sum(axis=1) / x.to_numpy().sum()
        for sector in x.columns:
            column = x[sector]
            share = column / column.sum()
            hhi = (share**2).sum()
            row = marts[(marts.year == year) & (marts.sector_code == sector)].iloc[0]
            if sector in INDISTINCT:
                assert pd.isna(row.hhi) and row.null_reason.startswith(INDISTINCT_REASON), row
                continue
            assert row.hhi == pytest.approx(hhi, rel=1e-9)
            assert row.hhi_normalised == pytest.approx((hhi - 1 / n) / (1 - 1 / n), rel=1e-9, abs=1e-12)
            if not specific[(year, sector)]:
                assert pd.isna(row.hoover_coefficient) and pd.isna(row.locational_gini)
                continue
            hoover = 0.5 * (share - area_weight).abs().sum()
            lq = np.sort(((column / x.sum(axis=1)) / (column.sum() / x.to_numpy().sum())).to_numpy())
            ranks = np.arange(1, n + 1)
            gini = 2 / (n**2 * lq.mean()) * (ranks * (lq - lq.mean())).sum()
            assert row.hoover_coefficient == pytest.approx(hoover, rel=1e-9)
            assert row.locational_gini == pytest.approx(gini, rel=1e-9, abs=1e-12)
