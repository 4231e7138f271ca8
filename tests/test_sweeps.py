"""Sweeps: vmapped equals looped, 1 device equals 4, JSON-lines streaming and resume, bad grids."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from jaxact import init_mlp, layer_gradient_norms
from jaxact.sweeps import sweep

GRID = {"activations": ["sigmoid", "relu"], "depths": [6], "widths": [16], "seeds": [0, 1, 2]}


def test_vmapped_equals_looped():
    recs = sweep(**GRID, batch=8)
    assert len(recs) == 2 * 3
    for r in recs:
        kp, kx = jr.split(jr.key(r["seed"]))
        p = init_mlp(kp, depth=r["depth"], width=r["width"], init=r["init"])
        x = jr.normal(kx, (8, r["width"]), jnp.float32)
        g = np.asarray(layer_gradient_norms(p, x, r["activation"])["pre"])
        # Same float32 computation batched or not; vmap may reorder reductions: 1e-5 relative.
        np.testing.assert_allclose(r["grad_norms"], g, rtol=1e-5)
    assert json.loads(json.dumps(recs)) == recs  # plain data


def test_one_device_equals_four(tmp_path):
    code = textwrap.dedent(f"""
        import json, jax
        from jaxact.sweeps import sweep
        recs = sweep(**{GRID!r}, batch=8)
        print(json.dumps({{"devices": jax.device_count(), "records": recs}}))
    """)
    outs = []
    for n in (1, 4):
        env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={n}")
        res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, timeout=300, check=True)  # fmt: skip
        outs.append(json.loads(res.stdout.strip().splitlines()[-1]))
    assert [o["devices"] for o in outs] == [1, 4]
    for a, b in zip(outs[0]["records"], outs[1]["records"], strict=True):
        coords = ("activation", "depth", "width", "init", "seed", "sigma_w2", "sigma_b2")
        assert [a[k] for k in coords] == [b[k] for k in coords]
        # Sharding splits the seed axis across devices; each seed's arithmetic is unchanged
        # up to reduction order: 1e-5 relative in float32.
        np.testing.assert_allclose(a["grad_norms"], b["grad_norms"], rtol=1e-5)
        assert a["rate"] == pytest.approx(b["rate"], rel=1e-5)


def test_streams_to_jsonl_and_resumes(tmp_path):
    out = tmp_path / "sweep.jsonl"
    first = sweep(**GRID, batch=8, out=out)
    lines = out.read_text().splitlines()
    assert [json.loads(x) for x in lines] == first
    again = sweep(**GRID, batch=8, out=out, resume=True)
    assert again == first
    assert out.read_text().splitlines() == lines  # nothing recomputed or appended
    more = sweep(**{**GRID, "depths": [6, 8]}, batch=8, out=out, resume=True)
    assert len(more) == 12 and len(out.read_text().splitlines()) == 12


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"activations": []}, "activations is empty"),
        ({"activations": ["rleu"]}, "Unknown activation 'rleu'"),
        ({"depths": [0]}, r"depths must be integers >= 1, got \[0\]"),
        ({"widths": []}, "widths is empty"),
        ({"seeds": []}, "seeds is empty"),
        ({"inits": ["hee"]}, "Unknown init 'hee'"),
        ({"kind": "training"}, "not available yet"),
    ],
)
def test_bad_grids_fail_before_compute(change, message, monkeypatch):
    monkeypatch.setattr(jax, "jit", lambda *a, **k: pytest.fail("computed before validating"))
    with pytest.raises(ValueError, match=message):
        sweep(**{**GRID, **change})


def test_summary_cli_and_plot(tmp_path, capsys):
    from jaxact.cli import main
    from jaxact.sweeps import summarize

    recs = sweep(**GRID, batch=8)
    rows = summarize(recs)
    assert len(rows) == 2 and all(r["seeds"] == 3 for r in rows)
    for row in rows:
        rates = [r["rate"] for r in recs if r["activation"] == row["activation"]]
        assert row["rate_mean"] == pytest.approx(np.mean(rates))
        assert row["rate_min"] <= row["rate_mean"] <= row["rate_max"]
    out, png = tmp_path / "s.jsonl", tmp_path / "s.png"
    assert main(["sweep", "--activation", "sigmoid", "relu", "--depth", "4", "8", "--width", "16",
                 "--seeds", "2", "--batch", "8", "--out", str(out), "--plot", str(png),
                 "--no-progress"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "sigmoid" in text and "rate mean" in text
    assert len(out.read_text().splitlines()) == 2 * 2 * 2
    assert png.read_bytes()[:4] == b"\x89PNG"
