"""The study's progress: a bar on a terminal, lines in a log, never silent for long."""

from __future__ import annotations

import io

import pytest

from jaxact.progress import Progress


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_lines_off_a_terminal_name_experiment_stage_and_verdict():
    log = io.StringIO()
    p = Progress(3, stream=log, prefix="jaxact study")
    p.resumed("linear", "supported")
    p.start("depth")
    p.stage("training 30 networks on digits")
    p.finish("supported", 12.25)
    p.close()
    assert log.getvalue().splitlines() == [
        "jaxact study: [1/3] linear: supported (resumed from an earlier run)",
        "jaxact study: [2/3] depth ...",
        "jaxact study: [2/3] depth: training 30 networks on digits",
        "jaxact study: [2/3] depth: supported (12.2 s)",
    ]


def test_heartbeat_while_training_off_a_terminal(monkeypatch):
    # A line every `heartbeat` seconds of training, counting steps and networks so far: a
    # log never goes quiet for minutes (it did for 12 minutes before).
    clock = iter([0.0, 0.0, 10.0, 31.0, 40.0, 62.0])
    monkeypatch.setattr("jaxact.progress.time.perf_counter", lambda: next(clock))
    log = io.StringIO()
    p = Progress(1, stream=log, prefix="s", heartbeat=30.0)  # t = 0
    p.start("depth")  # t = 0
    p.add_steps(100)  # t = 10: quiet
    p.add_runs(6)  # t = 31: a line
    p.add_steps(50)  # t = 40: quiet
    p.add_runs(6)  # t = 62: a line
    lines = log.getvalue().splitlines()[1:]
    assert lines == ["s: [1/1] depth: 100 steps, 6 networks trained so far, 31 s",
                     "s: [1/1] depth: 150 steps, 12 networks trained so far, 62 s"]  # fmt: skip


def test_disabled_writes_nothing():
    log = _Terminal()
    p = Progress(1, stream=log, enabled=False)
    p.start("x")
    p.stage("y")
    p.add_steps(5)
    p.finish("supported", 1.0)
    p.close()
    assert log.getvalue() == ""


def test_a_terminal_gets_a_bar_that_names_the_running_experiment():
    term = _Terminal()
    p = Progress(2, stream=term, prefix="jaxact study")
    p.start("relu_passes")
    p.finish("supported", 0.5)
    p.start("depth")
    p.stage("training")  # shown at once, not at the next update (the bar froze before)
    text = term.getvalue()
    assert "depth, training" in text and "1/2" in text
    assert "jaxact study: [" not in text  # no log lines on a terminal
    p.close()


@pytest.mark.slow
def test_study_writes_progress_lines_into_a_log(tmp_path, capsys):
    from jaxact.study import run_study

    run_study(tmp_path, mode="quick", only=["flat", "ranges"])
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "jaxact study: [1/2] ranges ..."
    assert err[-1].startswith("jaxact study: [2/2] flat: supported (")
