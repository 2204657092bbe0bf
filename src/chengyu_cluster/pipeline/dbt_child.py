"""The child process of pipeline/dbt_runner.py: `dbt build` in process (dbtRunner), without
dbt's own JSON artifacts (`--no-write-json`), which write the 4 MB target/manifest.json twice a
build (after parsing and again at the end: about 2 s of the build's critical path, measured).
It writes what chengyu and MetricFlow read instead: target/run_results.json (the outcome, read
by DbtBuild.wait) and target/semantic_manifest.json (`chengyu metrics`).

    python -m chengyu_cluster.pipeline.dbt_child TARGET_DIR PARSE_ARGS... -- BUILD_ARGS...

Exit code as dbt's own CLI: 0 success, 1 a node failed, 2 dbt could not run.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    from dbt.cli.main import dbtRunner
    from dbt.parser.manifest import write_semantic_manifest

    target, rest = Path(argv[0]), argv[1:]
    split = rest.index("--")
    parse_args, build_args = rest[:split], rest[split + 1 :]
    parsed = dbtRunner().invoke(["parse", *parse_args, "--no-write-json"])
    if not parsed.success:
        return 2
    write_semantic_manifest(manifest=parsed.result, target_path=str(target))
    built = dbtRunner(manifest=parsed.result).invoke(["build", *build_args, "--no-write-json"])
    if built.result is None or not hasattr(built.result, "write"):
        return 2
    built.result.write(str(target / "run_results.json"))
    return 0 if built.success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
