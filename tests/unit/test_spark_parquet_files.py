"""The glob that names a Spark microdata view's files (spark_parquet_files in
macros/microdata/create_missing_microdata_tables.sql): exactly the files given, every glob
character of one file's path or of several files' common folder escaped, and '' when a file's
own part holds one (Hadoop loses a backslash escape inside an alternative that holds a slash, so
such files are read one relation each) or the files share no folder. The macro is plain Jinja,
rendered here in Jinja's sandbox as dbt renders it, without dbt; tests/test_spark.py reads the
views it makes on a real Spark."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from jinja2.sandbox import SandboxedEnvironment

MACROS = Path(__file__).resolve().parents[2] / "macros" / "microdata" / "create_missing_microdata_tables.sql"


def spark_parquet_files(paths: list[str]) -> str:
    text = MACROS.read_text(encoding="utf-8")
    macro = re.search(r"{% macro spark_parquet_files\(paths\).*?{%- endmacro %}", text, re.S)
    assert macro, "the macro spark_parquet_files is gone from " + str(MACROS)
    env = SandboxedEnvironment(extensions=["jinja2.ext.do"])
    return env.from_string(macro.group(0) + "{{ spark_parquet_files(paths) }}").render(paths=paths)


@pytest.mark.parametrize(
    ("paths", "glob"),
    [
        # One file: the whole path, escaped (Spark reads a relation's path as a glob).
        (["/w/st ore[x]/objects/t/ab/f.parquet"], r"/w/st ore\[x\]/objects/t/ab/f.parquet"),
        (["/w/1/a[1],b*.parquet"], r"/w/1/a\[1\]\,b\*.parquet"),
        ([], ""),
        # The store's copies: the common folder, then each file's own part, in the order given.
        (
            ["/w/s/objects/t/cd/b.parquet", "/w/s/objects/t/ab/a.parquet"],
            "/w/s/objects/t/{cd/b.parquet,ab/a.parquet}",
        ),
        # A common prefix that ends inside a folder's name is cut at the folder before it.
        (
            ["/w/s/objects/t/abc/x.parquet", "/w/s/objects/t/abd/x.parquet"],
            "/w/s/objects/t/{abc/x.parquet,abd/x.parquet}",
        ),
        # Glob characters in the common folder are escaped (a comma too: it would split {a,b}).
        (
            ["/w/a,b{c}*\\/1/x.parquet", "/w/a,b{c}*\\/2/y.parquet"],
            "/w/a\\,b\\{c\\}\\*\\\\/{1/x.parquet,2/y.parquet}",
        ),
        # A URI keeps its scheme in the common part.
        (
            ["hdfs:///store/a/x.parquet", "hdfs:///store/b/y.parquet"],
            "hdfs:///store/{a/x.parquet,b/y.parquet}",
        ),
        # Files in different buckets, or with no common folder: no glob.
        (["s3a://b1/x.parquet", "s3a://b2/y.parquet"], ""),
        (["a/x.parquet", "b/y.parquet"], ""),
        # Relative paths in one folder.
        (["d/a.parquet", "d/b.parquet"], "d/{a.parquet,b.parquet}"),
        # A glob character in a file's own part: no glob.
        (["/w/1/a[1].parquet", "/w/2/b.parquet"], ""),
        (["/w/1/f*.parquet", "/w/2/b.parquet"], ""),
        (["/w/1/a,b.parquet", "/w/2/b.parquet"], ""),
        (["/w/1/a^b.parquet", "/w/1/c?.parquet"], ""),
    ],
)
def test_the_glob_names_exactly_the_files(paths, glob):
    assert spark_parquet_files(paths) == glob
