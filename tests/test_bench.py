"""Benchmark smoke test: the quick run completes, and its results file is complete and sane."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import pytest

import jaxact
from jaxact.bench.timing import device_info, device_slug, measure
from jaxact.cli import main as cli_main
from jaxact.files import MARKER

# The module-scoped fixture runs once per pytest run: every test of the module on one worker.
pytestmark = pytest.mark.xdist_group("quick_bench")


def test_measure_excludes_compile_and_reports_spread(monkeypatch):
    """A scripted clock: compile takes 5 s, each call the next of a known list of durations."""
    from jaxact.bench import timing

    clock = {"now": 0.0}
    durations = iter([9.0, 9.0,  # the two warm-up calls: not timed
                      0.02,  # the probe call: number = int(0.05 / 0.02) = 2 calls per repeat
                      0.01, 0.03, 0.02, 0.02, 0.05, 0.01])  # fmt: skip
    calls = []

    def compiled(v):
        clock["now"] += next(durations)
        calls.append(v)
        return v

    class Lowered:
        def compile(self):
            clock["now"] += 5.0
            return compiled

    class Jitted:
        def lower(self, *args):
            return Lowered()

    monkeypatch.setattr(timing.time, "perf_counter", lambda: clock["now"])
    t = measure(Jitted(), jnp.ones(3), repeats=3, min_time=0.05, warmup=2)
    assert t.compile_s == 5.0
    assert t.number == 2 and t.repeats == 3 and len(calls) == 2 + 1 + 3 * 2
    # Per-call means of the three repeats: (0.01+0.03)/2, (0.02+0.02)/2, (0.05+0.01)/2.
    assert (t.min, t.median, t.max) == pytest.approx((0.02, 0.02, 0.03))


def test_compare_takes_the_median_of_round_by_round_ratios(monkeypatch):
    """A scripted clock: the ratio is the median of time(b)/time(a) per round, so a slow spell
    that hits both functions of a round (round 2 here) does not move it."""
    from jaxact.bench import timing

    clock = {"now": 0.0}
    per_call = {"a": iter([1, 1, 1.0, 10.0, 1.0]), "b": iter([1, 1, 9.0, 2.0, 20.0, 3.0])}

    def program(name):
        def run(v):
            clock["now"] += next(per_call[name])
            return v

        class Jitted:
            def lower(self, *args):
                return type("Lowered", (), {"compile": lambda self: run})()

        return Jitted()

    monkeypatch.setattr(timing.time, "perf_counter", lambda: clock["now"])
    # warmup=2 each, then one probe call of b (9 s: number = 1), then 3 rounds of a, b.
    c = timing.compare(program("a"), program("b"), jnp.ones(2), repeats=3, min_time=0.05)
    # Rounds: a 1, b 2 (ratio 2); a 10, b 20 (2); a 1, b 3 (3). Median ratio 2, spread 2-3.
    assert (c.ratio, c.ratio_min, c.ratio_max) == (2.0, 2.0, 3.0)
    assert (c.a.median, c.b.median) == (1.0, 3.0)  # per function, the slow spell moves it


def test_measure_runs_the_compiled_function_for_real():
    x = jnp.ones((256, 256), jnp.float32)
    t = measure(lambda v: v @ v, x, repeats=3, min_time=0.01)
    assert t.compile_s > 0 and t.min > 0
    assert t.repeats == 3 and t.number >= 1


def test_rerunning_some_parts_keeps_the_others(tmp_path, monkeypatch):
    from jaxact.bench import runner

    fake = {"activations": {"x": 1}, "mlp": {"y": 2}}
    calls = []

    def run_all(*, quick, parts, log=print):
        calls.append(tuple(parts))
        return {"device": device_info(), "quick": quick,
                "parts": {p: dict(fake[p]) for p in parts}}  # fmt: skip

    monkeypatch.setattr(runner, "run_all", run_all)
    monkeypatch.setattr(runner, "markdown", lambda results, command: "")
    monkeypatch.setattr(runner, "plots", lambda results, prefix: [])
    args = ["--quick", "--out", str(tmp_path)]
    parser = __import__("argparse").ArgumentParser()
    runner.add_arguments(parser)
    runner.run_cli(parser.parse_args([*args, "--parts", "activations"]))
    runner.run_cli(parser.parse_args([*args, "--parts", "mlp"]))
    (path,) = tmp_path.glob("*.json")
    saved = json.loads(path.read_text())
    assert saved["parts"]["activations"]["x"] == 1 and saved["parts"]["mlp"]["y"] == 2
    assert saved["parts"]["mlp"]["command"] == "jaxact bench --quick --parts mlp"


def test_markdown_names_each_run_of_a_merged_file():
    # A file whose parts came from two `--parts` runs must not credit both to one command
    # (parts named so that no section is rendered: only the header is under test).
    from jaxact.bench.runner import markdown

    res = {"device": device_info(), "quick": False,
           "parts": {"one": {"command": "jaxact bench --parts one",
                             "date": "2026-12-04T18:00:00"},
                     "two": {"command": "jaxact bench --parts two",
                             "date": "2026-11-27T13:00:00"}}}  # fmt: skip
    header = markdown(res, "jaxact bench --parts two").splitlines()[2]
    assert header.startswith(
        "2 runs (one: `jaxact bench --parts one`, 2026-12-04; "
        "two: `jaxact bench --parts two`, 2026-11-27)"
    )
    res["parts"]["two"] = dict(res["parts"]["one"])
    one = markdown(res, "jaxact bench --parts one").splitlines()[2]
    assert one.startswith("`jaxact bench --parts one` on ")


def test_device_info_and_slug():
    info = device_info()
    assert info["backend"] == jax.default_backend()
    assert info["jax"] == jax.__version__
    slug = device_slug(info)
    assert slug.startswith(info["backend"] + "-")
    assert all(c.isalnum() or c in "-_." for c in slug)


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    assert cli_main(["bench", "--quick", "--out", str(out)]) == 0
    assert (out / MARKER).is_file()  # the folder is marked as a bench run's
    files = sorted(p for p in out.iterdir() if p.name != MARKER)
    (json_file,) = [f for f in files if f.suffix == ".json"]
    return out, files, json.loads(json_file.read_text())


@pytest.mark.slow
def test_quick_bench_writes_json_markdown_and_plots(quick_results):
    _, files, res = quick_results
    suffixes = sorted(f.suffix for f in files)
    assert suffixes == [".json", ".md", ".png", ".png", ".png"]
    assert {f.name.rsplit("-", 1)[-1] for f in files if f.suffix == ".png"} == {
        "activations.png", "compile.png", "frameworks.png"}  # fmt: skip
    assert res["quick"] is True and res["command"] == "jaxact bench --quick"
    for key in ("backend", "device_kind", "jax", "jaxlib", "cpu_count", "date"):
        assert res["device"][key]
    md = next(f for f in files if f.suffix == ".md").read_text()
    assert "| relu |" in md and "Compile time" in md and "Whole grid: vmapped" in md
    assert "## jaxact.diagnose in a training step" in md
    assert "## jaxact vs jax.nn" in md and "| gelu (exact) |" in md
    assert "## The training step in jaxact, equinox, flax and PyTorch" in md
    from jaxact.bench.jax_nn import PAIRS

    nn = res["parts"]["jax_nn"]
    assert list(nn["functions"]) == list(PAIRS) and nn["elements"] == 2**18
    for row in nn["functions"].values():
        for mode in ("forward", "forward_grad"):
            c = row[mode]
            assert c["reference"]["median"] > 0 and c["candidate"]["median"] > 0
            assert c["reference"]["compile_s"] > 0
    d = res["parts"]["diagnose"]
    models = {r["model"] for r in d["steps"]}
    assert {"jaxact scan MLP (relu)", "equinox MLP (relu)", "flax.linen MLP (gelu)"} <= models
    for r in d["steps"]:
        assert r["value_and_grad"]["median"] > 0 and r["diagnose"]["median"] > 0
    assert d["compile"]["diagnose_s"] > 0 and d["command"] == "jaxact bench --quick"


@pytest.mark.slow
def test_quick_bench_numbers_are_sane(quick_results):
    _, _, res = quick_results
    acts = res["parts"]["activations"]["activations"]
    from jaxact import ACTIVATIONS

    assert set(acts) == set(ACTIVATIONS)
    for row in acts.values():
        for mode in ("forward", "forward_grad"):
            assert row[mode]["resident"]["min"] > 0
            assert row[mode]["memory_fraction_of_copy"] > 0
    mlp = res["parts"]["mlp"]
    assert mlp["matmul_peak"]["gflop_per_s"] > 0
    for r in mlp["steps"]:
        assert 0 < r["fraction_of_matmul_peak"]
        assert r["timing"]["compile_s"] > 0
    # Compile times are reported, not judged here (timing bounds belong in the benchmark's
    # report; tests/test_mlp.py checks the depth-independence of the compiled program itself).
    comp = mlp["compile"]
    assert comp["scan_ratio_deepest_to_shallowest"] > 0
    att = res["parts"]["attenuation"]
    assert att["jacobians_over_wide_forward"] > 0
    sw = res["parts"]["sweep"]
    assert len(sw["cells"]) == len(sw["activations"]) * len(sw["depths"])
    for c in sw["cells"]:
        assert c["vmapped"]["compile_s"] > 0 and c["loop"]["compile_s"] > 0
        assert c["vmapped"]["min"] > 0 and c["speedup"] > 0 and c["speedup_mapped"] > 0
        # The vmapped and looped programs compute the same float32 numbers up to reduction
        # order: 1e-5 relative.
        assert c["max_rel_diff"] < 1e-5
    assert sw["sweep_end_to_end_s"] is None  # the end-to-end sweep runs in full mode only
    fw = res["parts"]["frameworks"]
    assert [(g["width"], g["depth"]) for g in fw["grid"]] == [(32, 3), (64, 3)]
    for g in fw["grid"]:
        # jaxact, equinox and flax are always there (the test extra installs them); the same
        # network and step in each (tests/test_frameworks.py justifies the 2e-6).
        assert {"jaxact", "equinox", "flax", "xla_chain"} <= set(g["steps"])
        assert g["start_loss_max_rel_diff"] < 2e-6 and g["second_loss_max_rel_diff"] < 2e-6
        for row in g["steps"].values():
            assert row["compile_s"] > 0 and len(row["times"]) == row["rounds"]


def test_jax_nn_bench_refuses_bad_arguments():
    from jaxact.bench import jax_nn

    with pytest.raises(ValueError, match="multiple of 1024"):
        jax_nn.run(elements=1000, steps=False)
    with pytest.raises(ValueError, match="unknown function"):
        jax_nn.run(names=["sigmod"], elements=1024, steps=False)


def test_jax_nn_pairs_cover_every_shared_function():
    from jaxact.bench.jax_nn import PAIRS

    shared = {n for n in jaxact.activations.__all__ if hasattr(jax.nn, n) and callable(
        getattr(jaxact, n)) and getattr(jaxact, n) is not getattr(jax.nn, n)}  # fmt: skip
    # gelu appears as its two settings; swish / hard_swish are silu / hard_silu under another name.
    expected = (shared - {"gelu", "swish", "hard_swish"}) | {"gelu (tanh)", "gelu (exact)"}
    assert set(PAIRS) == expected
    for theirs, ours in PAIRS.values():
        assert theirs is not ours
