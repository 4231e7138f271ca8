"""Every bad invocation of ``jaxact``: one line on stderr, exit status 2, no traceback, no file.

Run in-process through :func:`jaxact.cli.main` (the checks come before any computation, so each
case takes milliseconds); ``test_real_process_prints_one_line`` confirms the same from a shell.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jaxact.cli import main

CASES = [
    # attenuation
    (["attenuation", "--activation", "sigmod"], "Did you mean 'sigmoid'"),
    (["attenuation", "--depth", "0"], "--depth must be >= 1, got 0"),
    (["attenuation", "--depth", "-5"], "--depth must be >= 1, got -5"),
    (["attenuation", "--width", "0"], "--width must be >= 1, got 0"),
    (["attenuation", "--batch", "0"], "--batch must be >= 1, got 0"),
    (["attenuation", "--init", "bogus"], "invalid choice: 'bogus'"),
    (["attenuation", "--init", "gaussian", "--sigma-w2", "-1"], "--sigma-w2 must be > 0"),
    (["attenuation", "--init", "gaussian", "--sigma-w2", "nan"], "--sigma-w2 must be > 0"),
    (["attenuation", "--sigma-b2", "-1"], "--sigma-b2 must be >= 0"),
    (["attenuation", "--activation", "softmax"], "elementwise"),
    (["attenuation", "--depth", "1000000000"], "memory"),
    (["attenuation", "--width", "1000000000"], "memory"),
    (["attenuation", "--depth", "1000000", "--width", "256"], "memory"),
    (["attenuation", "--depth", "x"], "invalid int value: 'x'"),
    (["attenuation", "--init", "he", "--sigma-w2", "2"], "fixes sigma_w2"),
    (["attenuation", "--init", "gaussian"], "needs sigma_w2"),
    # theory
    (["theory", "--activation", "softmax"], "elementwise"),
    (["theory", "--sigma-w2", "0"], "--sigma-w2 must be > 0, got 0"),
    (["theory", "--sigma-b2", "-0.5"], "--sigma-b2 must be >= 0"),
    (["theory", "--compare", "c.png", "--seeds", "0"], "--seeds must be >= 1, got 0"),
    (["theory", "--compare", "c.png", "--depth", "0"], "--depth must be >= 1"),
    # study
    (["study", "--only", "bogus"], "invalid choice: 'bogus'"),
    # sweep
    (["sweep", "--activation", "foo"], "Unknown activation 'foo'"),
    (["sweep", "--depth", "0"], "--depth must be >= 1, got 0"),
    (["sweep", "--width", "0"], "--width must be >= 1, got 0"),
    (["sweep", "--seeds", "0"], "--seeds must be >= 1, got 0"),
    (["sweep", "--kind", "training", "--lr", "-1"], "--lr must be > 0"),
    (["sweep", "--kind", "training", "--lr", "inf"], "--lr must be > 0"),
    (["sweep", "--kind", "training", "--steps", "0"], "--steps must be >= 1, got 0"),
    (["sweep", "--max-memory", "-5"], "--max-memory must be > 0 MiB, got -5"),
    (["sweep", "--batch", "0"], "--batch must be >= 1"),
    (["sweep", "--init", "bogus"], "invalid choice: 'bogus'"),
    (["sweep", "--depth", "1000000000"], "needs about"),
    (["sweep", "--width", "100000", "--depth", "3"], "needs about"),
    (["sweep", "--init", "he", "--sigma-w2", "2"], "fixes sigma_w2"),
    (["sweep", "--kind", "training", "--n-points", "3"], "--n-points must be an even number"),
]


@pytest.mark.parametrize(("argv", "message"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _assert_one_line_error(argv, message, capsys)
    assert list(tmp_path.iterdir()) == [], "nothing may be written"


def _run(argv):
    try:
        return main(argv)
    except SystemExit as e:  # argparse's own errors
        return e.code


def _assert_one_line_error(argv, message, capsys):
    """``jaxact argv`` exits 2 with one line on stderr naming the command and ``message``."""
    code = _run(argv)
    out, err = capsys.readouterr()
    assert code == 2, (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"jaxact {argv[0]}: error: "), lines[0]
    assert message in lines[0], lines[0]
    assert "Traceback" not in err + out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["attenuation", "--depth", "2", "--plot", "{d}/x.txt"], "not a supported figure"),
        (["attenuation", "--depth", "2", "--plot", "{d}/file.txt/x.png"], "not a directory"),
        (["theory", "--phase-diagram", "{d}/x.doc"], "not a supported figure"),
        (["study", "--out", "{d}/file.txt"], "is a file, not a folder"),
        (["sweep", "--depth", "2", "--out", "{d}/file.txt"], "not a jaxact sweep record file"),
        (["sweep", "--depth", "2", "--plot", "{d}/x.txt"], "not a supported figure"),
        (["activations", "--plot", "{d}/file.txt/sub/x.png"], "not a directory"),
        (["bench", "--quick", "--out", "{d}/file.txt"], "is a file, not a folder"),
        (["bench", "--parts", "nope"], "invalid choice: 'nope'"),
        (["study", "--out", "{d}/file.txt/study"], "not a directory"),
        # A figure into a folder that does not exist: a typo, not a folder to make.
        (["attenuation", "--depth", "2", "--plot", "{d}/missing/x.png"], "does not exist"),
        (["sweep", "--depth", "2", "--plot", "{d}/missing/x.png"], "does not exist"),
        (["activations", "--plot", "{d}/missing/x.png"], "does not exist"),
        (["theory", "--compare", "{d}/missing/x.png"], "does not exist"),
        (["study", "--out", ""], "--out must name a folder, got ''"),
        (["bench", "--out", " "], "--out must name a folder, got ' '"),
    ],
)
def test_output_paths_are_checked_first(argv, message, capsys, tmp_path):
    (tmp_path / "file.txt").write_text("not ours\n")
    _assert_one_line_error([a.format(d=tmp_path) for a in argv], message, capsys)
    assert (tmp_path / "file.txt").read_text() == "not ours\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_unwritable_output_folder_is_one_line(capsys, tmp_path, monkeypatch):
    # An existing folder the user cannot write in (simulated: the tests may run as root, who
    # can write anywhere) is refused before any work, with its absolute path.
    import jaxact.cli

    locked = tmp_path / "locked"
    locked.mkdir()
    real = os.access

    def access(p, mode):
        return False if Path(p).absolute() == locked else real(p, mode)

    monkeypatch.setattr(jaxact.cli.os, "access", access)
    for argv in (["study", "--out", str(locked)], ["bench", "--out", str(locked)],
                 ["attenuation", "--plot", str(locked / "x.png")]):  # fmt: skip
        _assert_one_line_error(argv, f"cannot write in {locked}", capsys)
    monkeypatch.chdir(locked)
    _assert_one_line_error(["activations", "--plot", "x.png"], f"cannot write in {locked}", capsys)


def test_help_and_version_start_without_jax():
    # `jaxact --help` must answer at once: the parser is built without importing JAX.
    code = ("import sys, time\n"
            "t = time.perf_counter()\n"
            "from jaxact.cli import main\n"
            "for argv in (['--version'], ['--help'], ['study', '--help'], ['sweep', '--help'],\n"
            "             ['bench', '--help']):\n"
            "    try:\n"
            "        main(argv)\n"
            "    except SystemExit:\n"
            "        pass\n"
            "print('jax' in sys.modules, 'numpy' in sys.modules, time.perf_counter() - t,\n"
            "      file=sys.stderr)\n")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)  # fmt: skip
    jax_loaded, numpy_loaded, seconds = proc.stderr.split()
    assert (jax_loaded, numpy_loaded) == ("False", "False"), proc.stderr
    # 1 s is the budget; parsing takes about 10 ms on the 2-core CI machine.
    assert float(seconds) < 1.0, proc.stderr
    assert "jaxact 0.1.0" in proc.stdout


def test_the_parser_names_equal_the_registries():
    # The CLI lists names without importing JAX (above); each list is its registry's.
    from jaxact import cli
    from jaxact.bench.runner import PARTS
    from jaxact.initializers import INITIALIZERS
    from jaxact.study import EXPERIMENTS
    from jaxact.training import DEFAULT_LEARNING_RATE, DEFAULT_OPTIMIZER_NAME, OPTIMIZERS

    assert cli.INIT_NAMES == tuple(sorted(INITIALIZERS))
    assert cli.STUDY_EXPERIMENTS == tuple(i for i, _ in EXPERIMENTS)
    assert cli.OPTIMIZER_NAMES == tuple(sorted(OPTIMIZERS))
    assert (cli.DEFAULT_OPTIMIZER_NAME, cli.DEFAULT_LEARNING_RATE) == (
        DEFAULT_OPTIMIZER_NAME,
        DEFAULT_LEARNING_RATE,
    )
    assert cli.BENCH_PARTS == PARTS


@pytest.mark.slow
def test_real_process_prints_one_line():
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-m", "jaxact", "attenuation", "--depth", "0"],
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip() == "jaxact attenuation: error: --depth must be >= 1, got 0"
    assert proc.stdout == ""


def test_help_shows_defaults_and_choices(capsys):
    for cmd in ("attenuation", "theory", "sweep", "study"):
        with pytest.raises(SystemExit):
            main([cmd, "--help"])
        out = capsys.readouterr().out
        assert "default" in out
    with pytest.raises(SystemExit):
        main(["attenuation", "--help"])
    out = capsys.readouterr().out
    assert "orthogonal" in out and "(default: 0.0)" in out  # --init choices, --sigma-b2
    with pytest.raises(SystemExit):
        main(["study", "--help"])
    assert "relu_passes" in capsys.readouterr().out  # --only lists the experiment ids
    # Each default said once: none for unset options and flags, lists as one would type them.
    for cmd in ("activations", "attenuation", "theory", "sweep", "study", "bench"):
        with pytest.raises(SystemExit):
            main([cmd, "--help"])
        out = " ".join(capsys.readouterr().out.split())
        for never in ("(default: None)", "(default: False)", "(default: ["):
            assert never not in out, (cmd, never)
        if cmd == "sweep":
            assert "(default: half the free)" in out and "(default: sigmoid tanh relu gelu)" in out
        if cmd == "bench":
            assert "(default: benchmarks/results)" in out


@pytest.mark.slow
def test_no_progress_bar_outside_a_terminal(capsys, tmp_path):
    # capsys's stderr is not a terminal (as in CI or `| tee`): no bar lines at all.
    argv = ["sweep", "--activation", "tanh", "--depth", "3", "--width", "8", "--seeds", "2",
            "--batch", "4"]  # fmt: skip
    assert main(argv) == 0
    assert capsys.readouterr().err == ""
