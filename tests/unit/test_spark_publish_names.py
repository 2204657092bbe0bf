"""Pure logic of the Spark write-audit-publish (src/chengyu_cluster/publish/spark_views.py):
candidate schema names from build ids, the views a publish creates and drops, and which
old candidates it removes. Expected values written out by hand."""

from __future__ import annotations

import pytest

from chengyu_cluster.publish.spark_views import (
    SwitchPlan,
    build_id_of_suffix,
    candidate_schema,
    candidate_suffix,
    candidates_to_drop,
    parse_candidate,
    plan_switch,
    published_target,
    q,
)

A = "20261129T174512123456Z"
B = "20261129T180000000001Z"


def test_suffix_is_b_and_the_build_id_in_lower_case():
    assert candidate_suffix(A) == "b20261129t174512123456z"
    assert build_id_of_suffix("b20261129t174512123456z") == A
    assert candidate_schema("marts", A) == "marts__b20261129t174512123456z"


@pytest.mark.parametrize("bad", ["", "20261129T174512Z", "x; drop database marts", A.lower(), A + " "])
def test_only_a_build_id_becomes_a_suffix(bad):
    with pytest.raises(ValueError):
        candidate_suffix(bad)


@pytest.mark.parametrize("bad", ["Marts", "marts; drop", "marts`", "1marts", ""])
def test_only_plain_names_become_sql(bad):
    with pytest.raises(ValueError):
        q(bad)
    with pytest.raises(ValueError):
        candidate_schema(bad, A)


def test_parse_candidate():
    assert parse_candidate("marts__b20261129t174512123456z") == ("marts", A)
    # A base that itself holds a double underscore keeps it.
    assert parse_candidate("raw__x__b20261129t174512123456z") == ("raw__x", A)
    assert parse_candidate("marts") is None
    assert parse_candidate("marts__b2026") is None
    assert parse_candidate("marts__b20261129t174512123456z_old") is None


def test_published_target_reads_only_chengyus_view_text():
    assert published_target("select * from marts__b20261129t174512123456z.dim_sector") == (
        "marts__b20261129t174512123456z",
        "dim_sector",
    )
    assert published_target("SELECT * FROM `marts__b20261129t174512123456z`.`dim_sector`") == (
        "marts__b20261129t174512123456z",
        "dim_sector",
    )
    assert published_target("select * from marts_other.dim_sector") is None
    assert published_target("select a from marts__b20261129t174512123456z.dim_sector") is None
    assert published_target(None) is None


def test_plan_switch_alters_existing_views_creates_new_ones_and_drops_the_gone_ones_last():
    plan = plan_switch(
        {"marts": ["dim_sector", "dim_area"], "staging": ["stg_x"]}, {"marts": ["dim_area", "dim_old"]}, B
    )
    cand = "marts__b20261129t180000000001z"
    assert plan.alters == [("marts", "dim_area", cand)]
    assert plan.creates == [("marts", "dim_sector", cand), ("staging", "stg_x", "staging__b20261129t180000000001z")]
    assert plan.drops == [("marts", "dim_old")]
    statements = plan.statements()
    assert statements[0] == (
        "alter view `marts`.`dim_area` as select * from `marts__b20261129t180000000001z`.`dim_area`"
    )
    assert statements[1] == (
        "create view `marts`.`dim_sector` as select * from `marts__b20261129t180000000001z`.`dim_sector`"
    )
    assert statements[-1] == "drop view if exists `marts`.`dim_old`"
    assert len(statements) == 4


def test_candidates_to_drop_keeps_the_new_and_the_previous_build():
    schemas = [
        "default",
        "marts",
        "raw",
        "marts__b20261129t174512123456z",
        "raw__b20261129t174512123456z",
        "marts__b20261129t180000000001z",
        "marts__b20261128t000000000000z",
    ]
    assert candidates_to_drop(schemas, {A, B}) == ["marts__b20261128t000000000000z"]
    assert candidates_to_drop(schemas, {B}) == [
        "marts__b20261128t000000000000z",
        "marts__b20261129t174512123456z",
        "raw__b20261129t174512123456z",
    ]
    assert SwitchPlan().statements() == []
