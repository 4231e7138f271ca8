"""Every example runs in its small mode and produces what it says."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("[0-9][0-9]_*.py"))


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_examples_exist():
    assert [p.name[:2] for p in EXAMPLES] == ["01", "02", "03", "04", "05", "06", "07"]


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_small(path, tmp_path, capsys):
    module = _load(path)
    argv = ["--small"]
    if "--out" in path.read_text():
        argv += ["--out", str(tmp_path / "fig.png")]
    result = module.main(argv)
    assert capsys.readouterr().out.strip()
    if "--out" in argv:
        assert (tmp_path / "fig.png").read_bytes()[:4] == b"\x89PNG"
    if path.stem.startswith("01"):
        # custom_jvp gradients are the closed forms: agreement to float32 rounding.
        assert max(result.values()) < 1e-6
    if path.stem.startswith("02"):
        assert result["sigmoid"].rate < 0.5 and result["relu"].rate > 0.8
    if path.stem.startswith("05"):
        # Every model diagnosed at steps 1, 10, 20, 30 of 30, with its figures beside --out.
        assert set(result) == {"flax conv net", "equinox relu MLP", "equinox sigmoid MLP"}
        for diags, steps, _ in result.values():
            assert steps == [1, 10, 20, 30] and len(diags) == 4
        sig = result["equinox sigmoid MLP"][0][0].grad_norm
        assert float(sig[0] / sig[-1]) < 1e-6  # 12 sigmoid layers: the gradient vanishes
        for suffix in ("-flax-history", "-equinox", "-equinox-history"):
            assert (tmp_path / f"fig{suffix}.png").read_bytes()[:4] == b"\x89PNG"
    if path.stem.startswith("06"):
        plain, shaped = result.values()
        # diagnose finds every activation site of the equinox MLP, the shaped record's too.
        assert plain["sites"] == shaped["sites"] == 20
        # Shaped, two inputs stay apart at initialisation; plain ReLU makes them alike.
        assert shaped["input_similarity_at_init"] < plain["input_similarity_at_init"]
        for suffix in ("-before", "-after"):
            assert (tmp_path / f"fig{suffix}.png").read_bytes()[:4] == b"\x89PNG"
    if path.stem.startswith("07"):
        mlp, block = result.values()
        # float16 loses the first sigmoid layer's gradient at loss scale 1; a scale lifts it.
        under = np.asarray(mlp.underflow)
        assert under[0, 0] == 1.0 and under[:, 0].min() < 0.5
        assert mlp.sites[0].name.startswith("layers[0]/sigmoid")
        # bfloat16 keeps float32's range: some loss scale is safe for the transformer block.
        assert block.safe_loss_scales() is not None
        assert (tmp_path / "fig-flax.png").read_bytes()[:4] == b"\x89PNG"
    if path.stem.startswith("04"):
        assert all(c.relative_error < 0.1 for c in result)  # width 128: ~1/sqrt(width) noise
