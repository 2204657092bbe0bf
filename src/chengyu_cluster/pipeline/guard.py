"""The signal and clean-up guard of a build, the same around either backend's publisher.

- `stop_on_signals`: SIGTERM and SIGINT become `Interrupted`, so `finally` blocks run (the
  dbt child is killed, the candidate discarded), whatever the exception turned into on its way.
- `candidate_guard`: a candidate is discarded when the build ends without publishing it
  (dbt or the gate failed, a signal, an error); once published, it is the live version.
- `duckdb_connection`: a build step's DuckDB connection, its query stopped when a signal
  (or any error) ends the step.
- `uninterruptible`: the publish step itself; a signal arriving meanwhile waits until the
  step is complete and is then dropped, so the outcome is the one the build reports.
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived (a BaseException, like KeyboardInterrupt)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.code = 128 + signum


def _ignore_signals() -> None:
    for s in SIGNALS:
        signal.signal(s, signal.SIG_IGN)


@contextmanager
def stop_on_signals() -> Iterator[Callable[[], None]]:
    """Turn SIGTERM (and SIGINT) into Interrupted, so `finally` blocks clean up. Yields a
    check that raises Interrupted if a signal came and what it interrupted swallowed it
    (the build calls it after each step and before publishing)."""
    received: list[int] = []

    def handler(signum, _frame):
        _ignore_signals()  # a second signal while cleaning up must not interrupt the clean-up
        received.append(signum)
        # The exception lands in the main thread wherever it is, possibly inside the `with` of a
        # lock that a thread pool's worker (dbt's, in a Spark build) then fails to release
        # ("release unlocked lock"), which concurrent.futures logs with a traceback. The build is
        # stopping anyway: its one line is the message.
        logging.getLogger("concurrent.futures").disabled = True
        raise Interrupted(signum)

    def stop_if_signalled() -> None:
        if received:
            raise Interrupted(received[0])

    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield stop_if_signalled
    except (Interrupted, GeneratorExit):
        raise
    except BaseException as exc:
        # Inside a DuckDB query the handler's exception comes out as RuntimeError("Query
        # interrupted") (and may be wrapped further up): after a signal, any error is the stop.
        if received:
            raise Interrupted(received[0]) from exc
        raise
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@contextmanager
def duckdb_connection(path: Path, **options) -> Iterator:
    """A DuckDB connection, closed on the way out. On an exception its query is interrupted
    first: after a signal interrupted execute(), DuckDB 1.5's close() can otherwise wait, both
    cores busy, for the query to run to its end."""
    import duckdb

    con = duckdb.connect(str(path), **options)
    try:
        yield con
    except BaseException:
        with suppress(Exception):  # closed already: nothing runs
            con.interrupt()
        raise
    finally:
        con.close()


@contextmanager
def uninterruptible() -> Iterator[None]:
    """Hold SIGINT and SIGTERM during the block (a publish: no signal between its commit
    steps); after it succeeded, a signal that came meanwhile is dropped."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, set(SIGNALS))
    try:
        yield
        _ignore_signals()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


class CandidateGuard:
    """What `candidate_guard` yields: call `published()` once the candidate is live."""

    is_published = False

    def published(self) -> None:
        self.is_published = True


@contextmanager
def candidate_guard(discard: Callable[[], None], what: str) -> Iterator[CandidateGuard]:
    """Around a candidate from its creation to its publish. A failed discard is a warning
    (the next build removes leftovers), never the build's outcome."""
    guard = CandidateGuard()
    try:
        yield guard
    finally:
        if not guard.is_published:
            try:
                discard()
            except Exception as exc:  # noqa: BLE001 - the next build removes it
                print(f"WARNING could not remove {what} ({exc}); the next build removes it", file=sys.stderr)
