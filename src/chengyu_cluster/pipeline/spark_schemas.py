"""The Spark backend of the build pipeline (`chengyu build --target spark`): the candidate is
a set of schemas, published by switching views (publish/spark_views.py).

1. **Inputs**: the input reader checks every seed as on DuckDB (a bad seed is exit 3 on
   both engines); dbt then loads the seeds into the candidate's `raw` schema itself
   (`dbt seed` with macros/cross_db/spark_seeds.sql, the same values), because the
   SparkSession is dbt's own and does not exist before dbt starts.
2. **Write**: dbt builds the project (or the selection given) into candidate schemas:
   every schema `<name>` becomes `<name>__b<build id>` (candidate_manifest, applied to dbt's
   parsed manifest).
   Nothing a reader uses is touched.
3. **Audit**: the dbt tests run on the candidate (`dbt build`); then the quality gate
   compares the candidate's marts with the published ones through Great Expectations'
   Spark data source, in the same SparkSession.
4. **Publish**: the published views are switched to the candidate, and candidates other
   than the new one and the one published before it are dropped (publish/spark_views.py).

If dbt or a check fails, nothing published changes and this build's candidate is dropped
(pipeline/guard.py, as the DuckDB build removes its candidate file); a killed build's
candidate is dropped by the next successful publish. The selector or selection given on
the command line goes to dbt as an argument, never into SQL.

The whole build runs in this process: dbt (dbtRunner, `method: session`) starts the JVM, and
the gate and the publish use the same SparkSession. Readers (other Spark applications) must
share the metastore: with the local Derby metastore of the `spark` target only one JVM can
open it at a time; a cluster's Hive metastore has no such limit.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

from chengyu_cluster.exits import EXIT_OK, EXIT_SPARK_UNAVAILABLE
from chengyu_cluster.inputs.reader import AcceptedInputs
from chengyu_cluster.pipeline.build import report_dir
from chengyu_cluster.publish import versions as wh
from chengyu_cluster.publish.spark_views import (
    Published,
    candidate_schema,
    candidate_suffix,
    candidates_to_drop,
    drop_candidate,
    list_relations,
    list_schemas,
    parse_candidate,
    plan_switch,
    q,
    read_published,
)

DERBY_IN_USE = ("Another instance of Derby may have already booted", "XSDB6")


class SparkUnavailable(wh.WarehouseError):
    """pyspark / dbt-spark not installed, or no Java runtime."""

    exit_code = EXIT_SPARK_UNAVAILABLE


# ---- checks before starting ---------------------------------------------------------------------


def check_spark_available() -> None:
    try:
        import dbt.adapters.spark  # noqa: F401
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise SparkUnavailable(
            f"the Spark target needs the `spark` extra ({exc.name} is not installed): "
            "pip install -e '.[spark]' -c requirements.lock"
        ) from None
    java_home = os.environ.get("JAVA_HOME")
    if not (java_home and os.access(Path(java_home) / "bin" / "java", os.X_OK)) and shutil.which("java") is None:
        raise SparkUnavailable(
            "Spark needs a Java runtime (17 or later) and there is no `java` on PATH and no "
            "JAVA_HOME: install one, e.g. apt-get install default-jre-headless"
        )


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


# ---- the build ----------------------------------------------------------------------------------


def dbt_arguments(
    project_dir: Path, command: str, selector: str | None = None, select: list[str] | None = None, quiet: bool = True
) -> list[str]:
    args = [command, "--target", "spark", "--project-dir", str(project_dir), "--profiles-dir", str(project_dir)]
    if select:
        # As the selectors do: a test runs only when every model it reads is selected.
        args += ["--select", *select, "--indirect-selection", "cautious"]
    elif selector:
        args += ["--selector", selector]
    if quiet:
        args.append("--quiet")
    return args


def candidate_manifest(manifest, build_id: str):
    """dbt's parsed manifest with every schema `<name>` turned into this build's candidate schema
    `<name>__b<id>` (spark_views.candidate_schema), in place: the nodes (models, seeds, tests,
    hooks, analyses) and functions with their relation names, the unit tests, the semantic
    models' relations, and the `graph` the macros see (rebuilt from them).

    The parse itself knows no build id, so it is the same for every build and dbt's partial
    parsing keeps it from one build to the next (a var with the build id made every build a
    full parse: "Unable to do partial parsing because config vars ... have changed"). dbt fixes
    a node's schema and relation name when it parses (macros/generate_schema_name.sql); this
    applies the suffix after that, as dbt's parser computes the relation name. Sources keep
    their schemas (the input tables). Fails closed: a resource with a schema left outside this
    build's candidate would be written where readers read, so it stops the build."""
    from dbt.adapters.factory import get_adapter_by_type

    adapter = get_adapter_by_type("spark")  # registered by the parse, as dbt's parser uses it
    written = [*manifest.nodes.values(), *manifest.functions.values()]
    for node in written:
        if node.schema is None:
            continue
        node.schema = candidate_schema(node.schema, build_id)
        if node.relation_name is not None:
            node.relation_name = str(adapter.Relation.create_from(adapter.config, node))
    for unit_test in manifest.unit_tests.values():
        unit_test.schema = candidate_schema(unit_test.schema, build_id)
    for semantic_model in manifest.semantic_models.values():
        if semantic_model.node_relation is not None:  # as dbt's parser sets it from the model's node
            model = manifest.nodes[semantic_model.depends_on_nodes[0]]
            semantic_model.node_relation.schema_name = model.schema
            semantic_model.node_relation.relation_name = model.relation_name
    outside = sorted(
        r.unique_id
        for r in [*written, *manifest.unit_tests.values()]
        if r.schema is not None and (parse_candidate(r.schema) or (None, None))[1] != build_id
    )
    if outside:
        raise RuntimeError(f"not in the candidate schemas of build {build_id}: {', '.join(outside[:5])}")
    manifest.build_flat_graph()
    return manifest


def invoke(args: list[str], manifest=None):
    """One dbtRunner call; an interrupt (SIGINT/SIGTERM, KeyboardInterrupt) stops the build."""
    from dbt.cli.main import dbtRunner

    result = dbtRunner(manifest=manifest).invoke(args)
    if result.exception is not None and not isinstance(result.exception, Exception):
        raise result.exception
    return result


def run_dbt(project_dir: Path, args: list[str], build_id: str, quiet: bool = True):
    """dbt in this process (its SparkSession stays for the gate and the publish): `dbt parse`
    (partial after the first build), the candidate schemas applied to its manifest, then the
    build with that manifest."""
    from chengyu_cluster.pipeline.dbt_runner import summarise
    from chengyu_cluster.pipeline.spark_python import register

    register()
    run_results = project_dir / "target" / "run_results.json"
    run_results.unlink(missing_ok=True)
    result = invoke(dbt_arguments(project_dir, "parse", quiet=quiet))
    if result.success:
        result = invoke(args, candidate_manifest(result.result, build_id))
    if run_results.exists():
        outcome = summarise(
            json.loads(run_results.read_text(encoding="utf-8"))["results"], None, exit_code=0 if result.success else 1
        )
    else:
        from collections import Counter

        from chengyu_cluster.pipeline.dbt_runner import DbtOutcome, Failure

        message = str(result.exception or "dbt failed before running any node").strip().splitlines()
        outcome = DbtOutcome(False, Counter(), [Failure("dbt", "process", message[-1] if message else "")], [])
    text = " ".join(f.message for f in outcome.failures) + " " + str(result.exception or "")
    if any(marker in text for marker in DERBY_IN_USE):
        raise wh.BuildLocked(
            "the Spark metastore (Derby, in CHENGYU_SPARK_DIR) is open in another Spark "
            "process; close it (one JVM at a time) and try again"
        )
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


class SparkSchemas:
    """A build into candidate schemas of the local Spark of the dbt target `spark`."""

    def __init__(self, args: argparse.Namespace, project_dir: Path):
        for option, flag in (
            (args.sector_output, "--sector-output"),
            (args.microdata, "--microdata"),
            (args.publish_postgres, "--publish-postgres"),
        ):
            if option:
                raise wh.BadSetting(
                    f"{flag} is not supported with --target spark yet (docs/spark.md); nothing was built"
                )
        check_spark_available()
        self.args, self.project_dir = args, project_dir
        self.spark_dir = spark_dir_of(project_dir)
        self.unchanged = f"the published schemas in {self.spark_dir} are unchanged"
        # Set by the steps, in order: new_candidate, run_gate, seal, publish.
        self.build_id = ""
        self.spark = None  # dbt's SparkSession, once dbt has built
        self.candidate: dict[str, str] = {}  # {base schema: its candidate schema}
        self.bases: list[str] = []  # the schemas that get views (not the sources)
        self.published = Published({})
        self.previous: list[str] = []  # build ids the published views name now
        self.plan = None
        self.switch_started = False

    @contextmanager
    def locked(self):
        from chengyu_cluster.quality.gate import import_great_expectations

        with spark_build_lock(self.spark_dir):
            import_great_expectations()  # before dbt: GX imports pyspark.sql.connect (see quality/gate.py)
            yield

    def check_microdata(self, accepted: AcceptedInputs) -> None:
        return None  # --microdata is refused on Spark (see __init__)

    def new_candidate(self) -> str:
        self.build_id = wh.new_build_id()
        return f"the candidate schemas *__{candidate_suffix(self.build_id)}"

    def write_inputs(self, accepted: AcceptedInputs, microdata) -> None:
        """Nothing to write: dbt seeds the checked files into the candidate (see the module's doc)."""

    def run_dbt(self):
        quiet = not self.args.verbose
        return run_dbt(
            self.project_dir,
            dbt_arguments(self.project_dir, "build", self.args.selector, self.args.select, quiet),
            self.build_id,
            quiet,
        )

    def run_gate(self):
        from chengyu_cluster.quality.gate import prepare_gate_spark, run_quality_gate_spark

        spark = self.spark = active_spark()
        suffix = "__" + candidate_suffix(self.build_id)
        self.candidate = {
            parse_candidate(s)[0]: s
            for s in list_schemas(spark)
            if s.endswith(suffix) and parse_candidate(s) is not None
        }
        # Source schemas (raw: the input tables, raw_microdata) hold inputs, not chengyu's views:
        # the seeds built into raw__b<id> are read through the candidate's models only.
        sources = source_schemas(self.project_dir)
        self.bases = sorted(b for b in self.candidate if b not in sources)
        self.published = read_published(spark, self.bases)
        self.previous = sorted(self.published.build_ids)
        marts_published = "marts" if self.published.views.get("marts") else None
        baseline = prepare_gate_spark(
            self.project_dir, spark, marts_published, self.previous[-1] if self.previous else None
        )
        return run_quality_gate_spark(
            spark,
            self.candidate.get("marts", candidate_schema("marts", self.build_id)),
            baseline,
            report_dir(self.project_dir),
            self.args.accept_shift,
        )

    def discard(self) -> None:
        # From the first switch on, published views may name this candidate: never drop it
        # after that (an interrupted switch is completed by the next build).
        if not self.switch_started:
            drop_candidate(self.spark or active_spark(), self.build_id)

    def seal(self, accepted: AcceptedInputs, microdata, gate) -> None:
        spark = self.spark
        self.plan = plan_switch(
            {b: sorted(list_relations(spark, self.candidate[b])) for b in self.bases},
            {b: sorted(v) for b, v in self.published.views.items()},
            self.build_id,
        )
        for base in self.bases:
            spark.sql(f"create database if not exists {q(base)}")

    def publish(self) -> list[str]:
        """Switch the views, then drop the candidates no reader uses any more.

        pyspark starts the JVM ignoring SIGINT; a SIGTERM to the JVM itself still stops the
        switch half-way, and the next build completes it."""
        self.switch_started = True
        for statement in self.plan.statements():
            self.spark.sql(statement)
        # Keep the candidate readers used until now (a query may still read its files).
        dropped = candidates_to_drop(list_schemas(self.spark), {self.build_id, *self.previous})
        for schema in dropped:
            self.spark.sql(f"drop database if exists {q(schema)} cascade")
        return dropped

    def finish(self, dropped: list[str], outcome, gate, timings: dict[str, float]) -> int:
        n_models = outcome.count("model", "success")
        n_tests = outcome.count("test", "pass") + outcome.count("test", "warn")
        n_views = len(self.plan.alters) + len(self.plan.creates)
        print(
            f"Published build {self.build_id} on Spark: {n_views} views in {', '.join(self.bases)} switched to "
            f"the candidate schemas *__{candidate_suffix(self.build_id)} ({n_models} models, {n_tests} tests "
            f"passed; quality gate {gate.n_passed} passed, {gate.n_warned} warned"
            + (f", compared with build {gate.compared_with}" if gate.compared_with else f"; {gate.note}")
            + ")."
        )
        if dropped:
            print(f"  dropped old candidates: {', '.join(dropped)}")
        print("  timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
        return EXIT_OK
