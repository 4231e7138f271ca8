"""Kill ``jaxact study`` and ``jaxact sweep`` with SIGKILL mid-run, resume: nothing lost, nothing
duplicated, and a record file cut mid-line does not stop the resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jaxact.cli import main

ENV = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONWARNINGS": "ignore"}


def _start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "jaxact", *args], env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 240) -> None:
    t0 = time.monotonic()
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"finished before it could be killed: {proc.stderr.read().decode()}")
        if time.monotonic() - t0 > timeout:
            proc.kill()
            pytest.fail("nothing written in time")
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


SWEEP = ["sweep", "--activation", "tanh", "relu", "sigmoid", "--depth", "4", "6", "--width", "16",
         "--seeds", "3", "--batch", "4", "--no-progress"]  # fmt: skip


def _lines(path: Path) -> list[str]:
    return [ln for ln in path.read_text().split("\n") if ln.strip()]


@pytest.mark.slow
def test_sweep_killed_then_resumed(tmp_path, capsys):
    out = tmp_path / "records.jsonl"
    proc = _start([*SWEEP, "--out", str(out)])
    _kill_when(proc, lambda: out.exists() and len(_lines(out)) >= 3)
    before = _lines(out)
    assert main([*SWEEP, "--out", str(out), "--resume"]) == 0
    after = [json.loads(ln) for ln in _lines(out)]
    keys = [(r["activation"], r["depth"], r["seed"]) for r in after]
    assert len(keys) == len(set(keys)) == 3 * 2 * 3  # every (cell, seed) once
    assert _lines(out)[: len(before)] == before  # what was written before the kill is kept
    # A clean run gives the same numbers (records resumed and records computed alike).
    clean = tmp_path / "clean.jsonl"
    assert main([*SWEEP, "--out", str(clean)]) == 0
    by_key = {(r["activation"], r["depth"], r["seed"]): r["rate"] for r in
              map(json.loads, _lines(clean))}  # fmt: skip
    assert {k: r["rate"] for k, r in zip(keys, after, strict=True)} == by_key


@pytest.mark.slow
def test_a_torn_last_line_is_skipped_with_a_warning(tmp_path, capsys):
    out = tmp_path / "records.jsonl"
    small = [*SWEEP[:3], "--depth", "4", "--width", "8", "--seeds", "2", "--batch", "4",
             "--no-progress"]  # fmt: skip
    assert main([*small, "--out", str(out)]) == 0
    whole = _lines(out)
    text = out.read_text()
    out.write_text(text[: len(text) - 40])  # the last record cut mid-line, no newline
    with pytest.warns(UserWarning, match="last line is incomplete") as caught:
        assert main([*small, "--out", str(out), "--resume"]) == 0
    assert len([w for w in caught if "incomplete" in str(w.message)]) == 1  # warned once
    again = _lines(out)
    assert len(again) == len(whole) and all(json.loads(ln) for ln in again)
    assert sorted(again) == sorted(whole)


@pytest.mark.slow
def test_study_killed_then_resumed(tmp_path):
    out = tmp_path / "study"
    args = ["study", "--quick", "--only", "linear", "ranges", "--out", str(out), "--no-progress"]
    proc = _start(args)
    first = out / "results" / "linear.json"
    _kill_when(proc, first.exists)
    saved = first.read_text()
    assert not (out / "results" / "ranges.json").exists()  # killed before the second finished
    assert main([*args, "--resume"]) == 0
    assert first.read_text() == saved  # resumed, not recomputed
    results = json.loads((out / "results.json").read_text())
    ids = [e["id"] for e in results["experiments"]]
    assert ids == ["linear", "ranges"]
    assert (out / "report.md").exists()
    # Written like any file (the umask's permissions), not the temporary file's 0600.
    mask = os.umask(0)
    os.umask(mask)
    assert (out / "results.json").stat().st_mode & 0o777 == 0o666 & ~mask
