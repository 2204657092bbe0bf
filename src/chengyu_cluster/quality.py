"""The quality gate: Great Expectations suites run against a candidate warehouse.

Great Expectations 1.x has no DuckDB SQL dialect, so every suite validates a pandas
DataFrame read from the candidate file (read-only). Each expectation carries
meta.severity: "critical" blocks publishing, "warning" is reported and lets it pass.

Suites are defined in code below: one for each input (every seed as loaded, and a
user-supplied sector output file) and one per public mart.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

CRITICAL = "critical"
WARNING = "warning"


@dataclass(frozen=True)
class SuiteSpec:
    name: str
    query: str  # what the DataFrame holds, read from the candidate
    expectations: list  # of (severity, expectation)
    needs_user_file: bool = False


@dataclass
class CheckResult:
    suite: str
    expectation: str
    kwargs: dict
    severity: str
    success: bool
    unexpected_count: int | None
    examples: list


@dataclass
class GateResult:
    report_dir: Path
    results: list[CheckResult] = field(default_factory=list)

    @property
    def n_passed(self) -> int:
        return sum(r.success for r in self.results)

    @property
    def n_warned(self) -> int:
        return sum(not r.success and r.severity == WARNING for r in self.results)

    @property
    def n_critical_failed(self) -> int:
        return sum(not r.success and r.severity == CRITICAL for r in self.results)

    @property
    def passed(self) -> bool:
        return self.n_critical_failed == 0

    def messages(self) -> list[str]:
        lines = []
        for r in self.results:
            if r.success:
                continue
            label = "CRITICAL" if r.severity == CRITICAL else "WARNING"
            args = ", ".join(f"{k}={v}" for k, v in r.kwargs.items() if k not in {"batch_id"})
            detail = f"{r.unexpected_count} row(s) break it" if r.unexpected_count else "the table breaks it"
            example = f"; e.g. {r.examples[:3]}" if r.examples else ""
            lines.append(f"{label} {r.suite}: {r.expectation}({args}): {detail}{example}")
        return lines


def suites(panel_start: int, panel_end: int, members: int = 8) -> list[SuiteSpec]:
    import great_expectations as gx

    E = gx.expectations
    c, w = CRITICAL, WARNING
    n_years = panel_end - panel_start + 1
    # The cluster's eight members and the nine divisions of the national equipment
    # definition are fixed by the cluster declaration and GB/T 4754-2017: the suites
    # state them independently of the seeds they check.
    member_codes = ["510100", "510600", "511400", "512000", "500112", "500105", "500116", "500118"]
    sector_codes = ["C33", "C34", "C35", "C36", "C37", "C38", "C39", "C40", "C43"]
    return [
        # ---- inputs, as loaded by the input reader -------------------------------------------------
        SuiteSpec("input_reported_figures", "select * from raw.reported_figures", [
            (c, E.ExpectColumnValuesToNotBeNull(column="figure_id")),
            (c, E.ExpectColumnValuesToBeUnique(column="figure_id")),
            (c, E.ExpectColumnValuesToMatchRegex(column="figure_id", regex=r"^F\d{4,}$")),
            (c, E.ExpectColumnValuesToNotBeNull(column="value")),
            (c, E.ExpectColumnValuesToMatchRegex(column="value", regex=r"^-?\d+(\.\d+)?$")),
            (c, E.ExpectColumnValuesToNotBeNull(column="source")),
            (c, E.ExpectColumnValuesToBeInSet(column="reliability", value_set=["high", "medium", "low"])),
            (c, E.ExpectTableRowCountToBeBetween(min_value=1, max_value=100_000)),
            # The shipped file has 218 figures; fewer means rows were deleted.
            (w, E.ExpectTableRowCountToBeBetween(min_value=218)),
        ]),
        SuiteSpec("input_areas", "select * from raw.areas", [
            (c, E.ExpectColumnValuesToBeUnique(column="area_code")),
            (c, E.ExpectColumnValuesToBeInSet(column="cluster_role",
                                              value_set=["member", "parent", "benchmark", "comparison", "nation", "aggregate"])),
            (c, E.ExpectColumnDistinctValuesToContainSet(column="area_code", value_set=member_codes)),
        ]),
        SuiteSpec("input_area_members", "select * from raw.areas where cluster_role = 'member'", [
            (c, E.ExpectTableRowCountToEqual(value=members)),
        ]),
        SuiteSpec("input_sectors", "select * from raw.sectors", [
            (c, E.ExpectTableRowCountToEqual(value=len(sector_codes))),
            (c, E.ExpectColumnValuesToBeUnique(column="sector_code")),
            (c, E.ExpectColumnValuesToBeInSet(column="sector_code", value_set=sector_codes)),
        ]),
        SuiteSpec("input_sources", "select * from raw.sources", [
            (c, E.ExpectColumnValuesToBeUnique(column="source_id")),
            (c, E.ExpectColumnValuesToBeUnique(column="source_text")),
            (c, E.ExpectColumnValuesToBeInSet(column="reliability", value_set=["high", "medium", "low", "not_applicable"])),
        ]),
        SuiteSpec("input_metrics", "select * from raw.metrics", [
            (c, E.ExpectColumnValuesToBeUnique(column="metric_code")),
            (c, E.ExpectColumnValuesToBeInSet(column="unit_family",
                                              value_set=["currency", "persons", "area", "percent", "count", "ratio", "code"])),
        ]),
        SuiteSpec("input_unit_conversions", "select * from raw.unit_conversions", [
            (c, E.ExpectColumnValuesToBeUnique(column="unit_token")),
            (c, E.ExpectColumnValuesToBeBetween(column="factor_to_base", min_value=0, strict_min=True)),
        ]),
        SuiteSpec("input_area_specialties", "select * from raw.area_specialties", [
            (c, E.ExpectColumnValuesToBeUnique(column="specialty_id")),
            (c, E.ExpectColumnValuesToBeInSet(column="area_code", value_set=member_codes)),
            (c, E.ExpectColumnValuesToBeInSet(column="sector_code", value_set=sector_codes)),
        ]),
        SuiteSpec("input_estimation_priors", "select * from raw.estimation_priors", [
            (c, E.ExpectColumnValuesToBeUnique(column="prior_id")),
            (c, E.ExpectColumnValuesToNotBeNull(column="rationale")),
            (c, E.ExpectColumnValuesToBeBetween(column="value", min_value=0)),
            (c, E.ExpectColumnValuesToBeInSet(column="prior_kind", value_set=[
                "baseline_sector_share", "specialty_multiplier", "relative_industrial_intensity",
                "relative_gdp_per_resident", "electronics_to_c39"])),
        ]),
        SuiteSpec("input_coupling_indicators", "select * from raw.coupling_indicators", [
            (c, E.ExpectColumnValuesToBeUnique(column="indicator_code")),
            (c, E.ExpectColumnValuesToBeBetween(column="weight", min_value=0, max_value=1)),
            (c, E.ExpectColumnSumToBeBetween(column="weight", min_value=0.999999, max_value=1.000001)),
        ]),
        SuiteSpec("input_coupling_subsystems", "select * from raw.coupling_subsystems", [
            (c, E.ExpectTableRowCountToEqual(value=2)),
            (c, E.ExpectColumnValuesToBeInSet(column="subsystem", value_set=["U1", "U2"])),
            (c, E.ExpectColumnSumToBeBetween(column="weight", min_value=0.999999, max_value=1.000001)),
        ]),
        SuiteSpec("input_coordination_classes", "select * from raw.coordination_classes", [
            (c, E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="upper_bound", column_B="lower_bound")),
            (c, E.ExpectColumnValuesToBeBetween(column="lower_bound", min_value=0, max_value=1)),
        ]),
        SuiteSpec("input_cooperation_events", "select * from raw.cooperation_events", [
            (c, E.ExpectColumnValuesToBeUnique(column="event_id")),
            (c, E.ExpectColumnValuesToNotBeNull(column="event_date")),
            (c, E.ExpectColumnValuesToNotBeNull(column="source_id")),
        ]),
        SuiteSpec("input_lookups",
                  "select 'periods' as seed, metric_suffix as key from raw.periods "
                  "union all select 'value_qualifiers', pattern from raw.value_qualifiers "
                  "union all select 'entity_aliases', match_on || ':' || match_value from raw.entity_aliases "
                  "union all select 'figure_scope_overrides', figure_id from raw.figure_scope_overrides", [
            (c, E.ExpectCompoundColumnsToBeUnique(column_list=["seed", "key"])),
            (w, E.ExpectTableRowCountToBeBetween(min_value=1, max_value=1000)),
        ]),
        SuiteSpec("input_user_sector_output", "select * from staging.stg_inputs__user_sector_output", [
            (c, E.ExpectCompoundColumnsToBeUnique(column_list=["area_code", "sector_code", "year"])),
            (c, E.ExpectColumnValuesToBeInSet(column="area_code", value_set=member_codes)),
            (c, E.ExpectColumnValuesToBeInSet(column="sector_code", value_set=sector_codes)),
            (c, E.ExpectColumnValuesToBeBetween(column="year", min_value=panel_start, max_value=panel_end)),
            (c, E.ExpectColumnValuesToNotBeNull(column="output_value_yuan")),
            (c, E.ExpectColumnValuesToBeBetween(column="output_value_yuan", min_value=0)),
            (c, E.ExpectColumnValuesToNotBeNull(column="source")),
        ], needs_user_file=True),
        # ---- public marts ----------------------------------------------------------------
        SuiteSpec("mart_dim_area", "select * from marts.dim_area", [
            (c, E.ExpectColumnValuesToBeUnique(column="area_code")),
            (c, E.ExpectColumnValuesToNotBeNull(column="name_en")),
            (w, E.ExpectColumnValuesToBeBetween(column="land_area_km2", min_value=100, max_value=1_000_000)),
        ]),
        SuiteSpec("mart_fct_reported_figures", "select * from marts.fct_reported_figures", [
            (c, E.ExpectColumnValuesToBeUnique(column="figure_id")),
            (c, E.ExpectColumnValuesToNotBeNull(column="value_base")),
            (c, E.ExpectColumnValuesToNotBeNull(column="source_id")),
            (c, E.ExpectColumnValuesToBeInSet(column="basis", value_set=["reported"])),
            # A lower bound is flagged exactly when its qualifier says so.
            (c, E.ExpectColumnPairValuesToBeInSet(
                column_A="is_lower_bound", column_B="value_qualifier",
                value_pairs_set=[(True, "lower_bound"), (False, "exact"), (False, "rounded"), (False, "target")])),
            (c, E.ExpectTableRowCountToBeBetween(min_value=1, max_value=100_000)),
            (w, E.ExpectColumnValuesToBeBetween(column="year", min_value=1949, max_value=2035)),
        ]),
        SuiteSpec("mart_fct_area_indicators",
                  "select *, coalesce(subject, '') as subject_key from marts.fct_area_indicators", [
            (c, E.ExpectCompoundColumnsToBeUnique(column_list=["area_code", "metric_code", "subject_key", "year"])),
            (c, E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="max_value_base", column_B="value_base", or_equal=True)),
            (c, E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="value_base", column_B="min_value_base", or_equal=True)),
            (c, E.ExpectColumnValuesToBeBetween(column="n_competing_figures", min_value=1)),
            (c, E.ExpectColumnValuesToBeInSet(column="basis", value_set=["reported"])),
        ]),
        SuiteSpec("mart_audit_figure_conflicts", "select * from marts.audit_figure_conflicts", [
            (c, E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="relative_difference", column_B="tolerance")),
            # Many conflicts at once usually mean a unit slipped (亿 read as 万), not revisions.
            (w, E.ExpectTableRowCountToBeBetween(min_value=0, max_value=10)),
        ]),
        SuiteSpec("mart_audit_rejected_figures", "select * from marts.audit_rejected_figures", [
            (w, E.ExpectTableRowCountToEqual(value=0)),
        ]),
        SuiteSpec("mart_fct_sector_output",
                  "select *, method = 'user_supplied' or derived_from_figure_ids is not null as has_lineage "
                  "from marts.fct_sector_output", [
            (c, E.ExpectTableRowCountToEqual(value=members * len(sector_codes) * n_years)),
            (c, E.ExpectCompoundColumnsToBeUnique(column_list=["area_code", "sector_code", "year"])),
            (c, E.ExpectColumnValuesToNotBeNull(column="output_value_yuan")),
            (c, E.ExpectColumnValuesToBeBetween(column="output_value_yuan", min_value=0)),
            (c, E.ExpectColumnValuesToBeInSet(column="basis", value_set=["reported", "estimated", "synthetic"])),
            # An estimate always names the reported figures it was derived from.
            (c, E.ExpectColumnValuesToBeInSet(column="has_lineage", value_set=[True])),
            # The user's figures are reported exactly when the method says user_supplied.
            (c, E.ExpectColumnPairValuesToBeInSet(
                column_A="basis", column_B="method",
                value_pairs_set=[("reported", "user_supplied"), ("synthetic", "user_supplied")] + [("estimated", m) for m in (
                    "member_equipment_x_prior_mix_x_specialty_multiplier", "equipment_x_reported_electronics_ratio")])),
            # Most of the panel should come from yearbooks one day; today it is estimated.
            (w, E.ExpectColumnValuesToBeInSet(column="basis", value_set=["reported"], mostly=0.5)),
        ]),
        SuiteSpec("mart_audit_sector_output_reconciliation", "select * from marts.audit_sector_output_reconciliation", [
            (c, E.ExpectTableRowCountToBeBetween(min_value=1)),
            (c, E.ExpectColumnValuesToBeBetween(column="relative_error", min_value=-0.001, max_value=0.001)),
        ]),
        SuiteSpec("mart_fct_area_sector_specialization",
                  "select *, estimated_input_share > 0 as rests_on_estimates from marts.fct_area_sector_specialization", [
            (c, E.ExpectCompoundColumnsToBeUnique(column_list=["reference", "area_code", "sector_code", "year"])),
            (c, E.ExpectColumnValuesToBeBetween(column="location_quotient", min_value=0)),
            (c, E.ExpectColumnValuesToBeBetween(column="estimated_input_share", min_value=0, max_value=1)),
            # No estimated value is presented as reported.
            (c, E.ExpectColumnPairValuesToBeInSet(
                column_A="rests_on_estimates", column_B="basis",
                value_pairs_set=[(True, "estimated"), (True, "synthetic"), (False, "reported")])),
            (c, E.ExpectColumnValuesToBeInSet(column="reference", value_set=["cluster8", "sichuan_chongqing"])),
        ]),
        SuiteSpec("mart_fct_area_pair_structure", "select * from marts.fct_area_pair_structure", [
            # 8 areas give 8*7/2 = 28 unordered pairs a year.
            (c, E.ExpectTableRowCountToEqual(value=members * (members - 1) // 2 * n_years)),
            (c, E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="area_code_b", column_B="area_code_a")),
            (c, E.ExpectColumnValuesToBeBetween(column="similarity_coefficient", min_value=0, max_value=1.000001)),
            (c, E.ExpectColumnValuesToBeBetween(column="krugman_dissimilarity", min_value=0, max_value=2.000001)),
            (c, E.ExpectColumnValuesToBeBetween(column="share_duplicated", min_value=0, max_value=1)),
        ]),
        SuiteSpec("mart_fct_sector_concentration", "select * from marts.fct_sector_concentration", [
            (c, E.ExpectCompoundColumnsToBeUnique(column_list=["sector_code", "year"])),
            (c, E.ExpectColumnValuesToBeBetween(column="hhi_normalised", min_value=-0.000001, max_value=1.000001)),
            (c, E.ExpectColumnValuesToBeBetween(column="hoover_coefficient", min_value=0, max_value=1)),
            (c, E.ExpectColumnValuesToBeBetween(column="locational_gini", min_value=-0.000001, max_value=1)),
        ]),
        SuiteSpec("mart_fct_area_shift_share",
                  "select *, national_share_yuan + industry_mix_yuan + regional_shift_yuan - change_yuan as residual_yuan "
                  "from marts.fct_area_shift_share", [
            (c, E.ExpectTableRowCountToEqual(value=members)),
            # NS + IM + RS must add up to the change (to within one yuan of rounding).
            (c, E.ExpectColumnValuesToBeBetween(column="residual_yuan", min_value=-1, max_value=1)),
        ]),
        SuiteSpec("mart_fct_benchmark_gap", "select * from marts.fct_benchmark_gap", [
            (c, E.ExpectCompoundColumnsToBeUnique(column_list=["benchmark_area_code", "metric_code", "year"])),
            (c, E.ExpectColumnValuesToBeBetween(column="gap_ratio", min_value=0, strict_min=True)),
            (c, E.ExpectColumnValuesToBeInSet(column="benchmark_area_code", value_set=["320000", "330000"])),
            (w, E.ExpectTableRowCountToBeBetween(min_value=2 * n_years)),
        ]),
        SuiteSpec("mart_fct_cluster_coupling", "select * from marts.fct_cluster_coupling", [
            (c, E.ExpectTableRowCountToEqual(value=n_years)),
            (c, E.ExpectColumnValuesToBeBetween(column="coupling_classic", min_value=0, max_value=1.000001)),
            (c, E.ExpectColumnValuesToBeBetween(column="coupling_corrected", min_value=0, max_value=1.000001)),
            (c, E.ExpectColumnValuesToBeBetween(column="coordination_degree_corrected", min_value=0, max_value=1.000001)),
            # The corrected coupling is never above the classic one (it adds a penalty).
            (c, E.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="coupling_classic", column_B="coupling_corrected", or_equal=True)),
        ]),
    ]


def _write_offline_index(report_dir: Path, gate: GateResult) -> None:
    """A self-contained HTML page of every check (GX's own Data Docs load styles from CDNs)."""
    rows = []
    for r in gate.results:
        status = "pass" if r.success else ("FAIL" if r.severity == CRITICAL else "warn")
        colour = {"pass": "#e6f4ea", "FAIL": "#fce8e6", "warn": "#fef7e0"}[status]
        args = html.escape(", ".join(f"{k}={v}" for k, v in r.kwargs.items() if k != "batch_id"))
        rows.append(
            f"<tr style='background:{colour}'><td>{html.escape(r.suite)}</td><td>{html.escape(r.expectation)}</td>"
            f"<td>{args}</td><td>{r.severity}</td><td>{status}</td><td>{r.unexpected_count or ''}</td>"
            f"<td>{html.escape(str(r.examples[:5]) if r.examples else '')}</td></tr>")
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>Chengyu warehouse quality gate</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;font-size:13px}}</style>
</head><body><h1>Quality gate</h1>
<p>{gate.n_passed} passed, {gate.n_warned} warned, {gate.n_critical_failed} critical failed.
Great Expectations Data Docs: <a href="data_docs/index.html">data_docs/index.html</a> (styled when online, readable offline).
Raw results: <code>results/*.json</code>.</p>
<table><tr><th>suite</th><th>expectation</th><th>arguments</th><th>severity</th><th>status</th><th>rows breaking it</th><th>examples</th></tr>
{''.join(rows)}</table></body></html>"""
    (report_dir / "index.html").write_text(page, encoding="utf-8")


def run_quality_gate(database: Path, project_dir: Path, has_user_file: bool) -> GateResult:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    import yaml

    settings = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]
    report_dir = Path(os.environ.get("CHENGYU_REPORTS", project_dir / "reports")).resolve()
    results_dir = report_dir / "results"
    shutil.rmtree(results_dir, ignore_errors=True)
    results_dir.mkdir(parents=True, exist_ok=True)
    gate = GateResult(report_dir)

    with tempfile.TemporaryDirectory(prefix="chengyu-gx-") as gx_root:
        context = gx.get_context(mode="file", project_root_dir=gx_root)
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        datasource = context.data_sources.add_pandas("candidate")
        con = duckdb.connect(str(database), read_only=True)
        try:
            for spec in suites(settings["panel_start_year"], settings["panel_end_year"]):
                if spec.needs_user_file and not has_user_file:
                    continue
                frame = con.execute(spec.query).df()
                asset = datasource.add_dataframe_asset(name=spec.name)
                batch = asset.add_batch_definition_whole_dataframe("whole")
                suite = context.suites.add(gx.ExpectationSuite(name=spec.name))
                for severity, expectation in spec.expectations:
                    expectation.meta = {"severity": severity}
                    suite.add_expectation(expectation)
                definition = context.validation_definitions.add(
                    gx.ValidationDefinition(name=spec.name, data=batch, suite=suite))
                checkpoint = context.checkpoints.add(gx.Checkpoint(
                    name=spec.name, validation_definitions=[definition],
                    result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5}))
                run = checkpoint.run(batch_parameters={"dataframe": frame})
                for validation in run.run_results.values():
                    (results_dir / f"{spec.name}.json").write_text(
                        json.dumps(validation.to_json_dict(), indent=2, default=str), encoding="utf-8")
                    for r in validation.results:
                        config = r.expectation_config
                        gate.results.append(CheckResult(
                            suite=spec.name, expectation=config.type,
                            kwargs={k: v for k, v in config.kwargs.items() if k != "batch_id"},
                            severity=(config.meta or {}).get("severity", CRITICAL),
                            success=bool(r.success),
                            unexpected_count=r.result.get("unexpected_count"),
                            examples=r.result.get("partial_unexpected_list") or []))
        finally:
            con.close()
        # Once at the end: a per-checkpoint UpdateDataDocsAction rebuilds the whole site each time.
        context.build_data_docs()
        docs = Path(gx_root) / "gx" / "uncommitted" / "data_docs" / "local_site"
        shutil.rmtree(report_dir / "data_docs", ignore_errors=True)
        if docs.exists():
            shutil.copytree(docs, report_dir / "data_docs")
    _write_offline_index(report_dir, gate)
    return gate
