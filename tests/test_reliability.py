"""Nothing lost, nothing clobbered: fault injection against every writer (issue 27).

Full disks and short writes are simulated by swapping ``jaxact.files``'s ``os`` for one whose
``write`` fails after a byte budget (the real ``os.write`` stays untouched for pytest itself);
the slow tests use the kernel's own limits (``RLIMIT_FSIZE``) and signals in a subprocess.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxact
from jaxact import files
from jaxact.cli import main
from jaxact.datasets import Dataset
from jaxact.files import OutputBusy, OutputRefused, WriteFailed, hold_output
from jaxact.progress import Interrupted
from jaxact.sweeps import RECORD_SCHEMA, read_records, summarize, sweep

ENV = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONWARNINGS": "ignore"}

# A small attenuation sweep: 2 activations x 2 depths = 4 cells, 2 seeds each.
SWEEP_ARGS = ["sweep", "--activation", "tanh", "relu", "--depth", "2", "3", "--width", "8",
              "--seeds", "2", "--batch", "4", "--no-progress"]  # fmt: skip
SWEEP_KW = dict(activations=["tanh", "relu"], depths=[2, 3], widths=8, seeds=2, batch=4)


class FullDisk:
    """Stands in for ``os`` inside ``jaxact.files``: ``write`` accepts ``budget`` more bytes in
    all, then writes short (what fits) and raises ENOSPC, as a filling disk does."""

    def __init__(self, budget: int):
        self.budget = budget
        self.calls = 0

    def __getattr__(self, name):
        return getattr(os, name)

    def write(self, fd, data):
        self.calls += 1
        data = bytes(data)
        if self.budget <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        n = os.write(fd, data[: self.budget])
        self.budget -= n
        return n


def _one_line(capsys, code_expected: int, code: int, *needles: str) -> str:
    out, err = capsys.readouterr()
    assert code == code_expected, (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err  # one line, no traceback
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


# ----------------------------------------------------------------------------- atomic writes


def test_a_short_write_never_leaves_a_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "results.json"
    files.atomic_write(target, "old content")
    monkeypatch.setattr(files, "os", FullDisk(budget=5))
    with pytest.raises(WriteFailed, match=r"No space left on device.*intact"):
        files.atomic_write(target, "new content, longer than five bytes")
    monkeypatch.undo()
    assert target.read_text() == "old content"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # no temporary file left


def test_a_short_write_is_continued_until_every_byte_is_out(tmp_path, monkeypatch):
    """os.write may return less than asked without an error; the rest must still go out."""

    class Dribble(FullDisk):
        def write(self, fd, data):
            self.calls += 1
            return os.write(fd, bytes(data)[:3])

    fake = Dribble(budget=0)
    monkeypatch.setattr(files, "os", fake)
    files.atomic_write(tmp_path / "a.txt", "0123456789")
    files.append_lines(tmp_path / "b.jsonl", ['{"x": 1}', '{"x": 2}'])
    monkeypatch.undo()
    assert (tmp_path / "a.txt").read_text() == "0123456789"
    assert (tmp_path / "b.jsonl").read_text() == '{"x": 1}\n{"x": 2}\n'
    assert fake.calls >= 4 + 6  # 10 bytes and 18 bytes, three at a time


def test_an_append_that_does_not_fit_is_undone(tmp_path, monkeypatch):
    path = tmp_path / "r.jsonl"
    files.append_lines(path, ['{"a": 1}'])
    monkeypatch.setattr(files, "os", FullDisk(budget=4))  # part of the next line fits
    with pytest.raises(WriteFailed, match=r"2 record\(s\) not appended"):
        files.append_lines(path, ['{"a": 2}', '{"a": 3}'])
    monkeypatch.undo()
    assert path.read_text() == '{"a": 1}\n'  # cut back: no torn line


def test_a_figure_is_whole_or_absent(tmp_path, monkeypatch):
    from jaxact.plotting import pyplot

    plt = pyplot()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    monkeypatch.setattr(files, "os", FullDisk(budget=100))
    with pytest.raises(WriteFailed):
        files.save_figure_atomically(fig, tmp_path / "f.png", dpi=40)
    monkeypatch.undo()
    plt.close(fig)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- the sweep's file


@pytest.mark.slow
def test_sweep_on_a_full_disk_keeps_whole_records_and_resumes(tmp_path, monkeypatch, capsys):
    out = tmp_path / "r.jsonl"
    one_record = len(json.dumps(sweep(**{**SWEEP_KW, "depths": 2, "activations": "tanh"})[0]))
    # Room for the first cell's two records and part of the next: the CLI must not say "done".
    fake = FullDisk(budget=2 * (one_record + 1) + one_record // 2)
    monkeypatch.setattr(files, "os", fake)
    code = main([*SWEEP_ARGS, "--out", str(out)])
    line = _one_line(capsys, 1, code, "could not write", "No space left", "--resume")
    monkeypatch.undo()
    records = read_records(out)
    assert len(records) == 2 and out.read_text().endswith("\n"), line  # whole lines only
    # Space freed: --resume completes the grid, every (cell, seed) once.
    assert main([*SWEEP_ARGS, "--out", str(out), "--resume"]) == 0
    keys = [(r["activation"], r["depth"], r["seed"]) for r in read_records(out)]
    assert len(keys) == len(set(keys)) == 8


@pytest.mark.slow
def test_sweep_refuses_records_without_resume_and_force_replaces_them(tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    one_cell = [*SWEEP_ARGS[:3], "--depth", "2", *SWEEP_ARGS[7:]]  # tanh, depth 2: 2 records
    assert main([*one_cell, "--out", str(out)]) == 0
    capsys.readouterr()
    before = out.read_bytes()
    code = main([*one_cell, "--out", str(out)])
    _one_line(capsys, 2, code, "already holds 2 record(s)", "--resume", "--force")
    assert out.read_bytes() == before
    out.write_text(out.read_text().splitlines(keepends=True)[0])  # 1 of 2 records
    assert main([*one_cell, "--out", str(out), "--force"]) == 0
    assert out.read_bytes() == before  # replaced, not appended to


@pytest.mark.parametrize("kind", ["user file", "fifo", "device", "folder", "empty"])
def test_sweep_refuses_what_is_not_its_record_file(kind, tmp_path, capsys):
    out = {"user file": tmp_path / "notes.txt", "fifo": tmp_path / "pipe",
           "device": Path("/dev/zero"), "folder": tmp_path, "empty": ""}[kind]  # fmt: skip
    if kind == "user file":
        out.write_text("my notes\n")
    if kind == "fifo":
        os.mkfifo(out)
    t0 = time.monotonic()
    code = main([*SWEEP_ARGS, "--out", str(out)])
    needle = {"user file": "not a jaxact sweep record file", "fifo": "is a FIFO",
              "device": "is a character device", "folder": "is a directory",
              "empty": "must name a file"}[kind]  # fmt: skip
    _one_line(capsys, 2, code, needle)
    assert time.monotonic() - t0 < 5  # refused at once: neither hangs on a FIFO nor reads /dev/zero
    if kind == "user file":
        assert out.read_text() == "my notes\n"


@pytest.mark.slow
def test_a_second_writer_is_refused_not_duplicated(tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    with hold_output(out):  # another process's lock (flock: per open file, so it conflicts)
        code = main([*SWEEP_ARGS, "--out", str(out)])
        _one_line(capsys, 2, code, "another jaxact process is writing there")
        with pytest.raises(OutputBusy):
            sweep(**SWEEP_KW, out=out)
    assert read_records(out) == []
    one_cell = {**SWEEP_KW, "activations": "tanh", "depths": 2}
    assert len(sweep(**one_cell, out=out)) == 2  # the lock went with its holder


@pytest.mark.slow
def test_resume_removes_repeated_and_outdated_records(tmp_path):
    out = tmp_path / "r.jsonl"
    records = sweep(**SWEEP_KW, out=out)
    lines = out.read_text().splitlines()
    old = {**records[0], "schema": 0}
    # Two writers before locks existed: every record twice, and one of an older layout.
    out.write_text("\n".join([*lines, *lines, json.dumps(old)]) + "\n")
    with pytest.warns(UserWarning) as seen:
        again = sweep(**SWEEP_KW, out=out, resume=True)
    text = " ".join(str(w.message) for w in seen)
    assert "9 repeated or outdated record(s) removed; 8 kept" in text, text
    assert len(out.read_text().splitlines()) == 8
    assert [r["rate"] for r in again] == [r["rate"] for r in records]  # nothing recomputed


@pytest.mark.slow
def test_records_of_another_layout_are_recomputed(tmp_path):
    out = tmp_path / "r.jsonl"
    records = sweep(**SWEEP_KW, out=out)
    lines = out.read_text().splitlines()
    future = json.loads(lines[0]) | {"schema": 99, "rate": 123.0}
    out.write_text("\n".join([json.dumps(future), *lines[1:]]) + "\n")
    with pytest.warns(UserWarning) as seen:
        again = sweep(**SWEEP_KW, out=out, resume=True)
    text = " ".join(str(w.message) for w in seen)
    assert "1 record(s) of another layout version skipped" in text, text
    assert "1 repeated or outdated record(s) removed; 7 kept" in text, text  # then recomputed
    assert again[0]["rate"] == records[0]["rate"] != 123.0
    assert all(r["schema"] == RECORD_SCHEMA for r in read_records(out))


# ----------------------------------------------------------------------------- the study's folder

STUDY = ["study", "--quick", "--only", "flat", "--no-progress"]


@pytest.mark.slow
def test_study_refuses_a_folder_of_user_files(tmp_path, capsys):
    u = tmp_path / "u"
    (u / "figures").mkdir(parents=True)
    for name in ("report.md", "report.html", "results.json", "figures/flat.png"):
        (u / name).write_text(f"the user's {name}\n")
    before = _digest(u)
    code = main([*STUDY, "--out", str(u)])
    _one_line(capsys, 2, code, "holds files jaxact did not write", "--force")
    assert _digest(u) == before  # nothing replaced
    assert main([*STUDY, "--out", str(u), "--force"]) == 0  # said so: written into
    assert (u / "report.md").read_text() != "the user's report.md\n"
    capsys.readouterr()
    assert main([*STUDY, "--out", str(u)]) == 0  # now marked as a study's folder


def test_study_refuses_another_kind_of_run(tmp_path, capsys):
    files.mark_output_dir(tmp_path, "bench")
    (tmp_path / "cpu.json").write_text("{}")
    code = main([*STUDY, "--out", str(tmp_path)])
    _one_line(capsys, 2, code, "holds a jaxact 'bench' run, not a 'study' run")


@pytest.mark.parametrize("name", ["results", "figures", "report.md"])
def test_a_name_clash_is_found_before_any_work(name, tmp_path, capsys, monkeypatch):
    from jaxact.study import runner

    files.mark_output_dir(tmp_path, "study")
    if name == "report.md":
        (tmp_path / name).mkdir()
    else:
        (tmp_path / name).write_text("a user's file\n")
    ran = []
    monkeypatch.setattr(runner, "EXPERIMENTS", [("flat", lambda ctx: ran.append(1))])
    code = main([*STUDY, "--out", str(tmp_path), "--force"])
    _one_line(capsys, 2, code, f"{name} is a", "move it away")
    assert ran == []


def test_empty_out_is_an_error_in_the_api_too(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputRefused, match="must name a folder"):
        jaxact.study.run_study("", mode="quick", only=["flat"], show_progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_out_folder_is_refused_first(tmp_path, capsys):
    files.mark_output_dir(tmp_path, "study")
    tmp_path.chmod(0o500)
    try:
        code = main([*STUDY, "--out", str(tmp_path)])
    finally:
        tmp_path.chmod(0o700)
    _one_line(capsys, 2, code, "cannot write in")


def _study_with(monkeypatch, fns):
    from jaxact.study import runner  # run_study reads its registry there

    monkeypatch.setattr(runner, "EXPERIMENTS", fns)


def _fake_experiment(exp_id: str, calls: list):
    def run(ctx):
        calls.append(exp_id)
        return jaxact.study.Experiment(exp_id, exp_id.title(), "a claim", "supported",
                                       "short", {"n": 1})  # fmt: skip

    return run


@pytest.mark.parametrize("content", [
    "[1, 2]",
    "{not json",
    '{"schema": 2, "config": {}, "experiment": {}}',
    "FIELD:figures:null",
    "FIELD:extra:1",
    "DROP:verdict",
])  # fmt: skip
def test_study_resume_recomputes_a_result_of_another_shape(content, tmp_path, monkeypatch,
                                                          capsys):  # fmt: skip
    calls: list = []
    _study_with(monkeypatch, [("a", _fake_experiment("a", calls)),
                              ("b", _fake_experiment("b", calls))])  # fmt: skip
    jaxact.study.run_study(tmp_path, mode="quick", show_progress=False)
    path = tmp_path / "results" / "a.json"
    data = json.loads(path.read_text())
    if content.startswith("FIELD:"):
        _, field, value = content.split(":")
        data["experiment"][field] = json.loads(value)
        content = json.dumps(data)
    elif content.startswith("DROP:"):
        del data["experiment"][content.split(":")[1]]
        content = json.dumps(data)
    path.write_text(content)
    calls.clear()
    with pytest.warns(UserWarning, match="not a result this jaxact can read.*a is recomputed"):
        done = jaxact.study.run_study(tmp_path, mode="quick", resume=True, show_progress=False)
    assert calls == ["a"] and [e.id for e in done] == ["a", "b"]
    assert json.loads(path.read_text())["schema"] == files.SCHEMA_VERSION


def test_study_on_a_full_disk_keeps_what_it_wrote_and_resumes(tmp_path, monkeypatch, capsys):
    calls: list = []
    _study_with(monkeypatch, [("a", _fake_experiment("a", calls)),
                              ("b", _fake_experiment("b", calls))])  # fmt: skip
    out = tmp_path / "s"
    disk = FullDisk(budget=10_000)  # the marker is written; a.json fits; b.json does not
    real_write = files.atomic_write

    def counting_write(path, data):
        if Path(path).name == "b.json":
            disk.budget = 10
        return real_write(path, data)

    monkeypatch.setattr(files, "os", disk)
    monkeypatch.setattr(jaxact.study.runner, "atomic_write", counting_write)
    code = main(["study", "--quick", "--no-progress", "--out", str(out)])
    _one_line(capsys, 1, code, "could not write", "b.json", "No space left", "--resume")
    monkeypatch.setattr(files, "os", os)
    assert sorted(p.name for p in (out / "results").iterdir()) == ["a.json"]  # whole, valid
    json.loads((out / "results" / "a.json").read_text())
    calls.clear()
    assert main(["study", "--quick", "--no-progress", "--out", str(out), "--resume"]) == 0
    assert calls == ["b"]  # only the missing experiment ran


def test_ctrl_c_is_one_line_and_resumable(tmp_path, monkeypatch, capsys):
    calls: list = []

    def interrupted(ctx):
        raise KeyboardInterrupt

    _study_with(monkeypatch, [("a", _fake_experiment("a", calls)), ("b", interrupted)])
    code = main(["study", "--quick", "--no-progress", "--out", str(tmp_path)])
    line = _one_line(
        capsys,
        130,
        code,
        "interrupted; 1 of 2 experiments done",
        f"resume with: jaxact study --quick --no-progress --out {tmp_path} --resume",
    )
    assert line.startswith("jaxact study: ")
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["a.json"]


@pytest.mark.slow
def test_ctrl_c_in_a_sweep_counts_the_cells_written(tmp_path, monkeypatch, capsys):
    from jaxact import sweeps

    real = sweeps._run_group
    groups = []

    def stop_at_the_second_group(*args, **kw):
        groups.append(1)
        if len(groups) == 2:
            raise KeyboardInterrupt
        return real(*args, **kw)

    monkeypatch.setattr(sweeps, "_run_group", stop_at_the_second_group)
    out = tmp_path / "r.jsonl"
    code = main([*SWEEP_ARGS, "--out", str(out)])
    _one_line(capsys, 130, code, "interrupted; 1 of 4 grid cells done", "--resume")
    assert len(read_records(out)) == 2
    with pytest.raises(Interrupted) as info:
        groups.clear()
        sweep(**SWEEP_KW, out=tmp_path / "r2.jsonl")
    assert (info.value.done, info.value.total) == (1, 4)


# ----------------------------------------------------------------------------- bench's folder


def test_bench_keeps_its_run_when_the_earlier_file_is_corrupt(tmp_path, monkeypatch, capsys):
    from jaxact.bench import runner
    from jaxact.bench.timing import device_info, device_slug

    def run_all(*, quick, parts, log=print):
        return {"device": device_info(), "quick": quick, "parts": {p: {"v": 1} for p in parts}}

    monkeypatch.setattr(runner, "run_all", run_all)
    monkeypatch.setattr(runner, "markdown", lambda results, command: "")
    monkeypatch.setattr(runner, "plots", lambda results, prefix: [])
    files.mark_output_dir(tmp_path, "bench")
    slug = device_slug(device_info()) + "-quick"
    (tmp_path / f"{slug}.json").write_text('{"parts": {"mlp": ')  # cut short
    assert main(["bench", "--quick", "--parts", "attenuation", "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "could not be merged" in err and ".unreadable" in err
    saved = json.loads((tmp_path / f"{slug}.json").read_text())
    assert list(saved["parts"]) == ["attenuation"] and saved["schema"] == files.SCHEMA_VERSION
    assert (tmp_path / f"{slug}.json.unreadable").read_text() == '{"parts": {"mlp": '


def test_bench_refuses_a_folder_of_user_files(tmp_path, capsys):
    (tmp_path / "thesis.tex").write_text("\\documentclass{article}\n")
    code = main(["bench", "--quick", "--parts", "attenuation", "--out", str(tmp_path)])
    _one_line(capsys, 2, code, "holds files jaxact did not write (thesis.tex)")


# ----------------------------------------------------------------------------- numbers


@pytest.mark.slow
def test_an_overflowing_sweep_is_flagged_not_averaged(capsys):
    recs = sweep(activations=["relu", "tanh"], depths=40, widths=16, seeds=2, batch=4,
                 inits="gaussian", sigma_w2=1e4)  # fmt: skip
    lost = {(r["activation"], r["signal_lost"]) for r in recs}
    # relu: the forward signal grows 5000x per layer (1e4 / 2) and overflows float32 in ~11
    # layers; tanh saturates instead, phi' underflows to exactly 0 on the way back.
    assert lost == {("relu", "overflow"), ("tanh", "underflow")}, lost
    for r in recs:
        assert isinstance(r["signal_lost_layer"], int) and 1 <= r["signal_lost_layer"] <= 40
        if r["signal_lost"] == "overflow":
            assert np.isnan(r["rate"]) and np.isnan(r["total"])
    rows = {r["activation"]: r for r in summarize(recs)}
    assert rows["relu"]["signal_lost"] == rows["tanh"]["signal_lost"] == 2
    assert np.isnan(rows["tanh"]["rate_mean"])  # no seed measured: no rate
    code = main(["sweep", "--activation", "tanh", "--depth", "40", "--width", "16", "--seeds",
                 "1", "--batch", "4", "--init", "gaussian", "--sigma-w2", "1e4",
                 "--no-progress"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and "underflow: tanh depth 40" in out and "exactly 0" in out


def test_signal_lost_is_the_one_definition():
    from jaxact.attenuation import signal_lost

    assert signal_lost(np.array([1e-3, 1e-2, 1.0])) is None
    assert signal_lost(np.array([0.0, 0.0, 1e-30, 1.0])) == ("underflow", 2)
    assert signal_lost(np.array([np.nan, np.inf, 1.0, 2.0])) == ("overflow", 2)
    assert signal_lost(np.array([0.0, np.inf, 1.0])) == ("overflow", 2)  # overflow wins


def _data(y, task="binary", n=8):
    x = jax.random.normal(jax.random.key(0), (n, 2), jnp.float32)
    return Dataset(x, jnp.asarray(y), task, "test")


@pytest.mark.parametrize("kw, error, match", [
    (dict(data=_data(jnp.arange(8) % 6)), ValueError, "binary labels must be 0 or 1"),
    (dict(data=_data(jnp.zeros((0,)), n=0)), ValueError, "the data set is empty"),
    (dict(data=_data(-jnp.ones(8, jnp.int32), "multiclass")), ValueError, "must be >= 0"),
    (dict(data=_data(jnp.zeros(8), "multiclass")), TypeError, "must be integers"),
    (dict(batch_size=0), ValueError, "batch_size must be an integer >= 1"),
    (dict(batch_size=-5), ValueError, "batch_size must be an integer >= 1"),
    (dict(batch_size=9), ValueError, "larger than the 8 examples"),
    (dict(optimizer="adam"), TypeError, r"named_optimizer\('adam', rate\)"),
])  # fmt: skip
def test_train_checks_its_inputs_before_any_step(kw, error, match):
    data = kw.pop("data", _data(jnp.arange(8) % 2))
    p = jaxact.init_mlp(jax.random.key(1), depth=2, width=4, in_dim=2, out_dim=1)
    with pytest.raises(error, match=match):
        jaxact.train(p, data, "relu", steps=2, **kw)


@pytest.mark.parametrize("axis, values", [("depths", [3, 3]), ("widths", [8, 8]),
                                          ("activations", ["silu", "swish"]),
                                          ("seeds", [1, 1])])  # fmt: skip
def test_repeated_grid_values_are_refused(axis, values):
    kw = {**SWEEP_KW, axis: values}
    with pytest.raises(ValueError, match=f"{axis} has repeats"):
        sweep(**kw)


# ----------------------------------------------------------------------------- real faults (slow)


@pytest.mark.slow
@pytest.mark.parametrize("what", ["records", "figure"])
def test_a_file_size_limit_leaves_no_torn_figure_or_record(what, tmp_path):
    """The kernel's RLIMIT_FSIZE (EFBIG on the write that crosses it) in a real process: 3000
    bytes hold a few records (about 500 bytes each) but not the 4 cells' figure (~30 kB)."""
    out = ["--out", str(tmp_path / "r.jsonl")] if what == "records" else []
    argv = [*SWEEP_ARGS, *out, "--plot", str(tmp_path / "p.png")]
    script = f"""
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (3000, 3000))
from jaxact.cli import main
sys.exit(main({argv!r}))
"""
    proc = subprocess.run([sys.executable, "-c", script], env=ENV, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert "could not write" in lines[0] and "File too large" in lines[0], lines[0]
    if what == "records":
        text = (tmp_path / "r.jsonl").read_text()
        assert text.endswith("\n") and 0 < len(text) <= 3000
        assert all(json.loads(line) for line in text.splitlines())  # whole records only
    else:
        assert "p.png" in lines[0]
    assert not (tmp_path / "p.png").exists()
    expected = ["r.jsonl"] if what == "records" else []
    assert [p.name for p in tmp_path.iterdir()] == expected  # no temporary files


@pytest.mark.slow
def test_two_sweep_processes_never_duplicate(tmp_path):
    out = tmp_path / "r.jsonl"
    args = [sys.executable, "-m", "jaxact", *SWEEP_ARGS[:-1], "--depth", "2", "3", "4", "5",
            "--out", str(out), "--no-progress"]  # fmt: skip
    procs = [subprocess.Popen(args, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]  # fmt: skip
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, err in results if code == 2)
    assert "another jaxact process is writing there" in refused or "already holds" in refused
    keys = [(r["activation"], r["depth"], r["seed"]) for r in read_records(out)]
    assert len(keys) == len(set(keys)) == 2 * 4 * 2


@pytest.mark.slow
def test_sigint_stops_a_study_with_one_line(tmp_path):
    out = tmp_path / "s"
    proc = subprocess.Popen([sys.executable, "-m", "jaxact", "study", "--quick", "--out",
                             str(out), "--no-progress"], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    t0 = time.monotonic()
    while not (out / "results").is_dir() or not any((out / "results").iterdir()):
        assert proc.poll() is None and time.monotonic() - t0 < 240, proc.stderr.read()
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    code = proc.wait(timeout=240)
    stderr = proc.stderr.read()
    err = [ln for ln in stderr.splitlines() if ln.startswith("jaxact study: ")]
    assert code == 130 and len(err) == 1, stderr
    assert "experiments done; resume with: jaxact study --quick --out" in err[0]
    assert "Traceback" not in stderr
    for p in (out / "results").iterdir():
        json.loads(p.read_text())  # every result whole


@pytest.mark.slow
def test_a_resumed_sweep_reads_its_file_once_after_taking_the_lock(tmp_path, monkeypatch):
    # Once to check it before any work (check_sweep_output), once under the lock for the
    # records to skip and the repeats to drop: not once more per step (it was four reads).
    out = tmp_path / "sweep.jsonl"
    sweep(**SWEEP_KW, out=out)
    reads = []
    real = Path.read_bytes

    def counted(self):
        if self == out:
            reads.append(self)
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", counted)
    again = sweep(**SWEEP_KW, out=out, resume=True)
    assert len(again) == 8 and len(reads) == 2
