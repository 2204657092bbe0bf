"""Publishing on Spark: candidate schemas, published views and the switch between them.

A Spark build (pipeline/spark_schemas.py) writes every schema `<name>` of the project as
`<name>__b<build id>` (candidate_manifest there, with candidate_schema below),
e.g. `marts__b20261129t174512123456z`. Publishing gives every relation of the candidate a
view in the published schema of the same base name: `alter view marts.x as select * from
marts__b<id>.x` (`create view` the first time). Each switch is one metastore operation
(alterTable), so a reader of `marts.x` sees the old table or the new one, never a
half-written one (the candidate's tables are complete before the first switch). Views of
the published schema that the candidate no longer has are dropped after the switch.
Candidates other than the new one and the one published before it are then dropped
(`drop database ... cascade`); the previous one is kept so that a query that resolved
`marts.x` to it just before the switch can finish reading its files.

Schema names come only from a build id that matched `versions.BUILD_ID` and from names the
Spark catalog lists that match `IDENTIFIER`; no user string becomes SQL text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from chengyu_cluster.publish import versions as wh

#: A Spark database or table name chengyu will put into SQL (what the project's models use).
IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
SUFFIX = re.compile(r"b[0-9]{8}t[0-9]{12}z")
CANDIDATE = re.compile(r"(?P<base>[a-z_][a-z0-9_]*?)__(?P<suffix>b[0-9]{8}t[0-9]{12}z)")
#: The view text of a view chengyu published: `select * from <candidate>.<name>`.
PUBLISHED_VIEW = re.compile(
    r"\s*select\s+\*\s+from\s+`?(?P<schema>[a-z_][a-z0-9_]*?__b[0-9]{8}t[0-9]{12}z)`?\.`?(?P<name>[a-z_][a-z0-9_]*)`?\s*",
    re.IGNORECASE,
)


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
        out = [
            f"alter view {q(schema)}.{q(name)} as select * from {q(candidate)}.{q(name)}"
            for schema, name, candidate in self.alters
        ]
        out += [
            f"create view {q(schema)}.{q(name)} as select * from {q(candidate)}.{q(name)}"
            for schema, name, candidate in self.creates
        ]
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
                    "CHENGYU_SPARK_DIR / metastore. Nothing was published"
                )
            views[base][name] = target[0]
    return Published(views)


def drop_candidate(spark, build_id: str) -> list[str]:
    suffix = "__" + candidate_suffix(build_id)
    dropped = []
    for schema in list_schemas(spark):
        if schema.endswith(suffix) and parse_candidate(schema) is not None:
            spark.sql(f"drop database if exists {q(schema)} cascade")
            dropped.append(schema)
    return dropped
