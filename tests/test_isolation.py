"""The isolation seam on its own: a function run in a fresh process returns its value, or the host learns,
as a typed failure, that it crashed, ran out of memory, fell silent or overran; whatever it started dies
with it; it dies with its host; and it never runs the host's `__main__` again."""
from __future__ import annotations

import multiprocessing.forkserver
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import isolated_functions as functions
import isolation
from conftest import ROOT
from process_tree import descendants, still_running

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}


def test_a_function_returns_its_value_from_a_process_and_process_group_of_its_own():
    stop = threading.Event()
    busy = [threading.Thread(target=stop.wait) for _ in range(4)]   # a host running threads, like a server
    for thread in busy:
        thread.start()
    try:
        answer = isolation.run(functions.add, (2, 3), {"times": 2})
    finally:
        stop.set()
    assert answer["sum"] == 10
    assert answer["pid"] != os.getpid() and answer["group"] == answer["pid"]


@pytest.mark.parametrize("function, name", [(functions.segfault, "SIGSEGV"), (functions.abort, "SIGABRT")])
def test_a_crash_is_a_typed_failure_naming_the_signal_and_the_host_carries_on(function, name):
    with pytest.raises(isolation.Crashed) as failed:
        isolation.run(function, memory_bytes=4 << 30)
    assert failed.value.signal_number == getattr(signal, name)
    assert failed.value.reason == f"it crashed with signal {name}, or needed more than 4 GB of memory"
    assert isolation.run(functions.add, (1, 1))["sum"] == 2


def test_an_exception_is_reported_by_its_type_never_by_its_message_which_may_quote_a_path():
    with pytest.raises(isolation.Crashed) as failed:
        isolation.run(functions.fail_with_a_path)
    assert failed.value.exception == "ValueError"
    assert failed.value.reason == "it failed with an unexpected ValueError"


def test_an_allocation_past_the_memory_cap_is_out_of_memory_and_one_within_it_succeeds():
    cap = 2 << 30
    with pytest.raises(isolation.OutOfMemory) as failed:
        isolation.run(functions.allocate, (cap,), memory_bytes=cap)   # with the interpreter, past the cap
    assert failed.value.memory_bytes == cap and failed.value.reason == "it needed more than 2 GB of memory"
    assert isolation.run(functions.allocate, (64 << 20,), memory_bytes=cap) == 64 << 20


def test_progress_reaches_the_host_in_order():
    seen = []
    assert isolation.run(functions.count_to, (4,), on_progress=lambda *report: seen.append(report)) == "counted"
    assert seen == [(0.25, "step 1"), (0.5, "step 2"), (0.75, "step 3"), (1.0, "step 4")]


def test_a_function_that_falls_silent_is_killed_with_the_program_it_started(tmp_path):
    ids = tmp_path / "ids"
    with pytest.raises(isolation.FellSilent) as failed:
        isolation.run(functions.start_child_then, (str(ids), "fall silent"), silent_seconds=1)
    assert failed.value.reason == "it showed no progress for 1 s"
    assert still_running(map(int, ids.read_text().split())) == set()


def test_a_function_that_crashes_takes_the_program_it_started_with_it(tmp_path):
    ids = tmp_path / "ids"
    with pytest.raises(isolation.Crashed):
        isolation.run(functions.start_child_then, (str(ids), "crash"))
    worker, program = map(int, ids.read_text().split())
    assert still_running({worker, program}) == set()


def test_a_function_still_reporting_progress_at_its_deadline_is_stopped_as_overrunning():
    started = time.monotonic()
    with pytest.raises(isolation.Overran) as failed:
        isolation.run(functions.keep_reporting, (600,), silent_seconds=60, total_seconds=1)
    assert failed.value.reason == "it took longer than 1 s"
    assert time.monotonic() - started < 60   # stopped at the deadline, not at the silence limit


HOST = r"""
import sys
import isolated_functions, isolation
isolation.run(isolated_functions.start_child_then, (sys.argv[1], "wait"))
"""


def test_when_the_host_is_killed_its_worker_and_the_program_it_started_die_at_once(tmp_path):
    ids = tmp_path / "ids"
    host = subprocess.Popen([sys.executable, "-c", HOST, str(ids)], cwd=tmp_path, env=ENV)
    try:
        deadline = time.monotonic() + 120
        while len(_written(ids)) < 2 and host.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        started = descendants(host.pid)
    finally:
        host.kill()
        host.wait()
    worker, program = _written(ids)
    assert {worker, program} <= started
    assert still_running(started) == set()


def _written(ids: Path) -> list[int]:
    try:
        return [int(word) for word in ids.read_text().split()]
    except FileNotFoundError:
        return []


PAGE = r"""
import sys
if __name__ != "__main__":   # a Streamlit page run again inside a worker would fail like this
    raise RuntimeError("the host's main script was run again in the worker")
import isolated_functions, isolation
print(isolation.run(isolated_functions.add, (20, 22))["sum"])
"""


def test_a_worker_never_runs_the_hosts_main_script_again(tmp_path):
    """In a Streamlit server `__main__` is the page being run; multiprocessing would have re-run it."""
    page = tmp_path / "page.py"
    page.write_text(PAGE)
    done = subprocess.run([sys.executable, str(page)], cwd=tmp_path, capture_output=True, text=True, env=ENV,
                          timeout=300)
    assert done.stdout.strip() == "42", done.stderr[-2000:]


def test_a_command_line_waits_for_its_fork_server_so_nothing_of_it_outlives_it():
    isolation.run(functions.add, (1, 2))
    server = multiprocessing.forkserver._forkserver._forkserver_pid
    isolation.shut_down()
    assert server is not None and not Path(f"/proc/{server}").exists()   # ended and reaped
    assert isolation.run(functions.add, (2, 2))["sum"] == 4   # the next run starts a new one


COMMAND = r"""
import isolated_functions, isolation
isolation.run(isolated_functions.allocate, (400 << 20,))
isolation.shut_down()
"""


def test_a_command_lines_peak_memory_counts_its_workers_once_it_has_shut_down():
    """What the hostile-file tests measure of a CLI (its resource usage, reaped children included) must
    include the reading done in its workers."""
    command = subprocess.Popen([sys.executable, "-c", COMMAND], cwd=ROOT, env=ENV)
    _, status, usage = os.wait4(command.pid, 0)
    command.returncode = os.waitstatus_to_exitcode(status)
    assert command.returncode == 0
    assert usage.ru_maxrss * 1024 > 400 << 20
