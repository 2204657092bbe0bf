"""`chengyu versions` and `chengyu verify`: the kept versions as the publish log tells them."""

from __future__ import annotations

import sys

from chengyu_cluster.exits import EXIT_OK
from chengyu_cluster.publish import versions as wh


def print_versions(paths: wh.WarehousePaths) -> int:
    """`chengyu versions`: the kept versions, most recently live first, and the copies."""
    try:
        current = paths.current()
    except wh.CorruptVersion as exc:  # list them anyway: rollback --to needs their ids
        current = None
        print(f"WARNING {exc}", file=sys.stderr)
    history = wh.read_history(paths)
    versions = history.ranked(paths.versions())
    if not versions:
        print(f"no versions at {paths.versions_dir}")
        return EXIT_OK
    on_path = set(history.rollback_path())
    for version in versions:
        mark = "*" if current is not None and version.build_id == current.build_id else " "
        print(
            f"{mark} {version.build_id}  {version_state(history, version.build_id, mark == '*', on_path)}  "
            f"{version_summary(version)}"
        )
    print(f"* = published (what {paths.published} points at); versions listed most recently live first")
    path = [b for b in history.rollback_path() if b in {v.build_id for v in versions}]
    print(f"`chengyu rollback` returns to {path[0] if path else 'nothing (name a version with --to)'}")
    for (kind, target), event in sorted(history.copies.items()):
        stale = "" if current is not None and event["build_id"] == current.build_id else "  (not the published build)"
        print(
            f"copy: {'PostgreSQL' if kind == 'postgres' else kind} {target} holds build {event['build_id']} "
            f"(since {event['at']}, `chengyu {event['command']}`){stale}"
        )
    if history.skipped or history.unknown:
        print(
            f"WARNING the publish log {paths.publish_log.name} has {history.skipped} unreadable line(s) and "
            f"{history.unknown} unknown event(s), ignored",
            file=sys.stderr,
        )
    return EXIT_OK


def version_state(history: wh.History, build_id: str, live: bool, on_path: set[str]) -> str:
    """Published at / withdrawn at, and by which command, from the publish log."""
    first, last, ended = history.made_live(build_id)
    if first is None:
        return "not in the publish log"
    text = f"published {first['at']} by `{first['command']}`"
    if last is not first:
        text += f", live again {last['at']} by `{last['command']}`"
    if live:
        return text + ", live"
    until = f" {ended['at']} by `{ended['command']}`" if ended is not None else ""
    if build_id in on_path:  # superseded by a publish: a plain rollback returns to it
        return text + f", live until{until}"
    return text + f", withdrawn{until} (comes back only with rollback --to)"


def version_summary(version: wh.Version) -> str:
    try:
        record = version.read_record()
    except wh.CorruptVersion as exc:
        return str(exc)
    inputs = record.get("inputs") if isinstance(record.get("inputs"), list) else []
    user = next((i for i in inputs if isinstance(i, dict) and not str(i.get("file", "")).startswith("seeds/")), None)
    rows = record.get("row_counts") if isinstance(record.get("row_counts"), dict) else {}
    return (
        f"built {record.get('built_at', '?')}  code {record.get('code_version', '?')}  "
        f"{len(inputs)} input files  fct_sector_output {rows.get('fct_sector_output', '?')} rows"
        + (f"  user file {user.get('file')} sha256 {str(user.get('sha256'))[:12]}" if user else "")
        + (f"  ({record['note']})" if "note" in record else "")
    )


def verify_versions(paths: wh.WarehousePaths) -> int:
    """`chengyu verify`: every kept version against its recorded checksum, and the pointer."""
    bad = 0
    for version in paths.versions():
        try:
            wh.verify_version(paths, version)
            print(f"ok       {version.build_id}")
        except wh.CorruptVersion as exc:
            bad += 1
            print(f"CORRUPT  {version.build_id}: {exc}", file=sys.stderr)
    history = wh.read_history(paths)
    print(
        f"publish log: {len(history.events) - (history.pending is not None)} event(s)"
        + (f", {history.skipped} unreadable line(s) ignored" if history.skipped else "")
        + (
            f"; the pointer's version {history.pending['build_id']} is not in it yet (the next build or "
            "rollback records it)"
            if history.pending
            else ""
        )
    )
    paths.current()  # the pointer itself must name a complete version
    return wh.CorruptVersion.exit_code if bad else EXIT_OK
