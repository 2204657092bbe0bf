"""The build's signal guard: a SIGTERM or SIGINT ends the build with 143 or 130 and its one
line whatever the signal interrupted. Inside a DuckDB query the handler's exception comes out
as RuntimeError("Query interrupted"), which code on the way may wrap or swallow; CI once saw
such a build end with exit 1 (a traceback) instead of 143. And the interrupted query must
stop: DuckDB 1.5's close() after it can otherwise wait for the query to run to its end. Real
signals to this process, a real DuckDB query; no build."""

from __future__ import annotations

import os
import signal
import threading
from contextlib import suppress

import pytest

from chengyu_cluster.exits import ChengyuExit
from chengyu_cluster.pipeline.guard import Interrupted, duckdb_connection, stop_on_signals

LONG_QUERY = "select count(*) from range(100000000000) t(x) where x % 7 = 3"  # minutes unless interrupted


def signal_soon(signum: int, delay: float = 0.3) -> threading.Timer:
    timer = threading.Timer(delay, os.kill, (os.getpid(), signum))
    timer.start()
    return timer


def query_raw(con):
    con.execute(LONG_QUERY).fetchall()


def query_wrapped(con):
    try:
        con.execute(LONG_QUERY).fetchall()
    except Exception as exc:  # what a command does with a query's error: its own one line
        raise ChengyuExit(8, f"the query failed: {exc}") from exc


def query_swallowed(con):
    try:
        con.execute(LONG_QUERY).fetchall()
    except Exception:  # a fallback that carries on (e.g. "no comparison")
        pass


@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
@pytest.mark.parametrize("query", [query_raw, query_wrapped, query_swallowed])
def test_a_signal_inside_a_duckdb_query_stops_the_query_with_the_signals_code(signum, code, query):
    previous = signal.getsignal(signum)
    connections, stopped_in_time, left_running = [], threading.Event(), threading.Event()

    def watchdog():  # a query still running 30 s on has outlived the interrupt
        if not stopped_in_time.wait(30):
            left_running.set()
            with suppress(Exception):
                connections[0].interrupt()

    timer = None
    try:
        with pytest.raises(Interrupted) as stopped:
            with stop_on_signals() as stop_if_signalled, duckdb_connection(":memory:") as con:
                connections.append(con)
                threading.Thread(target=watchdog, daemon=True).start()
                timer = signal_soon(signum)
                query(con)
                stop_if_signalled()  # the build's check before it publishes
    finally:
        stopped_in_time.set()
        if timer is not None:  # never a signal after the guard has gone (it would end pytest)
            timer.cancel()
            timer.join()
    assert not left_running.is_set(), "the interrupted query went on running after close()"
    assert stopped.value.code == code
    assert str(stopped.value) == signal.Signals(signum).name
    assert signal.getsignal(signum) is previous, "the handler before the guard is restored"


def test_an_error_without_a_signal_passes_unchanged():
    with pytest.raises(ValueError, match="a bad value"):
        with stop_on_signals() as stop_if_signalled:
            stop_if_signalled()  # no signal: nothing to stop
            raise ValueError("a bad value")


def test_a_second_signal_during_the_clean_up_is_ignored():
    cleaned = []
    with pytest.raises(Interrupted) as stopped:
        with stop_on_signals():
            try:
                signal_soon(signal.SIGTERM, 0).join()  # sent before the next line
                threading.Event().wait(5)  # the first signal lands here
            finally:
                os.kill(os.getpid(), signal.SIGINT)  # a second one, while cleaning up
                cleaned.append(True)
    assert cleaned == [True]
    assert stopped.value.code == 143
