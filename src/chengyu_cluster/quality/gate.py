"""The quality gate: Great Expectations compares the candidate with the published version.

dbt tests own the invariants of a build; they cannot see how a build differs from the one
analysts use now. This gate does: row counts and columns of every public mart, the
distribution of the key measures, the share of the panel that rests on estimates and the
reconciliation errors, each against the published version, with the limits of
`quality/gate.yml`. A "warn" shift is printed; a "block" shift fails the build unless the
operator explains it (`--accept-shift REASON`).

Great Expectations 1.x has no DuckDB SQL dialect, so each suite validates a pandas
DataFrame read from the candidate (read-only). On Spark (`chengyu build --target spark`,
pipeline/spark_schemas.py) the same suites validate Spark DataFrames of the candidate schema through
GX's Spark data source, in the build's SparkSession (`run_quality_gate_spark`); what is
read is defined once for both engines (quality/profile.py). The
expectations' limits are computed from the published version, so Data Docs read as
"median location quotient between 0.93 and 1.14 (published: 1.03)"; the mean and
standard deviation likewise.
"""

from __future__ import annotations

import html
import json
import math
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import yaml

from chengyu_cluster.pipeline.guard import duckdb_connection
from chengyu_cluster.quality.profile import duckdb_marts, frame_sql, profile, spark_marts

WARNING = "warning"
CRITICAL = "critical"
GATE_CONFIG = "quality/gate.yml"
# Each gate page is also kept as builds/<build id>.html, so that a rollback can show the live
# build's page again; the newest this many are kept (more than any usual --keep-versions).
KEPT_GATE_PAGES = 50


@dataclass
class CheckResult:
    suite: str
    expectation: str
    kwargs: dict
    severity: str
    success: bool
    observed: object
    published: object = None


@dataclass
class GateResult:
    report_dir: Path
    compared_with: str | None = None  # build id of the published version
    build_id: str | None = None  # the candidate's (None on Spark: its page is not kept per build)
    accepted_shift: str | None = None
    note: str | None = None  # why nothing was compared
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
        if self.note:
            lines.append(f"Quality gate: {self.note}; no comparison with a published version.")
        for r in self.results:
            if r.success:
                continue
            label = "CRITICAL" if r.severity == CRITICAL else "WARNING"
            args = ", ".join(f"{k}={_short(v)}" for k, v in r.kwargs.items())
            lines.append(
                f"{label} shift in {r.suite}: {r.expectation}({args}): "
                f"candidate {_short(r.observed)}, published {_short(r.published)}"
            )
        if self.accepted_shift and any(not r.success for r in self.results):
            lines.append(f"Shifts accepted by the operator: {self.accepted_shift}")
        return lines


def _short(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in value.items()) + "}"
    return str(value)


# ---- limits: pure functions of the published values -------------------------------------------


def count_band(published: int, limit: float) -> tuple[int, int]:
    """Row counts whose change from the published count is at most `limit` (relative)."""
    return math.ceil(published * (1 - limit)), math.floor(published * (1 + limit))


def distribution_band(value: float, stdev: float, limit: float) -> tuple[float, float]:
    """Values within `limit` of `value`, relative to the value or to the published standard
    deviation, whichever is larger (values near zero are not judged in percent)."""
    half = limit * max(abs(value), abs(stdev))
    return value - half, value + half


def share_band(value: float, limit: float) -> tuple[float, float]:
    return max(0.0, value - limit), min(1.0, value + limit)


def import_great_expectations():
    """Import Great Expectations quietly. With pyspark installed (the `spark` extra), GX
    imports it, and pyspark prints a pandas-version FutureWarning to stderr and a "Skipping
    doctests" line to stdout; neither concerns the gate, and the build's output stays as
    documented. Only this process's Python streams are redirected (dbt runs in a child).

    pyspark.sql.connect also calls sys.exit(0) on import when the main module has neither a
    __spec__ nor a __file__ (it takes that for a doctest run): `python -c`, and pytest-xdist's
    workers. The main module gets a placeholder __file__ for the import, removed after."""
    import contextlib
    import io
    import sys
    import warnings

    main = sys.modules.get("__main__")
    placeholder = main is not None and getattr(main, "__spec__", None) is None and not hasattr(main, "__file__")
    if placeholder:
        main.__file__ = "<chengyu>"
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore", FutureWarning)
            import great_expectations
    finally:
        if placeholder:
            del main.__file__
    return great_expectations


# ---- expectations -----------------------------------------------------------------------------


def expectations(
    relation: str, published: dict, measures: list[dict], thresholds: dict, warn_only_row_counts: tuple[str, ...] = ()
) -> list:
    """(severity, expectation, published value) for one mart, limits from the published profile."""
    gx = import_great_expectations()

    E = gx.expectations
    out = [
        (
            CRITICAL,
            E.ExpectTableColumnsToMatchSet(column_set=published["columns"][relation], exact_match=False),
            published["columns"][relation],
        )
    ]
    n = published["counts"][relation]
    levels = ((WARNING, "warn"),) if relation in warn_only_row_counts else ((WARNING, "warn"), (CRITICAL, "block"))
    for severity, level in levels:
        low, high = count_band(n, thresholds["row_count"][level])
        out.append((severity, E.ExpectTableRowCountToBeBetween(min_value=low, max_value=high), n))
    for m in measures:
        value = published["stats"].get((relation, m["column"]))
        if m["relation"] != relation or value is None:
            continue
        for severity, level in ((WARNING, "warn"), (CRITICAL, "block")):
            limit = thresholds[m["kind"]][level]
            if m["kind"] == "distribution":
                # (ExpectColumnQuantileValuesToBeBetween cannot store its result in GX 1.24 with pandas.)
                spread = value["stdev"] or 0.0
                for stat, expectation in (
                    ("median", E.ExpectColumnMedianToBeBetween),
                    ("mean", E.ExpectColumnMeanToBeBetween),
                    ("stdev", E.ExpectColumnStdevToBeBetween),
                ):
                    if value[stat] is None:
                        continue
                    low, high = distribution_band(value[stat], spread, limit)
                    out.append((severity, expectation(column=m["column"], min_value=low, max_value=high), value[stat]))
            elif m["kind"] == "share":
                low, high = share_band(value, limit)
                out.append(
                    (severity, E.ExpectColumnMaxToBeBetween(column=m["column"], min_value=low, max_value=high), value)
                )
            else:
                out.append((severity, E.ExpectColumnMaxToBeBetween(column=m["column"], max_value=value + limit), value))
    return out


@dataclass
class Baseline:
    """What the candidate is compared with: the gate's limits and the published profile."""

    config: dict
    build_id: str | None = None
    profile: dict | None = None
    note: str | None = None  # why nothing is compared


def load_gate_config(project_dir: Path) -> dict:
    return yaml.safe_load((project_dir / GATE_CONFIG).read_text(encoding="utf-8"))


def prepare_gate(
    project_dir: Path,
    published: Path | None,
    accept_shift: str | None = None,
    no_comparison: str = "nothing is published yet",
) -> Baseline:
    """Load Great Expectations and profile the published version (a DuckDB file).

    Called while dbt builds the candidate in its child process, so both cores work.
    Fails closed: a published version the gate cannot read stops the build (locked: exit 6,
    damaged: exit 11) unless the user accepts publishing without a comparison (accept_shift).
    """
    import_great_expectations()  # the import alone takes seconds

    config = load_gate_config(project_dir)
    if published is None:
        return Baseline(config, note=no_comparison)
    try:
        with duckdb_connection(published, read_only=True) as con:
            build_id = con.execute("select build_id from marts.build_info").fetchone()[0]
            return Baseline(config, build_id, profile(duckdb_marts(con), config["measures"]))
    except duckdb.Error as exc:
        reason = f"the published version cannot be read ({str(exc).splitlines()[0]})"
        if accept_shift is not None:
            return Baseline(config, note=f"{reason}; published without a comparison: {accept_shift}")
        from chengyu_cluster.publish.versions import BuildLocked, CorruptVersion, is_lock_conflict

        refusal = BuildLocked if is_lock_conflict(exc) else CorruptVersion
        raise refusal(
            f"the quality gate stops the build: {reason}; close what holds it or repair it "
            "(`chengyu verify`), or build with --accept-shift REASON to publish without a comparison"
        ) from None


def prepare_gate_spark(project_dir: Path, spark, published_schema: str | None, build_id: str | None) -> Baseline:
    """The published marts' profile on Spark (None: nothing is published yet)."""
    config = load_gate_config(project_dir)
    if published_schema is None:
        return Baseline(config, note="nothing is published yet")
    return Baseline(config, build_id, profile(spark_marts(spark, published_schema), config["measures"]))


def run_quality_gate(
    candidate: Path, baseline: Baseline, report_dir: Path, accept_shift: str | None = None
) -> GateResult:
    """The gate on a DuckDB candidate file: each mart read as a pandas DataFrame."""
    with duckdb_connection(candidate, read_only=True) as con:
        marts = duckdb_marts(con)
        row = con.execute("select build_id from marts.build_info").fetchone() if "build_info" in marts.columns else None
        return _run_gate(
            lambda context: context.data_sources.add_pandas("candidate"),
            marts.columns,
            lambda relation: con.execute(frame_sql(marts, relation, baseline.config["measures"])).df(),
            baseline,
            report_dir,
            accept_shift,
            row[0] if row else None,
        )


def run_quality_gate_spark(
    spark, candidate_schema: str, baseline: Baseline, report_dir: Path, accept_shift: str | None = None
) -> GateResult:
    """The same gate on Spark: the candidate's marts (schema `candidate_schema`) validated as
    Spark DataFrames through GX's Spark data source (`add_spark`, a dataframe asset), in the
    SparkSession that built them. `candidate_schema` is a name chengyu made from a build id."""
    marts = spark_marts(spark, candidate_schema)
    return _run_gate(
        lambda context: context.data_sources.add_spark("candidate"),
        marts.columns,
        lambda relation: spark.sql(frame_sql(marts, relation, baseline.config["measures"])),
        baseline,
        report_dir,
        accept_shift,
    )


def _run_gate(
    add_datasource,
    now: dict[str, list[str]],
    frame_of,
    baseline: Baseline,
    report_dir: Path,
    accept_shift: str | None,
    build_id: str | None = None,
) -> GateResult:
    gx = import_great_expectations()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    results_dir = report_dir / "results"
    shutil.rmtree(results_dir, ignore_errors=True)
    results_dir.mkdir(parents=True, exist_ok=True)
    gate = GateResult(
        report_dir, compared_with=baseline.build_id, accepted_shift=accept_shift, note=baseline.note, build_id=build_id
    )
    if baseline.profile is None:
        _write_offline_index(report_dir, gate)
        return gate
    measures, thresholds = baseline.config["measures"], baseline.config["thresholds"]

    with tempfile.TemporaryDirectory(prefix="chengyu-gx-") as gx_root:
        docs = Path(gx_root) / "data_docs"
        context = _ephemeral_context(gx, docs)
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        datasource = add_datasource(context)
        for relation in baseline.profile["columns"]:
            if relation not in now:
                gate.results.append(
                    CheckResult(f"shift_{relation}", "public mart exists", {}, CRITICAL, False, "missing", "present")
                )
                continue
            checks = expectations(
                relation, baseline.profile, measures, thresholds, tuple(baseline.config.get("warn_only_row_counts", ()))
            )
            frame = frame_of(relation)
            _validate(context, datasource, f"shift_{relation}", frame, checks, gate, results_dir)
        context.build_data_docs()
        shutil.rmtree(report_dir / "data_docs", ignore_errors=True)
        if docs.exists():
            shutil.copytree(docs, report_dir / "data_docs")
    if accept_shift:
        for r in gate.results:
            if not r.success and r.severity == CRITICAL:
                r.severity = WARNING
    _write_offline_index(report_dir, gate)
    return gate


def _ephemeral_context(gx, docs: Path):
    """A GX context whose stores live in memory, its Data Docs site written to `docs`. A
    file context (mode="file") writes and re-reads its YAML configuration at every suite,
    asset and validation definition added: 4-5 s of a gate's 6 s, measured."""
    from great_expectations.data_context.types.base import DataContextConfig, InMemoryStoreBackendDefaults

    defaults = InMemoryStoreBackendDefaults(init_temp_docs_sites=True)
    for site in defaults.data_docs_sites.values():
        site["store_backend"]["base_directory"] = str(docs)
    return gx.get_context(mode="ephemeral", project_config=DataContextConfig(store_backend_defaults=defaults))


def _validate(context, datasource, name: str, frame, checks: list, gate: GateResult, results_dir: Path) -> None:
    gx = import_great_expectations()

    asset = datasource.add_dataframe_asset(name=name)
    batch = asset.add_batch_definition_whole_dataframe("whole")
    suite = context.suites.add(gx.ExpectationSuite(name=name))
    published_by_id = {}
    for severity, expectation, published_value in checks:
        expectation.meta = {"severity": severity, "published": _short(published_value)}
        added = suite.add_expectation(expectation)
        published_by_id[added.id] = published_value
    definition = context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch, suite=suite))
    run = definition.run(batch_parameters={"dataframe": frame}, result_format="SUMMARY")
    (results_dir / f"{name}.json").write_text(json.dumps(run.to_json_dict(), indent=2, default=str), encoding="utf-8")
    for r in run.results:
        cfg = r.expectation_config
        gate.results.append(
            CheckResult(
                suite=name,
                expectation=cfg.type,
                kwargs={k: v for k, v in cfg.kwargs.items() if k not in {"batch_id", "column_set"}},
                severity=(cfg.meta or {}).get("severity", CRITICAL),
                success=bool(r.success),
                observed=r.result.get("observed_value"),
                published=published_by_id.get(cfg.id),
            )
        )


def _write_offline_index(report_dir: Path, gate: GateResult) -> None:
    """A self-contained HTML page of every check (GX's own Data Docs load styles from CDNs):
    index.html, and a copy kept as builds/<build id>.html for `show_live_report`."""
    index = _gate_page(
        gate,
        'Great Expectations Data Docs: <a href="data_docs/index.html">data_docs/index.html</a> '
        "(styled when online, readable offline).\nRaw results: <code>results/*.json</code>.",
    )
    (report_dir / "index.html").write_text(index, encoding="utf-8")
    if gate.build_id:
        kept = report_dir / "builds"
        kept.mkdir(exist_ok=True)
        (kept / f"{gate.build_id}.html").write_text(
            _gate_page(gate, "Data Docs and raw results (data_docs/, results/) are those of the latest gate run."),
            encoding="utf-8",
        )
        for old in sorted(kept.glob("*.html"), key=lambda p: p.stat().st_mtime)[:-KEPT_GATE_PAGES]:
            old.unlink()


def _gate_page(gate: GateResult, details: str) -> str:
    rows = []
    for r in gate.results:
        status = "pass" if r.success else ("FAIL" if r.severity == CRITICAL else "warn")
        colour = {"pass": "#e6f4ea", "FAIL": "#fce8e6", "warn": "#fef7e0"}[status]
        args = html.escape(", ".join(f"{k}={_short(v)}" for k, v in r.kwargs.items()))
        rows.append(
            f"<tr style='background:{colour}'><td>{html.escape(r.suite)}</td><td>{html.escape(r.expectation)}</td>"
            f"<td>{args}</td><td>{r.severity}</td><td>{status}</td><td>{html.escape(_short(r.observed))}</td>"
            f"<td>{html.escape(_short(r.published))}</td></tr>"
        )
    compared = (
        f"Compared with the published version {html.escape(gate.compared_with)}."
        if gate.compared_with
        else f"No comparison: {html.escape(gate.note or '')}."
    )
    accepted = (
        f"<p>Shifts accepted by the operator: {html.escape(gate.accepted_shift)}</p>" if gate.accepted_shift else ""
    )
    build = html.escape(gate.build_id or "")
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>Chengyu warehouse quality gate</title>\n'
        f'<meta name="chengyu-build" content="{build}">\n'
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px}</style>\n"
        f"</head><body><h1>Quality gate of build {build or '(unknown)'}: candidate against the published "
        "version</h1>\n"
        f"<p>{compared} {gate.n_passed} passed, {gate.n_warned} warned, "
        f"{gate.n_critical_failed} critical failed.\n{details}\n"
        f"Limits: <code>quality/gate.yml</code>.</p>{accepted}\n"
        "<table><tr><th>suite</th><th>expectation</th><th>limits</th><th>severity</th><th>status</th>"
        "<th>candidate</th><th>published</th></tr>\n"
        f"{''.join(rows)}</table></body></html>"
    )


def show_live_report(report_dir: Path, build_id: str) -> str | None:
    """After a rollback: index.html becomes the gate page of the live build (kept in builds/);
    when that page is not kept, index.html says at its top that it shows another build.
    Returns a line for the user, or None when there is no gate report to speak of."""
    index, kept = report_dir / "index.html", report_dir / "builds" / f"{build_id}.html"
    if kept.exists():
        shutil.copyfile(kept, index)
        return f"gate report {index}: build {build_id}, the live one"
    if not index.exists():
        return None
    page = re.sub(r'<p id="not-live"[^\n]*\n', "", index.read_text(encoding="utf-8"))
    shown = re.search(r'<meta name="chengyu-build" content="([^"]*)">', page)
    if shown and shown.group(1) == build_id:
        index.write_text(page, encoding="utf-8")
        return f"gate report {index}: build {build_id}, the live one"
    of = f"build {shown.group(1)}" if shown and shown.group(1) else "another build"
    banner = (
        f'<p id="not-live" style="background:#fce8e6;padding:6px"><b>This report is of {html.escape(of)}, '
        f"not of the live version {html.escape(build_id)}</b> (rolled back; no gate report of it is kept "
        "here).</p>\n"
    )
    index.write_text(page.replace("<body>", "<body>" + banner, 1), encoding="utf-8")
    return f"gate report {index}: of {of}, not the live one (its page says so)"
