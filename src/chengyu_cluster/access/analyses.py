"""The planners' questions (analyses/*.sql) run read-only against the published warehouse.

The analyses stay plain dbt analyses: `dbt compile --select "analyses/*"` still works for
dbt users. `chengyu analyses` does not call dbt. It renders each `{{ ref('x') }}` itself as
`<schema>.x`, the schema being the one that holds `x` in the published file. Why not dbt:

- dbt names the catalog in every ref (`"dev"."marts"."x"`, or whatever the target's file
  is called). A catalog is the name of the file a connection opened, so compiled SQL only
  runs through a file of that very name; `schema.x` runs in whichever file is open (the
  published one, a copy, a version file behind a symlink).
- dbt needs a target whose database it opens (dbt-duckdb opens it read-write unless told
  otherwise) and costs about 4 s of start-up and parsing per call; this takes
  milliseconds and opens nothing but the published file, read-only.

The price is that an analysis may use nothing but ref(): anything else (var, source,
macros) stops with a message that says so instead of producing wrong SQL.
tests/test_analyses.py checks that this rendering equals dbt's compiled SQL with the
catalog left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import jinja2

from chengyu_cluster.access.query import open_published


class AnalysisError(Exception):
    """An unknown or ambiguous analysis name, or an analysis that cannot be rendered."""


@dataclass(frozen=True)
class Analysis:
    name: str
    path: Path
    question: str

    @property
    def short(self) -> str:
        """`q3` for q3_vehicle_chain_coordination."""
        return self.name.split("_", 1)[0]


def _question(path: Path) -> str:
    """The question of the header's first comment paragraph, on one line.

    "-- Question 3: does Chongqing ...\n-- ... parts?\n--" -> "does Chongqing ... parts?"
    """
    lines: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if not text.startswith("--"):
            if lines or text:
                break
            continue
        text = text[2:].strip()
        if not text:
            break
        lines.append(text)
    question = " ".join(lines)
    head, sep, rest = question.partition(":")
    return rest.strip() if sep and head.lower().startswith("question") else question


def list_analyses(project_dir: Path) -> list[Analysis]:
    folder = project_dir / "analyses"
    return [Analysis(p.stem, p, _question(p)) for p in sorted(folder.glob("*.sql"))]


def find_analysis(project_dir: Path, key: str) -> Analysis:
    """By full name (q3_vehicle_chain_coordination), short name (q3) or a unique prefix."""
    analyses = list_analyses(project_dir)
    key = key.removesuffix(".sql")
    for analysis in analyses:
        if key in (analysis.name, analysis.short):
            return analysis
    matches = [a for a in analyses if a.name.startswith(key)]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(a.short for a in analyses)
    if matches:
        raise AnalysisError(f"'{key}' fits several analyses: {', '.join(a.name for a in matches)}")
    raise AnalysisError(f"no analysis '{key}' in {project_dir / 'analyses'}; there are: {known}")


def relation_schemas(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Table or view name -> the schemas that hold it, in the open database."""
    found: dict[str, list[str]] = {}
    rows = con.execute("""
        select table_name, schema_name from duckdb_tables() where database_name = current_database()
        union all
        select view_name, schema_name from duckdb_views()
        where database_name = current_database() and not internal
        order by 1, 2
    """).fetchall()
    for name, schema in rows:
        found.setdefault(name, []).append(schema)
    return found


def render(analysis: Analysis, schemas: dict[str, list[str]]) -> str:
    """The analysis as SQL with every ref('x') written as schema.x."""

    def ref(*args: str, **kwargs: str) -> str:
        if len(args) != 1 or kwargs:
            raise AnalysisError(f"{analysis.path.name}: only ref('model') is supported, not ref{args}")
        name = args[0]
        holders = schemas.get(name, [])
        if len(holders) != 1:
            where = "is in no schema" if not holders else f"is in several schemas ({', '.join(holders)})"
            raise AnalysisError(f"{analysis.path.name}: ref('{name}') {where} of the published warehouse")
        return f"{holders[0]}.{name}"

    # StrictUndefined: var(), source(), a macro ... are undefined here and fail loudly.
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    try:
        return env.from_string(analysis.path.read_text(encoding="utf-8")).render(ref=ref)
    except jinja2.UndefinedError as exc:
        raise AnalysisError(
            f"{analysis.path.name} uses dbt features other than ref() ({exc}); "
            "compile it with dbt instead (docs/access.md)"
        ) from None
    except jinja2.TemplateSyntaxError as exc:
        raise AnalysisError(f"{analysis.path.name}, line {exc.lineno}: {exc.message}") from None


def run_analysis(database: Path, analysis: Analysis) -> tuple[list[str], list[tuple]]:
    """Render and run one analysis on a read-only connection with external access off."""
    con = open_published(database)
    try:
        sql = render(analysis, relation_schemas(con))
        try:
            cursor = con.execute(sql)
        except duckdb.Error as exc:
            raise AnalysisError(f"{analysis.path.name} failed: {exc}") from None
        return [d[0] for d in cursor.description], cursor.fetchall()
    finally:
        con.close()
