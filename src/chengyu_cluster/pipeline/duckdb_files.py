"""The DuckDB backend of the build pipeline: the candidate is a file, a version is published
by renaming files and moving one pointer (publish/versions.py).

The candidate gets the input reader's tables (`raw.*`) and, with --microdata, the
microdata relations before dbt runs; dbt builds it in a child process (pipeline/dbt_runner.py)
while the quality gate profiles the published version on the other core.
"""

from __future__ import annotations

import argparse
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

from chengyu_cluster.exits import EXIT_OK, EXIT_USAGE, ChengyuExit
from chengyu_cluster.inputs.reader import AcceptedInputs, load_inputs
from chengyu_cluster.pipeline.build import report_dir
from chengyu_cluster.pipeline.guard import duckdb_connection
from chengyu_cluster.publish import versions as wh


def code_version(project_dir: Path) -> str:
    from importlib.metadata import version

    try:
        commit = subprocess.run(
            ["git", "-C", str(project_dir), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{version('chengyu-cluster')}+{commit or 'unknown'}"


def table_row_counts(database: Path) -> dict[str, int]:
    with duckdb_connection(database, read_only=True) as con:
        names = con.execute(
            "select table_name from duckdb_tables() where schema_name = 'marts' order by table_name"
        ).fetchall()
        return {n: con.execute(f'select count(*) from marts."{n}"').fetchone()[0] for (n,) in names}


class DuckDBFiles:
    """A build of the DuckDB warehouse at $CHENGYU_WAREHOUSE (default warehouse/chengyu.duckdb)."""

    def __init__(self, args: argparse.Namespace, project_dir: Path):
        if args.select or args.selector:
            raise ChengyuExit(
                EXIT_USAGE, "--select and --selector are for --target spark; the DuckDB build builds the whole project"
            )
        self.args, self.project_dir = args, project_dir
        self.paths = wh.WarehousePaths.from_env(project_dir)
        self.unchanged = f"the published warehouse {self.paths.published} is unchanged"
        self.candidate = self.paths.candidate()
        # Set by the steps, in order: locked, new_candidate, write_inputs, run_dbt, seal.
        self.live: wh.Version | None = None
        self.no_comparison: str | None = None  # why the gate compares with nothing
        self.needed_bytes = 0
        self.context: dict[str, str] = {}  # the build's id and code version
        self.baseline = None  # the published version's profile
        self.record: dict = {}  # the version's record

    @contextmanager
    def locked(self):
        paths = self.paths
        wh.check_publishable(paths)  # before anything is created next to the warehouse path
        with wh.build_lock(paths):
            for leftover in wh.remove_leftovers(paths):
                print(f"removed what an interrupted build left: {leftover.name}", flush=True)
            wh.check_publishable(paths)
            wh.adopt_legacy_file(paths)
            # Fails closed on a damaged live file (unless --accept-shift).
            self.live, self.no_comparison = wh.live_for_build(paths, self.args.accept_shift)
            self.needed_bytes = wh.check_free_space(paths, self.live)
            yield

    def check_microdata(self, accepted: AcceptedInputs):
        from chengyu_cluster.microdata.for_cli import check_for_cli

        return check_for_cli(self.args, self.project_dir, accepted, self.paths)

    def new_candidate(self) -> str:
        self.context = {"build_id": wh.unique_build_id(self.paths), "code_version": code_version(self.project_dir)}
        return f"the candidate {self.candidate}"

    def write_inputs(self, accepted: AcceptedInputs, microdata) -> None:
        """The checked inputs and the build's identity as raw tables of a new candidate file,
        and the microdata when given (with the load state its dbt run reads)."""
        from chengyu_cluster.microdata.for_cli import attach_for_cli

        with wh.storage_errors(f"write the candidate warehouse in {self.paths.versions_dir}"):
            with duckdb_connection(self.candidate) as con:
                load_inputs(con, accepted, self.context)
                if microdata:
                    attach_for_cli(
                        con, microdata, self.args, self.project_dir, self.paths, self.context["build_id"], accepted
                    )

    def run_dbt(self):
        from chengyu_cluster.pipeline.dbt_runner import DbtBuild
        from chengyu_cluster.quality.gate import prepare_gate

        with DbtBuild(self.project_dir, self.candidate, quiet=not self.args.verbose) as dbt:
            # Meanwhile, on the other core.
            self.baseline = prepare_gate(
                self.project_dir,
                self.live.database if self.live else None,
                self.args.accept_shift,
                self.no_comparison or "nothing is published yet",
            )
            outcome = dbt.wait()
        if not outcome.success and any("No space left" in item.message for item in outcome.failures):
            raise wh.StorageError(
                f"cannot write the candidate warehouse in {self.paths.versions_dir}: no space "
                f"left on the device; a build needs about {self.needed_bytes / 2**20:.0f} MiB"
            )
        return outcome

    def run_gate(self):
        from chengyu_cluster.quality.gate import run_quality_gate

        return run_quality_gate(self.candidate, self.baseline, report_dir(self.project_dir), self.args.accept_shift)

    def discard(self) -> None:
        for leftover in (self.candidate, self.candidate.with_name(self.candidate.name + ".wal")):
            leftover.unlink(missing_ok=True)

    def seal(self, accepted: AcceptedInputs, microdata, gate) -> None:
        wh.seal(self.candidate)
        self.record = {
            "build_id": self.context["build_id"],
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "code_version": self.context["code_version"],
            "inputs": [{"file": f.display, "sha256": f.sha256, "size_bytes": f.size_bytes} for f in accepted.files],
            "microdata": microdata.record_inputs() if microdata else [],
            "row_counts": table_row_counts(self.candidate),
            "compared_with": gate.compared_with,
            "accepted_shift": gate.accepted_shift,
        }

    def publish(self) -> wh.Version:
        command = "build" + (" --accept-shift" if self.args.accept_shift else "")
        return wh.publish(
            self.paths,
            self.candidate,
            self.context["build_id"],
            self.record,
            keep=self.args.keep_versions,
            command=command,
        )

    def finish(self, version: wh.Version, outcome, gate, timings: dict[str, float]) -> int:
        from chengyu_cluster.pipeline.summary import print_summary

        # The version's own file, not the pointer: another build or rollback may move the pointer now.
        print_summary(self.paths.published, version, outcome, gate, timings)
        if self.args.publish_postgres:
            from chengyu_cluster.publish.copies import refresh_postgres_copy

            return refresh_postgres_copy(self.args, self.paths, version)
        return EXIT_OK
