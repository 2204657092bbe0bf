"""The README and the docs as written: every command of their ```bash blocks, in order
(the README first, then the docs of DOCS_WITH_COMMANDS), in a fresh copy of the repository,
the way a newcomer types them into one terminal after `make build`. Each ```python block
runs at its place too, as one script given to .venv/bin/python.

- The copy holds what a clone of the working tree would hold (`git ls-files`: tracked and
  new, not ignored files), with the files' modification times.
- `.venv` in the copy is a symlink to the virtual environment running this test, so the
  README's `make build` finds the install stamp newer than pyproject.toml and
  requirements.lock and skips the install, as it does for anyone who installed before.
  (The package is installed in editable mode from this repository's src/, which the
  copy holds unchanged.)
- The commands run one after another in one bash process (an `export`, `source` or `cd`
  carries over to the next command, as in a terminal), with no input: an interactive
  shell such as the DuckDB CLI ends at once. The environment is cleaned of the
  project's variables (CHENGYU_*, DBT_*) and of virtual environments on PATH.
- A command fails the test if it exits non-zero or prints an error or a traceback. The
  first failure stops the run: later commands may depend on it.
- A command line with the marker `# readme-test: skip (reason)` is not run; the reason
  is required (e.g. it needs a PostgreSQL server and is tested elsewhere).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The docs whose commands run after the README's, in this order, in the same shell: every
# docs/*.md with a ```bash or ```python block (a test checks that none is left out). The plain
# dbt build of development.md comes last: it points dbt's target/ at the development file.
DOCS_WITH_COMMANDS = [
    "docs/access.md",
    "docs/inputs.md",
    "docs/versions.md",
    "docs/microdata_layout.md",
    "docs/spark.md",
    "docs/development.md",
]
README_MAX_LINES = 300
SKIP_MARKER = re.compile(r"#.*readme-test:\s*skip\b\s*(\((?P<reason>[^)]*)\))?")

# What counts as "printed an error": a Python traceback or exception line, DuckDB's
# "<Kind> Error:" messages (Binder Error, Catalog Error, IO Error, ...), dbt's
# "Compilation Error" / "Runtime Error" / "Database Error", a line that starts with
# ERROR or Error, and make's failure line. Warnings are not errors.
ERROR_PATTERN = re.compile(
    r"Traceback \(most recent call last\)"
    r"|^\s*(ERROR|Error)\b"
    r"|\b[A-Z][A-Za-z]*Error: "
    r"|\b[A-Z][A-Za-z]* Error\b"
    r"|^make(\[\d+\])?: \*\*\*",
    re.MULTILINE,
)


@dataclass
class Command:
    line: int  # line number in its file where the command starts
    text: str
    skip_reason: str | None = None
    source: str = "README.md"


@dataclass
class Outcome:
    command: Command
    returncode: int
    seconds: float
    output: str

    @property
    def error_line(self) -> str | None:
        match = ERROR_PATTERN.search(self.output)
        if not match:
            return None
        start = self.output.rfind("\n", 0, match.start()) + 1
        end = self.output.find("\n", match.end())
        return self.output[start : end if end >= 0 else None].strip()

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.error_line is None


PYTHON_END = "README_PYTHON_BLOCK_END"


def readme_commands(markdown: str, source: str = "README.md") -> list[Command]:
    """The commands of the ```bash blocks: lines joined at a trailing backslash; comment
    lines and blank lines dropped; a skip marker recorded with its reason. A ```python
    block becomes one command that feeds it to .venv/bin/python."""
    commands: list[Command] = []
    in_block = in_bash = False
    python: Command | None = None
    pending: Command | None = None
    for number, line in enumerate(markdown.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("```"):
            language = stripped[3:].strip()
            if python is not None:
                python.text += f"\n{PYTHON_END}"
                marker = SKIP_MARKER.search(python.text)
                python.skip_reason = (marker.group("reason") or "").strip() if marker else None
                python = None
            elif not in_block and language == "python":
                python = Command(number + 1, f".venv/bin/python - <<'{PYTHON_END}'", source=source)
                commands.append(python)
            in_bash = not in_block and language in ("bash", "sh", "shell")
            in_block = not in_block
            pending = None
            continue
        if python is not None:
            python.text += "\n" + line
            continue
        if not in_bash:
            continue
        if pending is not None:
            pending.text += "\n" + line
        elif stripped and not stripped.startswith("#"):
            pending = Command(number, line, source=source)
            commands.append(pending)
        else:
            continue
        if not line.rstrip().endswith("\\"):
            marker = SKIP_MARKER.search(pending.text)
            if marker:
                pending.skip_reason = (marker.group("reason") or "").strip()
            pending = None
    return commands


def clean_environment() -> dict:
    """A newcomer's terminal: none of the project's variables, no virtual environment."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CHENGYU_", "DBT_", "MAKE", "MFLAGS", "PYTEST_", "VIRTUAL_ENV"))
        and k not in ("PYTHONPATH", "PYTHONHOME")
    }
    env["PATH"] = os.pathsep.join(
        p for p in os.environ.get("PATH", "").split(os.pathsep) if p and not Path(p, "activate").exists()
    )
    return env


def run_in_one_shell(commands: list[Command], cwd: Path, env: dict, logs: Path, timeout: float) -> list[Outcome]:
    """Run the commands in order in one bash process; stop after the first failing one."""
    logs.mkdir(parents=True, exist_ok=True)
    script = ["exec </dev/null"]
    for i, command in enumerate(commands):
        # The command on lines of its own inside { }, so that a trailing comment cannot
        # swallow the closing brace; { } (not a subshell) keeps export/source/cd.
        script += [
            "__start=$EPOCHREALTIME",
            "{",
            command.text,
            f'}} >"{logs}/{i}.log" 2>&1',
            "__rc=$?",
            f'echo "$__rc $__start $EPOCHREALTIME" >"{logs}/{i}.rc"',
            '[ "$__rc" -eq 0 ] || exit 0',
        ]
    script_path = logs / "readme.sh"
    script_path.write_text("\n".join(script) + "\n", encoding="utf-8")
    try:
        subprocess.run(
            ["bash", str(script_path)],
            cwd=cwd,
            env=env,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        pass  # the command without a .rc file is the one that hung; reported below
    outcomes = []
    for i, command in enumerate(commands):
        log, rc = logs / f"{i}.log", logs / f"{i}.rc"
        if not log.exists():
            break
        output = log.read_text(encoding="utf-8", errors="replace")
        if not rc.exists():
            hung = f"\n[did not finish within the test's {timeout:.0f} s]"
            outcomes.append(Outcome(command, -1, timeout, output + hung))
            break
        code, start, end = rc.read_text().split()
        outcomes.append(
            Outcome(command, int(code), float(end.replace(",", ".")) - float(start.replace(",", ".")), output)
        )
    return outcomes


def fresh_copy(root: Path) -> Path:
    """The files a clone of the working tree holds, with their modification times."""
    project = root / "repo"
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():  # deleted but still tracked files are left out
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, project / name)
    return project


def link_installed_venv(project: Path) -> None:
    venv = Path(sys.prefix)
    stamp = venv / "bin" / ".installed"
    assert stamp.exists(), f"{venv} was not installed by make (no {stamp}); run `make .venv/bin/.installed`"
    for name in ("pyproject.toml", "requirements.lock"):
        assert (project / name).stat().st_mtime <= stamp.stat().st_mtime, (
            f"{name} is newer than the install stamp: run `make .venv/bin/.installed` before this test, "
            "or make would reinstall into the shared environment from the temporary copy"
        )
    (project / ".venv").symlink_to(venv, target_is_directory=True)


def report(outcomes: list[Outcome]) -> str:
    lines = []
    for o in outcomes:
        status = "ok" if o.ok else f"FAILED (exit {o.returncode})"
        lines.append(
            f"{o.seconds:7.1f} s  {status:18} {o.command.source} line {o.command.line}: {o.command.text.strip()}"
        )
    return "\n".join(lines)


# --- the parser, the error check and the runner on their own (fast) ---

SAMPLE = """\
# Title
```bash
make build   # builds
# a comment line
.venv/bin/chengyu sql \\
    "select 1"
psql -c 'select 1'   # readme-test: skip (needs a PostgreSQL server)
make test    # readme-test: skip
```
```python
import duckdb
print(duckdb.__version__)
```
```
not bash either
```
```bash
echo done
```
"""


def test_commands_are_read_from_bash_blocks_only():
    commands = readme_commands(SAMPLE)
    assert [c.text.split()[0] for c in commands] == [
        "make",
        ".venv/bin/chengyu",
        "psql",
        "make",
        ".venv/bin/python",
        "echo",
    ]
    assert commands[4].line == 11 and commands[4].skip_reason is None
    assert "\nimport duckdb\nprint(duckdb.__version__)\n" in commands[4].text
    assert commands[1].text == '.venv/bin/chengyu sql \\\n    "select 1"' and commands[1].line == 5
    assert commands[0].skip_reason is None
    assert commands[2].skip_reason == "needs a PostgreSQL server"
    assert commands[3].skip_reason == ""  # a marker without a reason: refused by the README test


def test_error_output_is_recognised():
    def flagged(text: str) -> bool:
        return Outcome(Command(1, "x"), 0, 0.0, text).error_line is not None

    assert flagged('Binder Error: Catalog "dev" does not exist!')
    assert flagged("Traceback (most recent call last):\n  File ...\nKeyError: 'x'")
    assert flagged("ERROR dbt model fct_x: boom")
    assert flagged("Runtime Error in model dim_area (models/marts/core/dim_area.sql)")
    assert flagged("make: *** [Makefile:13: build] Error 4")
    assert not flagged("WARNING mart_fct_sector_output: expect_column_values_to_be_in_set: 648 row(s) break it")
    assert not flagged("Great Expectations: 95 passed, 1 warned, 0 failed")
    assert not flagged("2015,0.534,0.656,intermediate coordination")


def test_runner_keeps_shell_state_and_stops_at_the_first_failure(tmp_path):
    commands = [
        Command(1, "export GREETING=hello"),
        Command(2, "cd sub 2>/dev/null || mkdir sub && cd sub"),
        Command(3, 'echo "$GREETING from $(basename $PWD)"   # a trailing comment'),
        Command(4, "echo 'Binder Error: Catalog \"dev\" does not exist!'"),
        Command(5, "false"),
        Command(6, "echo never"),
    ]
    outcomes = run_in_one_shell(commands, tmp_path, clean_environment(), tmp_path / "logs", timeout=60)
    assert [o.ok for o in outcomes] == [True, True, True, False, False]
    assert outcomes[2].output.strip() == "hello from sub"
    assert outcomes[4].returncode == 1


def test_python_blocks_run_as_scripts(tmp_path):
    (tmp_path / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    commands = readme_commands(
        "```python\nimport duckdb\nprint(duckdb.sql('select 6 * 7').fetchone()[0])\n```\n"
        "```python\nraise SystemExit('boom')\n```\n"
    )
    outcomes = run_in_one_shell(commands, tmp_path, clean_environment(), tmp_path / "logs", timeout=60)
    assert outcomes[0].ok and outcomes[0].output.strip() == "42"
    assert not outcomes[1].ok and outcomes[1].returncode == 1


# --- the README and the docs themselves ---


def documented_commands() -> list[Command]:
    """The README's commands, then those of DOCS_WITH_COMMANDS in order."""
    commands = []
    for name in ["README.md", *DOCS_WITH_COMMANDS]:
        commands += readme_commands((REPO / name).read_text(encoding="utf-8"), source=name)
    return commands


def test_readme_is_a_quickstart_and_every_doc_with_commands_is_run():
    assert len((REPO / "README.md").read_text(encoding="utf-8").splitlines()) <= README_MAX_LINES, (
        "the README is the quickstart and index: reference belongs in docs/"
    )
    with_commands = sorted(
        str(path.relative_to(REPO))
        for path in (REPO / "docs").glob("*.md")
        if readme_commands(path.read_text(encoding="utf-8"))
    )
    assert with_commands == sorted(DOCS_WITH_COMMANDS), "DOCS_WITH_COMMANDS must name every doc with commands"


def test_every_documented_command_works_after_make_build(tmp_path):
    commands = documented_commands()
    unexplained = [c for c in commands if c.skip_reason == ""]
    assert not unexplained, f"skip markers need a reason: {[c.text for c in unexplained]}"
    to_run = [c for c in commands if c.skip_reason is None]
    assert to_run and to_run[0].text.split("#")[0].strip() == "make build", (
        "the README starts with `make build`; everything after it assumes a built warehouse"
    )

    project = fresh_copy(tmp_path)
    link_installed_venv(project)
    started = time.perf_counter()
    outcomes = run_in_one_shell(to_run, project, clean_environment(), tmp_path / "logs", timeout=1500)
    total = time.perf_counter() - started
    summary = (
        report(outcomes) + f"\n{total:7.1f} s  in all ({len(to_run)} commands run, "
        f"{len(commands) - len(to_run)} skipped by their marker)"
    )
    print("\n" + summary)
    failed = [o for o in outcomes if not o.ok]
    if failed:
        o = failed[0]
        why = o.error_line if o.returncode == 0 else f"exit code {o.returncode}"
        pytest.fail(
            f"{o.command.source} line {o.command.line}: `{o.command.text.strip()}` failed ({why}).\n"
            f"Its output (last 3000 characters):\n{o.output[-3000:]}\n\n{summary}"
        )
    assert len(outcomes) == len(to_run), summary
    # The published warehouse is where the README says it is.
    assert (project / "warehouse" / "chengyu.duckdb").exists()
