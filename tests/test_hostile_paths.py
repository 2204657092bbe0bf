"""Every command that writes where the user says, given a hostile path, against a real build:
one line on stderr, the exit code the README documents, no traceback, and nothing written
anywhere else (a link's target, the current folder, a temporary left beside the path).

Exit codes: 2 a usage error (an empty path), 9 the path holds something chengyu will not
write through or overwrite (a link, FIFO, folder for a file, file for a folder, a non-empty
export folder), 10 the file system refuses (a name too long, a file on the way, /proc).
tests/unit/test_hostile_args.py covers the same rules without a build.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

COMMANDS = {
    "export": lambda p: ["export", "--out", p],
    "report": lambda p: ["report", "--out", p],
    "docs": lambda p: ["docs", "--out", p],
    "metrics": lambda p: ["metrics", "query", "--metrics", "sector_output_yuan", "--csv", p],
}
FOLDER_OUTPUTS = {"export", "docs"}

# (kind of path, command, exit code). Cases where the command would first run dbt or mf
# and only then meet the file system's refusal are left to the unit tests.
CASES = [
    (kind, command, code)
    for kind, code in (("empty", 2), ("symlink", 9), ("fifo", 9), ("long-name", 10), ("under-a-file", 10))
    for command in COMMANDS
] + [
    ("wrong-kind", "export", 9),
    ("wrong-kind", "docs", 9),
    ("wrong-kind", "report", 9),
    ("wrong-kind", "metrics", 9),
    ("not-empty", "export", 9),
    ("special-fs", "export", 10),
    ("special-fs", "report", 10),  # issue 22 case 12: report --out /proc/version
]


def hostile_path(root: Path, kind: str, command: str) -> str:
    """A path of the given kind under root; links point at root/victim (a file or a folder)."""
    folder_output = command in FOLDER_OUTPUTS
    victim = root / "victim"
    if folder_output:
        victim.mkdir()
        (victim / "manifest.json").write_text("theirs", encoding="utf-8")
    else:
        victim.write_text("theirs", encoding="utf-8")
    path = root / "out"
    if kind == "empty":
        return ""
    if kind == "symlink":
        path.symlink_to(victim)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "long-name":
        path = root / ("长" * 100)  # 300 bytes in UTF-8: more than a file name may have
    elif kind == "under-a-file":
        (root / "a-file").write_text("x", encoding="utf-8")
        path = root / "a-file" / "out"
    elif kind == "wrong-kind":  # a file where a folder is expected, or the other way round
        if folder_output:
            path.write_text("theirs", encoding="utf-8")
        else:
            path.mkdir()
    elif kind == "not-empty":
        path.mkdir()
        (path / "notes.txt").write_text("theirs", encoding="utf-8")
    elif kind == "special-fs":
        return "/proc/version" if command == "report" else "/proc/chengyu-export"
    return str(path)


def tree(root: Path) -> dict[str, str]:
    """Every entry under root (links not followed) with its kind and, for files, content."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            out[str(path.relative_to(root))] = "-> " + os.readlink(path)
        elif path.is_file() and not path.is_fifo():
            out[str(path.relative_to(root))] = path.read_text(encoding="utf-8")
        else:
            out[str(path.relative_to(root))] = "fifo" if path.is_fifo() else "folder"
    return out


@pytest.mark.parametrize("kind,command,code", CASES, ids=[f"{c}-{k}" for k, c, _ in CASES])
def test_a_hostile_output_path_is_one_line_and_touches_nothing(built, tmp_path, kind, command, code):
    root = tmp_path / "root"
    root.mkdir()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    path = hostile_path(root, kind, command)
    before = tree(root)
    result = subprocess.run(
        built.command(*COMMANDS[command](path)), env=built.env(), cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == code, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("chengyu"), lines[0]
    assert tree(root) == before  # the victim, the link and everything else as they were
    assert list(cwd.iterdir()) == []


@pytest.mark.parametrize("command", ["export", "report"])
def test_a_unicode_path_with_quotes_is_written(built, tmp_path, command):
    out = tmp_path / '成渝 O\'Brien "$(touch x)" ü' / ("报告.html" if command == "report" else "导出")
    result = built.run(*COMMANDS[command](str(out)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (out / "manifest.json").is_file() if command == "export" else out.is_file()
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary left beside it
