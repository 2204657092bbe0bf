"""The microdata input rules, in process, on the hand-made set of tests/test_microdata.py: each
kind of bad input is found with its file, line or column and its rule, and the set itself
passes. The command's side (one line per problem on stderr, exit 3, nothing published) is
checked end to end in tests/test_microdata.py on one kind, as every kind takes the same path
(microdata/for_cli.py prints the findings of check_microdata)."""

from __future__ import annotations

import pytest
from test_microdata import BAD_KINDS, bad_set, hand_made

from chengyu_cluster.inputs.base import Findings
from chengyu_cluster.microdata.checks import check_microdata

from conftest import REPO


def error_lines(directory) -> list[str]:
    findings = Findings()
    check_microdata(REPO, directory, findings)
    return [line for line in findings.lines() if line.startswith("ERROR")]


@pytest.mark.parametrize("kind", sorted(BAD_KINDS))
def test_bad_microdata_is_found_with_its_place_and_rule(tmp_path, kind):
    change, where, rule = BAD_KINDS[kind]
    lines = error_lines(bad_set(tmp_path, change))
    assert any(where in line and f"[rule: {rule}]" in line for line in lines), lines


def test_the_hand_made_set_has_no_error(tmp_path):
    assert error_lines(hand_made(tmp_path / "micro")) == []
