"""Child processes: answers and messages over the pipe, errors as messages for a person, and above all
that stopping one, or killing its parent outright, leaves no process of its group behind."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from pipeline.errors import Cancelled, PipelineError
from supervised import BACKGROUND_NICENESS, ChildProcess
from tests.conftest import REPO
from tests.processes import app_processes

CHILD = Path(__file__).resolve().parent / "supervised_child.py"


def never() -> bool:
    return False


@pytest.fixture
def child(monkeypatch):
    mark = uuid.uuid4().hex
    monkeypatch.setenv("CLIPPER_TEST_MARK", mark)
    process = ChildProcess("test", CHILD, setup="prepared")
    process.start()
    process.mark = mark
    yield process
    process.stop()


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_answers_and_messages(child):
    messages = []
    assert child.call(("echo", 7), lambda *message: messages.append(message), never) == ("prepared", 7)
    assert messages == [("progress", "echo", 0.5, "halfway")]
    assert child.call(("echo", 8), lambda *message: None, never) == ("prepared", 8)  # the same process serves on


def test_the_child_and_what_it_starts_run_below_the_app(child):
    """Background work must not slow the pages: the child yields the CPU to the app."""
    child.call(("echo", 1), lambda *message: None, never)
    app_priority = os.getpriority(os.PRIO_PROCESS, 0)
    assert os.getpriority(os.PRIO_PROCESS, child.pid) == min(app_priority + BACKGROUND_NICENESS, 19) > app_priority


@pytest.mark.parametrize("request_, message", [
    (("fail", "The audio could not be read."), "The audio could not be read."),
    (("disk-full",), "The disk is full (no space left on device); free some space and retry."),
    (("bogus",), "Unexpected error (ValueError): bogus"),
])
def test_failures_come_back_as_one_line_for_a_person(child, request_, message):
    with pytest.raises(PipelineError) as caught:
        child.call(request_, lambda *m: None, never)
    assert str(caught.value) == message
    assert child.call(("echo", 1), lambda *m: None, never) == ("prepared", 1)  # still serving


def test_a_child_that_dies_is_reported_and_replaced(child):
    with pytest.raises(PipelineError, match="The test process stopped unexpectedly \\(exit code 3\\)"):
        child.call(("crash",), lambda *m: None, never)
    assert child.call(("echo", 2), lambda *m: None, never) == ("prepared", 2)


def test_a_failing_caller_stops_the_child_so_its_late_answer_reaches_no_other_request(child):
    def broken(*message):
        raise RuntimeError("the database is locked")

    pid = child.pid
    with pytest.raises(RuntimeError):
        child.call(("echo", 1), broken, never)
    assert child.pid is None
    assert child.call(("echo", 2), lambda *m: None, never) == ("prepared", 2)  # a fresh child, in step
    assert child.pid != pid


def test_stopping_kills_the_whole_group_within_a_second(child):
    stop = []
    pid = child.pid

    def should_stop():
        return bool(stop)

    def stop_when_sleeping():
        wait_until(lambda: [p for p, command in app_processes(child.mark) if command.startswith("sleep")])
        stop.append(time.monotonic())

    threading.Thread(target=stop_when_sleeping, daemon=True).start()
    with pytest.raises(Cancelled):
        child.call(("sleep",), lambda *m: None, should_stop)
    assert time.monotonic() - stop[0] < 1.5
    assert app_processes(child.mark) == []  # the child and its sleep are gone
    assert child.pid is None
    child.start()
    assert child.pid != pid


def test_the_group_dies_with_its_parent_even_when_the_parent_is_killed(tmp_path):
    """The parent is SIGKILLed (no clean-up runs in it): the child sees its lifeline close and kills
    its own group, grandchildren included."""
    mark = uuid.uuid4().hex
    parent = subprocess.Popen(
        [sys.executable, "-c", "import sys; from supervised import BACKGROUND_NICENESS, ChildProcess; c = ChildProcess('test', sys.argv[1]); "
                               "c.start(); c.call(('sleep',), lambda *m: None, lambda: False)", str(CHILD)],
        cwd=REPO, env={**os.environ, "CLIPPER_TEST_MARK": mark})
    try:
        wait_until(lambda: [p for p, command in app_processes(mark) if command.startswith("sleep")])
        assert len(app_processes(mark)) == 3  # parent, child, grandchild
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    wait_until(lambda: app_processes(mark) == [], timeout=5)
