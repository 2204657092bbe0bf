"""`chengyu build`: one write-audit-publish pipeline, whatever the engine.

    inputs -> candidate -> dbt -> quality gate -> publish

1. **inputs**: the input reader (inputs/reader.py) reads and checks every seed and the
   user's file, on either engine: a rejected input is exit 3 before anything is built.
2. **candidate**: a place readers never see (DuckDB: a candidate file; Spark: candidate
   schemas `<schema>__b<build id>`), discarded unless it is published (pipeline/guard.py).
3. **dbt** builds and tests the candidate: a failure is exit 4.
4. **quality gate** (quality/gate.py) compares the candidate with the published version:
   a large shift is exit 5 unless `--accept-shift REASON`.
5. **publish**, in one step no signal splits (DuckDB: a new version file and the pointer;
   Spark: views switched to the candidate).

What differs per engine is a backend: `DuckDBFiles` (pipeline/duckdb_files.py) and
`SparkSchemas` (pipeline/spark_schemas.py) implement `Backend`. The steps, their order,
the messages and the exit codes are here, once.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

import yaml

from chengyu_cluster.exits import EXIT_DBT, EXIT_INPUT, EXIT_QUALITY, EXIT_USAGE, ChengyuExit
from chengyu_cluster.inputs.reader import DEFAULT_MAX_INPUT_BYTES, AcceptedInputs, read_inputs
from chengyu_cluster.pipeline.guard import candidate_guard, stop_on_signals, uninterruptible
from chengyu_cluster.publish.versions import pause_for_fault_test


class Backend(Protocol):
    """An engine's candidate, dbt run, gate and publisher (one object per build)."""

    #: "the published warehouse <file> is unchanged": what a build that stops leaves as it was.
    unchanged: str

    def locked(self) -> AbstractContextManager:
        """One build of this warehouse at a time; inside it, leftovers of killed builds are removed."""

    def check_microdata(self, accepted: AcceptedInputs):
        """The --microdata delivery checked (its problems added to `accepted`), or None."""

    def new_candidate(self) -> str:
        """Choose the build id; returns what the candidate is called (for messages)."""

    def write_inputs(self, accepted: AcceptedInputs, microdata) -> None:
        """Create the candidate with the checked inputs (where the engine takes them from the reader)."""

    def run_dbt(self):
        """dbt builds and tests the candidate: its DbtOutcome."""

    def run_gate(self):
        """The quality gate on the built candidate: its GateResult."""

    def discard(self) -> None:
        """Remove the candidate: the build did not publish it."""

    def seal(self, accepted: AcceptedInputs, microdata, gate) -> None:
        """Everything before the commit that a signal may still stop."""

    def publish(self):
        """Make the candidate live (no signal splits this step); what was published."""

    def finish(self, published, outcome, gate, timings: dict[str, float]) -> int:
        """Report the published build (and refresh copies): the exit code."""


def stage(name: str) -> None:
    """Announce a stage (the fault tests pause the build at one by name)."""
    print(f"[stage] {name}", flush=True)
    pause_for_fault_test(name)


def project_vars(project_dir: Path) -> dict:
    return yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]


def report_dir(project_dir: Path) -> Path:
    """Where the gate writes its reports: $CHENGYU_REPORTS, else reports/ of the project."""
    return Path(os.environ.get("CHENGYU_REPORTS", project_dir / "reports")).resolve()


def read_checked_inputs(args: argparse.Namespace, project_dir: Path) -> AcceptedInputs:
    """Every seed and the user's --sector-output, read once and checked; findings printed."""
    settings = project_vars(project_dir)
    if args.sheet is not None and not args.sector_output:
        raise ChengyuExit(EXIT_USAGE, "--sheet names a sheet of the --sector-output workbook; give that too")
    sector_output = Path(args.sector_output).absolute() if args.sector_output else None
    max_bytes = int(args.max_input_mb * 2**20) if args.max_input_mb else DEFAULT_MAX_INPUT_BYTES
    accepted = read_inputs(
        project_dir, sector_output, settings["panel_start_year"], settings["panel_end_year"], max_bytes, args.sheet
    )
    for line in accepted.findings.lines():
        print(line, file=sys.stderr if line.startswith("ERROR") else sys.stdout)
    return accepted


def _sentence(text: str) -> str:
    return f"{text[:1].upper()}{text[1:]}."


def report_dbt(outcome, unchanged: str) -> bool:
    """Print dbt's warnings and failures (with sample rows); True when the build passed."""
    for item in outcome.warnings:
        print(f"WARNING dbt {item.kind} {item.name}: {item.message}")
        for row in item.sample_rows:
            print(f"    row: {row}")
    if outcome.success:
        return True
    for item in outcome.failures:
        print(f"ERROR dbt {item.kind} {item.name}: {item.message}", file=sys.stderr)
        for row in item.sample_rows:
            print(f"    offending row: {row}", file=sys.stderr)
    print(f"\nBuild failed in dbt. {_sentence(unchanged)}", file=sys.stderr)
    return False


def report_gate(gate, unchanged: str) -> bool:
    """Print the gate's shifts; True when no critical check failed."""
    for line in gate.messages():
        print(line, file=sys.stderr if line.startswith("CRITICAL") else sys.stdout)
    if gate.passed:
        return True
    print(
        f"\nQuality gate failed: {gate.n_critical_failed} critical check(s). "
        f"{_sentence(unchanged)} Reports: {gate.report_dir}. "
        'If the shift is expected, build again with --accept-shift "<reason>".',
        file=sys.stderr,
    )
    return False


class Timer:
    """Seconds per step, in the order the steps ran (the build's summary prints them)."""

    def __init__(self) -> None:
        self.started, self.timings = time.perf_counter(), {}

    def step(self, name: str, work):
        t = time.perf_counter()
        try:
            return work()
        finally:
            self.timings[name] = time.perf_counter() - t

    def total(self) -> dict[str, float]:
        return dict(self.timings, total=time.perf_counter() - self.started)


def run_build(backend: Backend, args: argparse.Namespace, project_dir: Path) -> int:
    """The pipeline; returns the exit code (foreseeable failures raise WarehouseError)."""
    timer = Timer()
    with stop_on_signals() as stop_if_signalled, backend.locked():
        stage("validate-inputs")
        accepted, microdata = timer.step("input checks", lambda: _inputs(backend, args, project_dir))
        # After each step: a signal that the step swallowed, or reported as its failure, is the stop.
        stop_if_signalled()
        if not accepted.ok:
            print(
                f"\nInput rejected: {accepted.findings.n_errors} problem(s). Nothing was built; {backend.unchanged}.",
                file=sys.stderr,
            )
            return EXIT_INPUT
        with candidate_guard(backend.discard, backend.new_candidate()) as guard:
            backend.write_inputs(accepted, microdata)
            stage("dbt-build")
            outcome = timer.step("dbt build", backend.run_dbt)
            stop_if_signalled()
            if not report_dbt(outcome, backend.unchanged):
                return EXIT_DBT
            stage("quality-gate")
            gate = timer.step("quality gate", backend.run_gate)
            stop_if_signalled()
            if not report_gate(gate, backend.unchanged):
                return EXIT_QUALITY
            stage("seal")
            timer.step("seal", lambda: backend.seal(accepted, microdata, gate))
            stage("publish")
            with uninterruptible():
                stop_if_signalled()
                published = timer.step("publish", backend.publish)
                guard.published()
    return backend.finish(published, outcome, gate, timer.total())


def _inputs(backend: Backend, args: argparse.Namespace, project_dir: Path):
    accepted = read_checked_inputs(args, project_dir)
    return accepted, backend.check_microdata(accepted)
