"""jaxact.bench.frameworks: the same network in every framework, ratios against the limit."""

import importlib.util

import pytest

from jaxact.bench import frameworks as fw

from .processes import last_json_line

TORCH = importlib.util.find_spec("torch") is not None
JAX_FRAMEWORKS = ["jaxact", "jaxact_fused", "jaxact_sgd", "equinox", "flax"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"depth": 1}, "depth must be an int >= 2"),
        ({"width": 0}, "width must be an int >= 1"),
        ({"batch": 2.0}, "batch must be an int >= 1"),
        ({"rounds": 0}, "rounds must be an int >= 1"),
        ({"activation": "gelu"}, "activation must be 'relu', 'sigmoid' or 'tanh', got 'gelu'"),
        ({"frameworks": ["jaxact", "jax"]}, r"unknown framework\(s\) \['jax'\]"),
        ({"block_s": 0.0}, "block_s must be > 0, got 0.0"),
    ],
)
def test_bad_arguments_are_refused_before_any_work(kwargs, match):
    args = {"depth": 2, "width": 8, "batch": 4} | kwargs
    depth, width, batch = args.pop("depth"), args.pop("width"), args.pop("batch")
    with pytest.raises(ValueError, match=match):
        fw.compare_frameworks(depth, width, batch, **args)


@pytest.fixture(scope="module")
def relu_depth4():
    """One comparison the default run's tests share (each compare compiles every framework)."""
    names = JAX_FRAMEWORKS + (["torch_eager"] if TORCH else [])
    return names, fw.compare_frameworks(4, 16, 8, frameworks=names, rounds=3, block_s=1e-3)


def _check_same_network(names, r):
    assert set(r["start_loss"]) == set(names) == set(r["second_loss"])
    # Same weights and data: the losses differ only by float32 rounding in different summation
    # orders (vmapped per example, transposed layouts), a few ulp per layer; 2e-6 relative is
    # ~16 ulp. A different network - a missing bias or activation, another init - moves the
    # loss by > 1e-2; a wrong gradient or update moves the second loss as much.
    assert r["start_loss_max_rel_diff"] < 2e-6
    assert r["second_loss_max_rel_diff"] < 2e-6
    first, second = r["start_loss"]["jaxact"], r["second_loss"]["jaxact"]
    assert second < first  # the step descends


@pytest.mark.slow  # the shared comparison takes about 8 s to set up
def test_every_framework_computes_the_same_network_and_step(relu_depth4):
    _check_same_network(*relu_depth4)


@pytest.mark.slow
@pytest.mark.parametrize(("activation", "depth"), [("relu", 2), ("sigmoid", 2), ("sigmoid", 4)])
def test_the_same_network_at_other_depths_and_activations(activation, depth):
    # depth 2: equinox's scanned middle is empty.
    names = JAX_FRAMEWORKS + (["torch_eager"] if TORCH else [])
    r = fw.compare_frameworks(depth, 16, 8, activation=activation, frameworks=names, rounds=1,
                              block_s=1e-3)  # fmt: skip
    _check_same_network(names, r)


@pytest.mark.slow  # relu_depth4 takes about 8 s to set up
def test_ratios_are_against_the_fastest_chain(relu_depth4):
    names, r = relu_depth4
    chains = [n for n in fw.LIMITS if n in r["steps"]]
    assert chains == (["xla_chain", "torch_chain"] if TORCH else ["xla_chain"])
    for n in chains:  # the limit is each round's fastest chain: no chain exceeds it
        assert r["steps"][n]["fraction_of_limit"]["max"] <= 1.0
    if not TORCH:  # one chain: it is the limit in every round
        assert r["steps"]["xla_chain"]["fraction_of_limit"]["min"] == 1.0
    assert set(r["steps"]) == {*names, "jaxact_no_update", *chains}
    row = r["steps"]["jaxact"]
    assert row["k"] >= 1 and row["rounds"] == 3 and len(row["times"]) == 3
    assert row["compile_s"] > 0
    assert row["gflop_per_s"] == pytest.approx(fw.matmul_flops(4, 16, 8) / row["median"] / 1e9)
    assert row["min"] <= row["median"] <= row["max"]
    for n in r["steps"]:  # Linux and macOS count page faults
        assert r["steps"][n]["faulted_mb_per_step"] >= 0


@pytest.mark.skipif(not TORCH, reason="torch is not installed")
def test_torch_eager_is_its_own_reference():
    r = fw.compare_frameworks(2, 16, 8, frameworks=["jaxact", "torch_eager"], rounds=2,
                              block_s=1e-3)  # fmt: skip
    assert r["steps"]["torch_eager"]["speedup_vs_torch_eager"] == {
        "median": 1.0, "min": 1.0, "max": 1.0}  # fmt: skip
    assert r["steps"]["jaxact"]["speedup_vs_torch_eager"]["median"] > 0


@pytest.mark.slow
def test_frameworks_that_cannot_run_are_reported_with_the_reason(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_flax(name, *args, **kwargs):
        if name == "flax" or name.startswith("flax."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_flax)
    r = fw.compare_frameworks(2, 8, 4, frameworks=["jaxact", "flax"], rounds=1, block_s=1e-3)
    assert r["skipped"] == {"flax": "flax is not installed (pip install flax)"}
    assert "flax" not in r["steps"] and "jaxact" in r["steps"]


def test_quick_mode_skips_torch_compile_with_the_reason():
    if not TORCH:
        pytest.skip("torch is not installed")
    r = fw.compare_frameworks(2, 8, 4, frameworks=["torch_compile"], rounds=1, block_s=1e-3,
                              quick=True)  # fmt: skip
    assert "quick mode" in r["skipped"]["torch_compile"]


@pytest.mark.slow
@pytest.mark.slow
def test_markdown_names_what_did_not_run(relu_depth4, tmp_path):
    g = dict(relu_depth4[1], skipped={"flax": "flax is not installed (pip install flax)"})
    res = {"batch": 8, "widths": [16], "depths": [4], "versions": {"jax": "0"}, "grid": [g],
           "denormals": None}  # fmt: skip
    text = "\n".join(fw.markdown_rows(res))
    assert "Not run: flax (flax is not installed (pip install flax))." in text
    assert "| 16 | 4 |" in text and "jaxact without update" in text
    fw.plot(res, tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 0


@pytest.mark.slow
def test_the_sgd_step_faults_in_no_parameter_sized_array():
    """Why make_sgd_step is faster on a CPU: the autodiff step maps fresh arrays the size of
    the weights (42 MB here, over glibc's 32 MB reuse limit) every step and faults in each of
    their pages; the SGD step writes into its donated state.

    Measured in a fresh process, as ``jaxact bench`` runs it: in a test worker that has run
    hundreds of tests, glibc's heap (its trim threshold, the free chunks other tests left)
    made the SGD step fault in 10 MB per step once in a CI run; in a fresh process, 0-0.01 MB."""
    code = (
        "import json; from jaxact.bench import frameworks as fw; "
        "r = fw.compare_frameworks(10, 1024, 32, frameworks=['jaxact', 'jaxact_sgd'], "
        "rounds=1, block_s=0.01); "
        "print(json.dumps({n: r['steps'][n]['faulted_mb_per_step'] "
        "for n in ('jaxact', 'jaxact_sgd')}))"
    )
    faulted = last_json_line(code)
    weights_mb = 10 * 1024 * 1024 * 4 / 1e6
    assert faulted["jaxact"] >= weights_mb
    # What is left: the stored pre-activations (10 x 32 x 1024 floats, 1.3 MB) and such.
    assert faulted["jaxact_sgd"] < 0.1 * weights_mb
