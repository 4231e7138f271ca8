"""Sweeps: vmapped equals looped, 1 device equals 4 equals 2 processes, streaming and resume,
chunking, training sweeps against train(), memory estimates, bad grids, summary, CLI, plot."""

from __future__ import annotations

import functools
import json
import os
import socket
import subprocess
import sys

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest

from jaxact import init_mlp, layer_gradient_norms
from jaxact.mlp import mlp_scales, sample_mlp
from jaxact.runs import with_theory_rate
from jaxact.sweeps import loss_curve, network_bytes, plan, summarize, sweep, theory_rate
from jaxact.training import TrainingDiverged, train, two_spirals

from .processes import last_json

GRID = {"activations": ["sigmoid", "relu"], "depths": [6], "widths": [16], "seeds": [0, 1, 2]}
# Every init family and a sigma_b2 axis: these cells share one program per activation.
VARIANTS = {"activations": ["tanh"], "depths": [5], "widths": [12], "seeds": [3, 0],
            "inits": ["gaussian", "orthogonal"], "sigma_w2": [0.5, 2.0],
            "sigma_b2": [0.0, 0.1]}  # fmt: skip
TRAIN = {"activations": ["tanh", "relu"], "depths": [3], "widths": [16], "seeds": [0, 4],
         "inits": ["he", "glorot"], "kind": "training", "steps": 25, "optimizer": "sgd",
         "learning_rate": 0.3,
         "log_every": 10, "n_points": 128}  # fmt: skip
COORDS = ("activation", "depth", "width", "init", "sigma_w2", "sigma_b2", "seed")
# For the subprocess runs: one compiled program per kind (each process compiles afresh).
MP_ATT = {**VARIANTS, "inits": ["gaussian"], "seeds": [3, 0, 5]}
MP_TRAIN = {**TRAIN, "activations": ["tanh"]}


def _plain(v) -> bool:
    """Python scalars, strings, None, or lists of them: what json and pandas take as is."""
    if isinstance(v, list):
        return all(_plain(x) for x in v)
    return v is None or type(v) in (int, float, str, bool)


@functools.cache
def _reference(activation):
    """The plain per-network measurement, jitted once per activation (eager scans recompile)."""
    return jax.jit(lambda p, x: layer_gradient_norms(p, x, activation).pre)


def _network(r, **extra):
    """The network a record says it measured, built the plain way (orthogonal weights by the
    Householder QR the sweeps draw with, without LAPACK: jaxact.init_weights)."""
    kp, kx = jr.split(jr.key(r["seed"]))
    sigma = r["sigma_w2"] if r["init"] in ("gaussian", "orthogonal") else None
    if r["init"] == "orthogonal":
        scales = jnp.asarray(mlp_scales("orthogonal", r["width"], extra.get("out_dim"), sigma,
                                        r["sigma_b2"]), jnp.float32)  # fmt: skip
        p = sample_mlp(kp, scales, depth=r["depth"], width=r["width"],
                       in_dim=extra.get("in_dim"), out_dim=extra.get("out_dim"), orthogonal=True,
                       dtype=jnp.float32, householder=True)  # fmt: skip
        return p, kx
    p = init_mlp(kp, depth=r["depth"], width=r["width"], init=r["init"], sigma_w2=sigma,
                 sigma_b2=r["sigma_b2"], **extra)  # fmt: skip
    return p, kx


@pytest.mark.slow
@pytest.mark.parametrize("grid", [GRID, VARIANTS], ids=["activations", "init-variants"])
def test_vmapped_equals_looped(grid):
    recs = sweep(**grid, batch=8)
    n_cells = len(recs) // len(grid["seeds"])
    assert n_cells == (2 if grid is GRID else 2 * 2 * 2)
    for r in recs:
        p, kx = _network(r)
        x = jr.normal(kx, (8, r["width"]), jnp.float32)
        g = np.asarray(_reference(r["activation"])(p, x))
        # The same float32 computation batched or not; vmap may reorder reductions: 1e-5
        # relative (about 100 float32 ulps, far below seed-to-seed differences of ~10%).
        np.testing.assert_allclose(r["grad_norms"], g, rtol=1e-5)
    assert json.loads(json.dumps(recs)) == recs  # plain data
    assert all(_plain(v) for r in recs for v in r.values())  # no numpy or jax types
    assert {r["sigma_w2"] for r in sweep(**GRID, batch=8)} == {2.0}  # he's effective value


def _compare(a_recs, b_recs):
    assert len(a_recs) == len(b_recs)
    for a, b in zip(a_recs, b_recs, strict=True):
        assert [a[k] for k in COORDS] == [b[k] for k in COORDS]
        # Sharding splits the network axis across devices; each network's arithmetic is
        # unchanged up to reduction order: 1e-5 relative in float32 (training: 1e-4, since 25
        # SGD steps can amplify a rounding difference a little).
        if a["kind"] == "attenuation":
            np.testing.assert_allclose(a["grad_norms"], b["grad_norms"], rtol=1e-5)
            assert a["rate"] == pytest.approx(b["rate"], rel=1e-5)
        else:
            np.testing.assert_allclose(a["loss_curve"], b["loss_curve"], rtol=1e-4)


SCRIPT = f"""
import json, sys, jax
if len(sys.argv) > 1:  # multi-process: coordinator port, process id
    jax.distributed.initialize(f"localhost:{{sys.argv[1]}}", num_processes=2,
                               process_id=int(sys.argv[2]))
from jaxact.sweeps import sweep
out = sys.argv[3] if len(sys.argv) > 3 else None
att = sweep(**{MP_ATT!r}, batch=8, out=out)
tr = sweep(**{MP_TRAIN!r})
print(json.dumps({{"devices": jax.device_count(), "processes": jax.process_count(),
                  "records": att + tr}}))
"""


def _run(n_devices, *args):
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={n_devices}")
    return subprocess.Popen([sys.executable, "-c", SCRIPT, *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def _result(proc):
    out, err = proc.communicate(timeout=400)
    assert proc.returncode == 0, err[-3000:]
    return last_json(out, err)


@pytest.mark.slow
def test_one_device_four_devices_and_two_processes_agree(tmp_path):
    one, four = _result(_run(1)), _result(_run(4))
    assert (one["devices"], four["devices"]) == (1, 4)
    _compare(one["records"], four["records"])
    with socket.socket() as s:  # a free port for the coordinator
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    out = tmp_path / "mp.jsonl"
    procs = [_run(2, port, pid, out) for pid in (0, 1)]
    two = [_result(p) for p in procs]
    assert [(t["devices"], t["processes"]) for t in two] == [(4, 2), (4, 2)]
    _compare(one["records"], two[0]["records"])
    assert two[0]["records"] == two[1]["records"]  # every process gets every record
    n_att = len([r for r in one["records"] if r["kind"] == "attenuation"])
    assert len(out.read_text().splitlines()) == n_att  # written once, by process 0


@pytest.mark.slow
def test_vmap_width_does_not_change_results():
    grid = {**VARIANTS, "inits": "gaussian", "sigma_b2": 0.0, "seeds": 3}  # 6 networks
    base = sweep(**grid, batch=8, vmap_width=None)
    for width in (1, 4):  # 4 leaves a remainder of 2, vmapped apart by lax.map
        _compare(base, sweep(**grid, batch=8, vmap_width=width))


@pytest.mark.slow
def test_streams_to_jsonl_and_resumes(tmp_path, capsys):
    out = tmp_path / "sweep.jsonl"
    first = sweep(**GRID, batch=8, out=out, progress=True)
    bar = capsys.readouterr().err
    assert "attenuation sweep: grid cells" in bar and "2/2" in bar  # a bar over the 2 cells
    lines = out.read_text().splitlines()
    assert [json.loads(x) for x in lines] == first
    again = sweep(**GRID, batch=8, out=out, resume=True)
    assert again == first
    assert out.read_text().splitlines() == lines  # nothing recomputed or appended
    more = sweep(**{**GRID, "depths": [6, 8]}, batch=8, out=out, resume=True)
    assert len(more) == 12 and len(out.read_text().splitlines()) == 12
    # More seeds: the cells are recomputed, only the new seed (3, of 2 cells) appended;
    # resuming again returns each seed once.
    grown = sweep(**{**GRID, "seeds": [0, 1, 2, 3]}, batch=8, out=out, resume=True)
    assert len(grown) == 8 and len(out.read_text().splitlines()) == 12 + 2
    again = sweep(**{**GRID, "seeds": [3, 0, 1, 2]}, batch=8, out=out, resume=True)
    assert [(r["activation"], r["seed"]) for r in again] == [
        (a, s) for a in ("sigmoid", "relu") for s in (3, 0, 1, 2)]  # fmt: skip
    _compare(sorted(grown, key=lambda r: (r["activation"] == "relu", r["seed"])),
             sorted(again, key=lambda r: (r["activation"] == "relu", r["seed"])))  # fmt: skip
    # Another batch size is another measurement: recomputed, not mixed with the old one.
    other = sweep(**GRID, batch=4, out=out, resume=True)
    assert len(out.read_text().splitlines()) == 20 and {r["batch"] for r in other} == {4}


@pytest.mark.slow
def test_resume_after_interruption_recomputes_only_missing_cells(tmp_path, monkeypatch):
    import jaxact.sweeps as sw

    out = tmp_path / "sweep.jsonl"
    full = sweep(**GRID, batch=8)
    calls = []
    real = sw._run_group

    class Interrupted(Exception):
        pass

    def interrupted(g, *args):
        calls.append(g["activation"])
        if g["activation"] == "relu" and len(calls) == 2:
            raise Interrupted
        return real(g, *args)

    monkeypatch.setattr(sw, "_run_group", interrupted)
    with pytest.raises(Interrupted):
        sweep(**GRID, batch=8, out=out)
    assert {json.loads(x)["activation"] for x in out.read_text().splitlines()} == {"sigmoid"}
    calls.clear()
    resumed = sweep(**GRID, batch=8, out=out, resume=True)
    assert calls == ["relu"]  # sigmoid came from the file
    _compare(full, resumed)


@pytest.mark.slow
def test_chunked_equals_unchunked_and_reports_chunks(tmp_path):
    grid = {**VARIANTS, "seeds": 3}
    whole = sweep(**grid, batch=8)
    per_net = network_bytes("attenuation", depth=5, width=12, batch=8)
    rows = plan(**grid, batch=8, max_memory=2 * per_net)
    assert [(r["networks"], r["chunk"], r["chunks"], r["cells"]) for r in rows] == [
        (12, 2, 6, 4), (12, 2, 6, 4)]  # gaussian and orthogonal variants: two programs  # fmt: skip
    messages = []
    out = tmp_path / "chunked.jsonl"
    chunked = sweep(**grid, batch=8, max_memory=2 * per_net, log=messages.append, out=out)
    _compare(whole, chunked)
    assert len(messages) == 2 and "12 networks in 6 chunks of 2" in messages[0]
    assert len(out.read_text().splitlines()) == len(whole)


def test_one_network_too_big_fails_before_compute(monkeypatch):
    monkeypatch.setattr(jax, "jit", lambda *a, **k: pytest.fail("computed before the check"))
    with pytest.raises(MemoryError, match=r"depth 6 and width 16 needs about .* MiB"):
        sweep(**GRID, max_memory=1000)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "depth", "width", "batch", "optimizer"),
    [("attenuation", 10, 64, 32, None), ("attenuation", 20, 128, 256, None),
     ("attenuation", 1, 8, 1, None), ("attenuation", 3, 512, 4, None),
     ("training", 10, 64, 256, "sgd"), ("training", 4, 256, 128, "adam"),
     ("training", 2, 16, 1024, "adam")],
)  # fmt: skip
def test_memory_estimate_bounds_xla(kind, depth, width, batch, optimizer):
    from jaxact.sweeps import attenuation_cell, training_cell

    keys, scales = jnp.zeros((1, 2), jnp.uint32), jnp.ones((1, 3), jnp.float32)
    if kind == "attenuation":
        fn = jax.vmap(attenuation_cell("tanh", depth, width, False, batch, jnp.float32).one)
        args, est = (keys, scales), network_bytes(kind, depth=depth, width=width, batch=batch)
    else:
        data = two_spirals(jr.key(0), batch)
        opt = optax.sgd(0.1) if optimizer == "sgd" else optax.adam(0.01)
        cell = training_cell("relu", depth, width, False, "binary", 2, 1, opt, 5, jnp.float32)
        fn = jax.vmap(cell.one, in_axes=(0, 0, None, None))
        args = (keys, scales, data.x, data.y)
        est = network_bytes(kind, depth=depth, width=width, batch=batch, in_dim=2, out_dim=1)
    m = jax.jit(fn).lower(*args).compile().memory_analysis()
    xla = m.temp_size_in_bytes + m.argument_size_in_bytes + m.output_size_in_bytes
    # Chunking must never under-estimate (or it would run out of memory), and should not waste
    # much more than the budget: within 3x of what XLA says it allocates.
    assert xla <= est <= 3 * xla


def test_training_default_optimizer_is_train_default():
    """One default for train() and training sweeps: the same optax object (adam 1e-2)."""
    import inspect

    from jaxact.training import named_optimizer

    params = inspect.signature(sweep).parameters
    opt = named_optimizer(params["optimizer"].default, params["learning_rate"].default)
    assert opt is named_optimizer("adam", 1e-2)


@pytest.mark.slow
def test_training_sweep_equals_train_loop():
    recs = sweep(**{**TRAIN, "activations": ["tanh"], "inits": ["glorot", "orthogonal"]})
    data = two_spirals(jr.key(0), 128)
    sgd = optax.sgd(0.3)  # one object: train() caches its compiled step per optimizer
    for r in recs:
        p, _ = _network(r, in_dim=2, out_dim=1)
        t = train(p, data, r["activation"], optimizer=sgd, steps=25, log_every=1)
        assert r["steps_logged"] == [10, 20, 25]
        # The record's curve is the mean loss of each window's updates (loss_curve): update i
        # is computed on the loss after i - 1 updates, which train() logs (full batch).
        before = [train(p, data, r["activation"], optimizer=optax.sgd(0.0), steps=1,
                        log_every=1).history["loss"][0], *t.history["loss"][:-1]]  # fmt: skip
        # A scan of 25 SGD steps against a Python loop of 25 jitted steps: the same float32
        # arithmetic up to fusion and reduction order, amplified a little by training: 1e-4.
        np.testing.assert_allclose(r["loss_curve"], loss_curve(before, 25, 10)[1], rtol=1e-4)
        assert r["final_loss"] == pytest.approx(t.final_loss, rel=1e-4)
        # A point within rounding of the decision boundary may flip: at most 2 of 128.
        assert abs(r["train_accuracy"] - t.final_accuracy) <= 2 / 128
        with pytest.warns(DeprecationWarning, match="renamed 'train_accuracy'"):
            assert r["final_accuracy"] == r["train_accuracy"]  # the old name, one release
        assert len(r["grad_norms_init"]) == len(r["grad_norms_final"]) == r["depth"]
        assert r["diverged_step"] is None and r["diverged_layer"] is None
        assert all(_plain(v) for v in r.values())


@pytest.mark.slow
@pytest.mark.parametrize("lr", [1e2, 1e4])
def test_training_sweep_reports_divergence_where_train_raises(lr):
    grid = {"activations": "relu", "depths": 10, "widths": 32, "seeds": [0, 1], "steps": 30,
            "inits": "gaussian", "sigma_w2": 4.0, "kind": "training", "optimizer": "sgd",
            "learning_rate": lr}  # fmt: skip
    recs = sweep(**grid)
    data, sgd = two_spirals(jr.key(0), 256), optax.sgd(lr)
    for r in recs:
        p, _ = _network(r, in_dim=2, out_dim=1)
        with pytest.raises(TrainingDiverged) as err:
            train(p, data, "relu", optimizer=sgd, steps=30)
        assert (r["diverged_step"], r["diverged_layer"]) == (err.value.step, err.value.layer)
        assert np.isnan(r["final_loss"]) and np.isnan(r["loss_curve"][-1])
    rows = summarize(recs)
    assert rows[0]["diverged"] == 2 and np.isnan(rows[0]["final_loss_mean"])


@pytest.mark.slow
def test_rates_follow_mean_field_theory():
    # The finite-depth mean-field prediction (variance map from q_1 = sigma_w2, then the same
    # fit) against width-256 networks, 4 seeds: the seed-to-seed spread of a rate is <= 1% at
    # this width (README sweep tables), so the mean's is ~0.5%, and the finite-width bias is
    # O(1/width) ~ 0.4%: held to 2%.
    recs = sweep(activations=["relu", "tanh", "selu"], depths=20, widths=256, seeds=4,
                 inits="gaussian", sigma_w2=[0.5, 1.5, 3.0], batch=16)  # fmt: skip
    for row in summarize(recs):
        pred = theory_rate(row["activation"], row["sigma_w2"], 0.0, depth=20)
        assert row["rate_mean"] == pytest.approx(pred, rel=0.02), row
    # ReLU: chi is sigma_w2 / 2 at every variance, so depth does not matter.
    for s2 in (0.5, 2.0, 4.0):
        expected = np.sqrt(s2 / 2)
        assert theory_rate("relu", s2, 0.0) == pytest.approx(expected, rel=1e-9)
        assert theory_rate("relu", s2, 0.0, depth=7) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"activations": []}, "activations is empty"),
        ({"activations": ["rleu"]}, "Unknown activation 'rleu'"),
        ({"depths": [0]}, "every value in depths must be an integer >= 1, got 0"),
        ({"depths": [4, 2.5]}, r"every value in depths must be an integer >= 1, got 2\.5"),
        ({"widths": []}, "widths is empty"),
        ({"seeds": []}, "seeds is empty"),
        ({"seeds": 0}, "seeds=0"),
        ({"seeds": [1, 1]}, "seeds has repeats"),
        ({"seeds": [-1]}, r"seeds must be integers >= 0, got \[-1\]"),
        ({"inits": ["hee"]}, "Unknown init 'hee'"),
        ({"sigma_w2": 2.0}, "init='he' fixes sigma_w2"),
        ({"inits": "gaussian"}, "needs sigma_w2"),
        ({"inits": "gaussian", "sigma_w2": [1.0, -1.0]}, r"sigma_w2 must be .* > 0, got -1\.0"),
        ({"sigma_b2": [0.0, float("nan")]}, r"sigma_b2 must be .* >= 0, got nan"),
        ({"kind": "trainign"}, "unknown kind 'trainign'"),
        ({"kind": "training", "optimizer": "adamw"}, "unknown optimizer 'adamw'"),
        ({"kind": "training", "learning_rate": 0.0}, "learning_rate must be .* > 0, got 0.0"),
        ({"kind": "training", "steps": 0}, "steps must be an integer >= 1, got 0"),
        ({"kind": "training", "data": "mnist"}, "data must be 'spirals'"),
        ({"batch": 0}, "batch must be an integer >= 1, got 0"),
        ({"max_memory": -5}, "max_memory must be a number of bytes > 0, got -5"),
        ({"vmap_width": 0}, r"vmap_width \(or None\) must be an integer >= 1, got 0"),
    ],
)
def test_bad_grids_fail_before_compute(change, message, monkeypatch):
    import jaxact.sweeps

    def computed(*args, **kwargs):
        pytest.fail("computed before validating")

    # Nothing runs before the checks: no compiled program, no data set built (the spirals used
    # to be drawn before steps and log_every were checked), no random draws.
    monkeypatch.setattr(jax, "jit", computed)
    monkeypatch.setattr(jaxact.sweeps, "two_spirals", computed)
    monkeypatch.setattr(jax.random, "key", computed)
    with pytest.raises(ValueError, match=message):
        sweep(**{**GRID, **change})


@pytest.mark.parametrize("n_points", [8, 40])
def test_training_data_shape_is_the_built_data_sets(n_points):
    """The memory plan reads the spirals' shape without drawing them: it must be theirs."""
    import jaxact.sweeps

    ds = two_spirals(jr.key(0), n_points)
    shape = jaxact.sweeps._data_shape("spirals", n_points)
    assert shape == (ds.name, ds.x.shape[0], ds.x.shape[1], ds.out_dim)
    assert jaxact.sweeps._data_shape(ds, 999) == shape


@pytest.mark.slow
def test_summary_cli_and_plot(tmp_path, capsys):
    from jaxact.cli import main
    from jaxact.plotting import plot_sweep

    recs = sweep(**GRID, batch=8)
    rows = summarize(recs)
    assert len(rows) == 2 and all(r["seeds"] == 3 for r in rows)
    for row in rows:
        rates = [r["rate"] for r in recs if r["activation"] == row["activation"]]
        assert row["rate_mean"] == pytest.approx(np.mean(rates))
        assert row["rate_std"] == pytest.approx(np.std(rates))
        assert row["rate_min"] == min(rates) and row["rate_max"] == max(rates)
    out, png = tmp_path / "s.jsonl", tmp_path / "s.png"
    assert main(["sweep", "--activation", "sigmoid", "relu", "--depth", "4", "8", "--width", "16",
                 "--seeds", "2", "--batch", "8", "--out", str(out), "--plot", str(png),
                 "--no-progress", "--theory"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "sigmoid" in text and "rate mean" in text and "program relu depth 8" in text
    relu_row = next(ln for ln in text.splitlines() if ln.startswith("relu") and " 8 " in ln)
    assert relu_row.split()[-1] == "1.0000"  # the theory column: sqrt(2 / 2)
    assert len(out.read_text().splitlines()) == 2 * 2 * 2
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert main(["sweep", "--activation", "tanh", "--depth", "3", "--width", "8", "--seeds", "2",
                 "--kind", "training", "--steps", "5", "--init", "gaussian", "--sigma-w2", "1",
                 "2", "--plot", str(png), "--x", "sigma_w2", "--no-progress"]) == 0  # fmt: skip
    theory_png = tmp_path / "theory.png"
    assert plot_sweep(with_theory_rate(rows), theory_png) == theory_png
    assert theory_png.read_bytes()[:4] == b"\x89PNG"
    with pytest.warns(DeprecationWarning, match="with_theory_rate"):  # the old call, one release
        assert plot_sweep(rows, theory_png, theory=True) == theory_png
    text = capsys.readouterr().out
    assert "train_accuracy mean" in text and "diverged" in text
    assert main(["sweep", "--kind", "training", "--theory", "--activation", "tanh"]) == 2
    assert "--theory predicts attenuation rates" in capsys.readouterr().err  # before any run
    assert main(["sweep", "--activation", "relu", "--depth", "50", "--width", "64", "--plan",
                 "--max-memory", "15"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "8 networks, chunk 2 (4 call(s)" in text and "rate mean" not in text  # nothing run
    with pytest.raises(ValueError, match="x must be depth, width, sigma_w2 or sigma_b2"):
        plot_sweep(rows, png, x="init")
    with pytest.raises(ValueError, match="no metric 'final_loss'"):
        plot_sweep(rows, png, y="final_loss")
    training_row = {**rows[0], "kind": "training", "train_accuracy_mean": 0.5}
    with pytest.raises(ValueError, match="theory=True predicts attenuation rates"):
        plot_sweep([training_row], png, theory=True)


# ----------------------------------------------------------------------------- train_runs


def _digits_small():
    from jaxact.datasets import digits, split, standardize

    train_set, test_set = standardize(*split(digits()))
    return train_set, test_set


@pytest.mark.slow
def test_train_runs_records_and_mixed_programs_equal_separate_ones():
    """A run's numbers do not depend on which other runs share its program: per-network
    optimizer and residual choices select exactly the computation a program of its own does."""
    from jaxact.sweeps import Run, train_runs

    train_set, test_set = _digits_small()
    runs = [Run("relu", 4, 16, optimizer=o, learning_rate=lr, residual=r, branch_scale=0.5,
                seed=s)
            for o, lr in (("adam", 3e-3), ("momentum", 0.01)) for r in (False, True)
            for s in (0, 1)]  # fmt: skip
    kw = dict(test=test_set, steps=12, batch_size=32, log_every=4)
    mixed = train_runs(runs, train_set, **kw)
    alone = [train_runs([r], train_set, **kw)[0] for r in runs[::3]]
    for a, m in zip(alone, mixed[::3], strict=True):
        # Same computation, vmapped with different neighbours: XLA may batch the matmuls
        # differently, so allow float32 reassociation error over 12 steps.
        np.testing.assert_allclose(m["final_loss"], a["final_loss"], rtol=1e-4)
        np.testing.assert_allclose(m["loss_curve"], a["loss_curve"], rtol=1e-4)
    r = mixed[0]
    for k in ("activation", "init", "depth", "width", "optimizer", "dataset", "seed",
              "residual", "final_loss", "test_accuracy", "train_accuracy"):  # fmt: skip
        assert k in r
    assert r["dataset"].startswith("digits") and r["steps_logged"] == [4, 8, 12]
    assert len(r["grad_norms_init"]) == 4 and 0 <= r["test_accuracy"] <= 1
    assert mixed[0]["final_loss"] != mixed[1]["final_loss"]  # seeds differ


@pytest.mark.slow
def test_train_runs_full_batch_equals_train_loop():
    from jaxact.sweeps import Run, train_runs

    data = two_spirals(jr.key(0), 64)
    rec = train_runs([Run("tanh", 3, 8, init="glorot", optimizer="sgd", learning_rate=0.3,
                          seed=2)], data, steps=10, log_every=10)[0]  # fmt: skip
    p = init_mlp(jr.split(jr.key(2))[0], depth=3, width=8, in_dim=2, out_dim=1, init="glorot")
    t = train(p, data, "tanh", optimizer=optax.sgd(0.3), steps=10, log_every=10)
    # float32 both ways, the same ops: equal to a few float32 ulp.
    np.testing.assert_allclose(rec["final_loss"], t.final_loss, rtol=1e-5)
    assert rec["train_accuracy"] == pytest.approx(t.final_accuracy)


def test_per_network_optimizer_with_one_name_is_the_optax_optimizer():
    from jaxact.training import per_network_optimizer

    p = {"w": jnp.linspace(-1.0, 1.0, 5, dtype=jnp.float32)}
    for name, ref in (("adam", optax.adam(0.01)), ("momentum", optax.sgd(0.01, 0.9))):
        ours = per_network_optimizer((name,), jnp.int32(0), jnp.float32(0.01))
        s1, s2 = ours.init(p), ref.init(p)
        for k in range(3):
            g = {"w": jnp.sin(p["w"] * (k + 1))}
            u1, s1 = ours.update(g, s1, p)
            u2, s2 = ref.update(g, s2, p)
            np.testing.assert_array_equal(np.asarray(u1["w"]), np.asarray(u2["w"]))
    with pytest.raises(ValueError, match="unknown optimizer"):
        per_network_optimizer(("lion",), jnp.int32(0), jnp.float32(0.1))


@pytest.mark.slow
def test_train_runs_observes_dead_units_per_layer():
    from jaxact.sweeps import Run, train_runs

    train_set, _ = _digits_small()
    rec = train_runs([Run("relu", 3, 8, optimizer="sgd", learning_rate=0.1)], train_set,
                     steps=6, batch_size=16, observe_every=3)[0]  # fmt: skip
    assert rec["observed_steps"] == [3, 6]
    dead = np.asarray(rec["dead_units"])
    assert dead.shape == (2, 3) and np.all((dead >= 0) & (dead <= 1))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [(dict(batch_size=10_000), "larger than"), (dict(observe_every=4), "must divide"),
     (dict(steps=0), "steps must be"), (dict(test="spirals"), "does not match")],
)  # fmt: skip
def test_train_runs_rejects_bad_settings_before_compute(kwargs, message):
    from jaxact.sweeps import Run, train_runs

    train_set, _ = _digits_small()
    if kwargs.get("test") == "spirals":
        kwargs = {"test": two_spirals(jr.key(0), 10)}
    kw = {"steps": 6, **kwargs}
    with pytest.raises(ValueError, match=message):
        train_runs([Run("relu", 2, 8)], train_set, **kw)


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [("activation", "sigmod", ValueError), ("depth", 0, ValueError),
     ("optimizer", "lion", ValueError), ("learning_rate", -1.0, ValueError),
     ("branch_scale", float("nan"), ValueError), ("seed", -1, ValueError),
     ("residual", 1, TypeError)],
)  # fmt: skip
def test_run_rejects_bad_fields(field, value, error):
    from jaxact.sweeps import Run

    with pytest.raises(error, match=field if field != "activation" else "sigmod"):
        Run(**{"activation": "relu", "depth": 2, "width": 8, field: value})
