"""`chengyu build --target spark`: write, audit, publish on Apache Spark.

The DuckDB build writes a candidate file and renames it into place. On Spark the same
idea works with schemas (Spark databases) and views:

1. **Write**: dbt builds the project (or the selection given) into candidate
   schemas: every schema `<name>` of the project becomes `<name>__b<build id>`
   (macros/generate_schema_name.sql, var `chengyu_candidate_suffix`), e.g.
   `marts__b20261129t174512123456z`. Nothing a reader uses is touched.
2. **Audit**: the dbt tests run on the candidate (`dbt build`); then the quality gate
   (quality.py) compares the candidate's marts with the published ones through Great
   Expectations' Spark data source, in the same SparkSession.
3. **Publish**: for each model schema, every relation of the candidate gets a view in the
   published schema of the same base name: `alter view marts.x as select * from marts__b<id>.x`
   (`create view` the first time). Each switch is one metastore operation (alterTable), so a
   reader of `marts.x` sees the old table or the new one, never a half-written one (the candidate's tables are complete
   before the first switch). Views of the published schema that the candidate no longer has
   are dropped after the switch.
4. **Clean up**: candidates other than the new one and the one published before it are
   dropped (`drop database ... cascade`). The previous candidate is kept so that a query
   that resolved `marts.x` to it just before the switch can finish reading its files.

If dbt or a check fails, nothing published changes and this build's candidate is dropped
(as the DuckDB build removes its candidate file); a killed build's candidate is dropped by
the next successful publish.

Schema names come only from a build id that matched `warehouse.BUILD_ID` and from names the
Spark catalog lists that match `IDENTIFIER`; no user string becomes SQL text. The selector
or selection given on the command line goes to dbt as an argument, never into SQL.

The whole build runs in this process: dbt (dbtRunner, `method: session`) starts the JVM, and
the gate and the publish use the same SparkSession. Readers (other Spark applications) must
share the metastore: with the local Derby metastore of the `spark` target only one JVM can
open it at a time; a cluster's Hive metastore has no such limit.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from chengyu_cluster.publish import versions as wh

EXIT_SPARK_UNAVAILABLE = 14
#: A Spark database or table name chengyu will put into SQL (what the project's models use).
IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
SUFFIX = re.compile(r"b[0-9]{8}t[0-9]{12}z")
CANDIDATE = re.compile(r"(?P<base>[a-z_][a-z0-9_]*?)__(?P<suffix>b[0-9]{8}t[0-9]{12}z)")
#: The view text of a view chengyu published: `select * from <candidate>.<name>`.
PUBLISHED_VIEW = re.compile(
    r"\s*select\s+\*\s+from\s+`?(?P<schema>[a-z_][a-z0-9_]*?__b[0-9]{8}t[0-9]{12}z)`?\.`?(?P<name>[a-z_][a-z0-9_]*)`?\s*",
    re.IGNORECASE)
DERBY_IN_USE = ("Another instance of Derby may have already booted", "XSDB6")


class SparkUnavailable(wh.WarehouseError):
    """pyspark / dbt-spark not installed, or no Java runtime."""

    exit_code = EXIT_SPARK_UNAVAILABLE


# ---- names: pure functions ----------------------------------------------------------------------

def candidate_suffix(build_id: str) -> str:
    """`b` + the build id in lower case: the suffix of this build's candidate schemas."""
    if not wh.BUILD_ID.fullmatch(build_id):
        raise ValueError(f"not a build id: {build_id!r}")
    return "b" + build_id.lower()


def build_id_of_suffix(suffix: str) -> str:
    """The inverse of candidate_suffix: b20261129t174512123456z -> 20261129T174512123456Z."""
    if not SUFFIX.fullmatch(suffix):
        raise ValueError(f"not a candidate suffix: {suffix!r}")
    return suffix[1:9] + "T" + suffix[10:22] + "Z"


def candidate_schema(base: str, build_id: str) -> str:
    if not IDENTIFIER.fullmatch(base):
        raise ValueError(f"not a schema name chengyu uses: {base!r}")
    return f"{base}__{candidate_suffix(build_id)}"


def parse_candidate(schema: str) -> tuple[str, str] | None:
    """(base schema, build id) of a candidate schema name, or None for any other name."""
    match = CANDIDATE.fullmatch(schema)
    if match is None:
        return None
    return match["base"], build_id_of_suffix(match["suffix"])


def published_target(view_text: str | None) -> tuple[str, str] | None:
    """(candidate schema, relation) a published view selects from, None if it is no such view."""
    match = PUBLISHED_VIEW.fullmatch(view_text or "")
    return (match["schema"].lower(), match["name"].lower()) if match else None


def q(name: str) -> str:
    """A checked identifier in backticks (the only way a name enters SQL here)."""
    if not IDENTIFIER.fullmatch(name):
        raise ValueError(f"refusing to put {name!r} into SQL: not a plain lower-case name")
    return f"`{name}`"


@dataclass
class SwitchPlan:
    """What publishing a candidate does: views to switch (alter), to create and to drop.

    A view that exists is switched with `alter view ... as`, not `create or replace view`:
    Spark runs CREATE OR REPLACE of a permanent view as a drop followed by a create (a
    reader in between finds no view), ALTER VIEW AS as one alterTable of the metastore.
    """
    alters: list[tuple[str, str, str]] = field(default_factory=list)  # (published schema, name, candidate schema)
    creates: list[tuple[str, str, str]] = field(default_factory=list)
    drops: list[tuple[str, str]] = field(default_factory=list)  # (published schema, name)

    def statements(self) -> list[str]:
        out = [f"alter view {q(schema)}.{q(name)} as select * from {q(candidate)}.{q(name)}"
               for schema, name, candidate in self.alters]
        out += [f"create view {q(schema)}.{q(name)} as select * from {q(candidate)}.{q(name)}"
                for schema, name, candidate in self.creates]
        return out + [f"drop view if exists {q(schema)}.{q(name)}" for schema, name in self.drops]


def plan_switch(candidate: dict[str, list[str]], published: dict[str, list[str]], build_id: str) -> SwitchPlan:
    """candidate: {base schema: relations of its candidate schema}; published: {base schema:
    views chengyu published there now}. Every candidate relation gets its view; published
    views the candidate no longer has are dropped, after the switch."""
    plan = SwitchPlan()
    for base in sorted(candidate):
        cand = candidate_schema(base, build_id)
        for name in sorted(candidate[base]):
            (plan.alters if name in published.get(base, ()) else plan.creates).append((base, name, cand))
        for name in sorted(set(published.get(base, ())) - set(candidate[base])):
            plan.drops.append((base, name))
    return plan


def candidates_to_drop(schemas: list[str], keep_ids: set[str]) -> list[str]:
    """Candidate schemas whose build is not kept (the new one and the one before it)."""
    return sorted(s for s in schemas if (parsed := parse_candidate(s)) is not None and parsed[1] not in keep_ids)


# ---- checks before starting ---------------------------------------------------------------------

def check_spark_available() -> None:
    try:
        import dbt.adapters.spark  # noqa: F401
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise SparkUnavailable(f"the Spark target needs the `spark` extra ({exc.name} is not installed): "
                               "pip install -e '.[spark]' -c requirements.lock") from None
    java_home = os.environ.get("JAVA_HOME")
    if not (java_home and os.access(Path(java_home) / "bin" / "java", os.X_OK)) and shutil.which("java") is None:
        raise SparkUnavailable("Spark needs a Java runtime (17 or later) and there is no `java` on PATH and no "
                               "JAVA_HOME: install one, e.g. apt-get install default-jre-headless")


@contextmanager
def spark_build_lock(spark_dir: Path):
    """One chengyu build of this Spark warehouse at a time (flock, released when the holder dies)."""
    with wh.storage_errors(f"create the Spark warehouse folder {spark_dir}"):
        spark_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(spark_dir / "chengyu-build.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    with wh.exclusive(fd, f"another chengyu build of the Spark warehouse {spark_dir} is running"):
        yield


def spark_dir_of(project_dir: Path) -> Path:
    """CHENGYU_SPARK_DIR as an absolute path (the profile's settings are relative to the
    working directory otherwise); set in the environment for dbt."""
    spark_dir = Path(os.environ.get("CHENGYU_SPARK_DIR") or project_dir / "warehouse" / "spark").absolute()
    os.environ["CHENGYU_SPARK_DIR"] = str(spark_dir)
    return spark_dir


# ---- the catalog ------------------------------------------------------------------------------

def list_schemas(spark) -> list[str]:
    return sorted(row[0] for row in spark.sql("show databases").collect())


def list_relations(spark, schema: str) -> dict[str, str]:
    """{name: 'VIEW' | 'TABLE'} of a schema (names as the catalog lists them)."""
    out = {}
    for table in spark.catalog.listTables(schema):
        if not table.isTemporary:
            out[table.name] = "VIEW" if table.tableType == "VIEW" else "TABLE"
    return out


def view_text(spark, schema: str, name: str) -> str | None:
    for row in spark.sql(f"describe table extended {q(schema)}.{q(name)}").collect():
        if row[0] == "View Text":
            return row[1]
    return None


@dataclass
class Published:
    """What chengyu has published: {base schema: {view: candidate schema}}, and the build ids
    the views point at (one, unless a publish was interrupted)."""
    views: dict[str, dict[str, str]]

    @property
    def build_ids(self) -> set[str]:
        return {parse_candidate(c)[1] for names in self.views.values() for c in names.values()}


def read_published(spark, bases: list[str]) -> Published:
    """The published views of these schemas; refuses (exit 9) a schema holding anything else."""
    existing = set(list_schemas(spark))
    views: dict[str, dict[str, str]] = {}
    for base in bases:
        if base not in existing:
            continue
        views[base] = {}
        for name, kind in list_relations(spark, base).items():
            target = published_target(view_text(spark, base, name)) if kind == "VIEW" else None
            if target is None or not IDENTIFIER.fullmatch(name) or parse_candidate(target[0]) is None:
                raise wh.UnsafeWarehousePath(
                    f"the published schema {base} holds {name}, a {kind.lower()} chengyu did not publish "
                    f"(not `select * from <schema>__b<build id>.{name}`); move it away or use another "
                    "CHENGYU_SPARK_DIR / metastore. Nothing was published")
            views[base][name] = target[0]
    return Published(views)


# ---- the build ----------------------------------------------------------------------------------

def dbt_arguments(project_dir: Path, build_id: str, selector: str | None, select: list[str] | None,
                  quiet: bool) -> list[str]:
    args = ["build", "--target", "spark", "--project-dir", str(project_dir), "--profiles-dir", str(project_dir),
            "--vars", json.dumps({"chengyu_candidate_suffix": candidate_suffix(build_id)})]
    if select:
        # As the selectors do: a test runs only when every model it reads is selected.
        args += ["--select", *select, "--indirect-selection", "cautious"]
    elif selector:
        args += ["--selector", selector]
    if quiet:
        args.append("--quiet")
    return args


def run_dbt(project_dir: Path, args: list[str]):
    """dbt in this process (its SparkSession stays for the gate and the publish)."""
    from dbt.cli.main import dbtRunner

    from chengyu_cluster.pipeline.dbt_runner import summarise
    from chengyu_cluster.pipeline.spark_python import register

    register()
    run_results = project_dir / "target" / "run_results.json"
    run_results.unlink(missing_ok=True)
    result = dbtRunner().invoke(args)
    if result.exception is not None and not isinstance(result.exception, Exception):
        raise result.exception  # Interrupted (SIGINT/SIGTERM), KeyboardInterrupt: stop the build
    if run_results.exists():
        outcome = summarise(json.loads(run_results.read_text(encoding="utf-8"))["results"], None,
                            exit_code=0 if result.success else 1)
    else:
        from collections import Counter

        from chengyu_cluster.pipeline.dbt_runner import DbtOutcome, Failure

        message = str(result.exception or "dbt failed before running any node").strip().splitlines()
        outcome = DbtOutcome(False, Counter(), [Failure("dbt", "process", message[-1] if message else "")], [])
    text = " ".join(f.message for f in outcome.failures) + " " + str(result.exception or "")
    if any(marker in text for marker in DERBY_IN_USE):
        raise wh.BuildLocked("the Spark metastore (Derby, in CHENGYU_SPARK_DIR) is open in another Spark "
                             "process; close it (one JVM at a time) and try again")
    if any(marker in text for marker in ("JAVA_GATEWAY_EXITED", "Java gateway process exited")):
        raise SparkUnavailable("Spark did not start: the Java gateway exited (is a Java 17+ runtime installed?)")
    return outcome


def active_spark():
    from pyspark.sql import SparkSession

    return SparkSession.builder.getOrCreate()


def source_schemas(project_dir: Path) -> set[str]:
    """The schemas dbt's sources name (raw, raw_microdata), from dbt's manifest."""
    manifest = json.loads((project_dir / "target" / "manifest.json").read_text(encoding="utf-8"))
    sources = {s["schema"] for s in manifest["sources"].values()}
    return sources


def drop_candidate(spark, build_id: str) -> list[str]:
    suffix = "__" + candidate_suffix(build_id)
    dropped = []
    for schema in list_schemas(spark):
        if schema.endswith(suffix) and parse_candidate(schema) is not None:
            spark.sql(f"drop database if exists {q(schema)} cascade")
            dropped.append(schema)
    return dropped


def build_on_spark(args, project_dir: Path, stage, timings: dict[str, float]) -> int:
    """The Spark write-audit-publish; returns the exit code (failures raise WarehouseError)."""
    from chengyu_cluster.cli import EXIT_DBT, EXIT_OK, EXIT_QUALITY
    from chengyu_cluster.quality.gate import import_great_expectations, prepare_gate_spark, run_quality_gate_spark

    for option, flag in ((args.sector_output, "--sector-output"), (args.microdata, "--microdata"),
                         (args.publish_postgres, "--publish-postgres")):
        if option:
            raise wh.BadSetting(f"{flag} is not supported with --target spark yet (docs/spark.md); "
                                "nothing was built")
    check_spark_available()
    spark_dir = spark_dir_of(project_dir)
    started = time.perf_counter()
    with spark_build_lock(spark_dir):
        import_great_expectations()  # before dbt: GX imports pyspark.sql.connect (see quality.py)
        build_id = wh.new_build_id()
        stage("dbt-build")
        t = time.perf_counter()
        spark = None
        published_now = False
        try:
            outcome = run_dbt(project_dir, dbt_arguments(project_dir, build_id, args.selector, args.select,
                                                         quiet=not args.verbose))
            timings["dbt build"] = time.perf_counter() - t
            for item in outcome.warnings:
                print(f"WARNING dbt {item.kind} {item.name}: {item.message}")
            if not outcome.success:
                for item in outcome.failures:
                    print(f"ERROR dbt {item.kind} {item.name}: {item.message}", file=sys.stderr)
                print(f"\nBuild failed in dbt. The published schemas in {spark_dir} are unchanged.", file=sys.stderr)
                return EXIT_DBT
            spark = active_spark()
            sources = source_schemas(project_dir)
            suffix = "__" + candidate_suffix(build_id)
            candidate = {parse_candidate(s)[0]: s for s in list_schemas(spark)
                         if s.endswith(suffix) and parse_candidate(s) is not None}
            # Source schemas (raw: the input tables, raw_microdata) hold inputs, not chengyu's views:
            # the seeds built into raw__b<id> are read through the candidate's models only.
            bases = sorted(b for b in candidate if b not in sources)
            published = read_published(spark, bases)

            stage("quality-gate")
            t = time.perf_counter()
            report_dir = Path(os.environ.get("CHENGYU_REPORTS", project_dir / "reports")).resolve()
            marts_published = "marts" if published.views.get("marts") else None
            previous = sorted(published.build_ids)
            baseline = prepare_gate_spark(project_dir, spark, marts_published, previous[-1] if previous else None)
            gate = run_quality_gate_spark(spark, candidate.get("marts", candidate_schema("marts", build_id)),
                                          baseline, report_dir, args.accept_shift)
            timings["quality gate"] = time.perf_counter() - t
            for line in gate.messages():
                print(line, file=sys.stderr if line.startswith("CRITICAL") else sys.stdout)
            if not gate.passed:
                print(f"\nQuality gate failed: {gate.n_critical_failed} critical check(s). The published schemas "
                      f"in {spark_dir} are unchanged. Reports: {gate.report_dir}. If the shift is expected, build "
                      "again with --accept-shift \"<reason>\".", file=sys.stderr)
                return EXIT_QUALITY

            stage("publish")
            t = time.perf_counter()
            plan = plan_switch({b: sorted(list_relations(spark, candidate[b])) for b in bases},
                               {b: sorted(v) for b, v in published.views.items()}, build_id)
            for base in bases:
                spark.sql(f"create database if not exists {q(base)}")
            # From the first switch on, published views may name this candidate: never drop it
            # after that (an interrupted switch is completed by the next build).
            published_now = True
            # Ctrl-C or SIGTERM to this process waits until every view is switched (as the
            # DuckDB publish does), then is dropped: the build reports what it did. pyspark
            # starts the JVM ignoring SIGINT; a SIGTERM to the JVM itself still stops the switch
            # half-way, and the next build completes it.
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            try:
                for statement in plan.statements():
                    spark.sql(statement)
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            # Keep the candidate readers used until now (a query may still read its files).
            keep = {build_id, *previous}
            dropped = candidates_to_drop(list_schemas(spark), keep)
            for schema in dropped:
                spark.sql(f"drop database if exists {q(schema)} cascade")
            timings["publish"] = time.perf_counter() - t
        finally:
            if not published_now:
                try:
                    spark = spark or active_spark()
                    drop_candidate(spark, build_id)
                except Exception as exc:  # noqa: BLE001 - the next successful publish drops it
                    print(f"WARNING could not drop the candidate schemas of build {build_id} ({exc}); the next "
                          "successful build drops them", file=sys.stderr)
    timings["total"] = time.perf_counter() - started
    n_models = outcome.count("model", "success")
    n_tests = outcome.count("test", "pass") + outcome.count("test", "warn")
    n_views = len(plan.alters) + len(plan.creates)
    print(f"Published build {build_id} on Spark: {n_views} views in {', '.join(bases)} switched to the "
          f"candidate schemas *__{candidate_suffix(build_id)} ({n_models} models, {n_tests} tests passed; quality "
          f"gate {gate.n_passed} passed, {gate.n_warned} warned"
          + (f", compared with build {gate.compared_with}" if gate.compared_with else f"; {gate.note}") + ").")
    if dropped:
        print(f"  dropped old candidates: {', '.join(dropped)}")
    print("  timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    return EXIT_OK

