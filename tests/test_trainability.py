"""The study's trainability measurements: the run lists, per-cell statistics over seeds, the
gradient fluctuations against Hanin's law, and the figures the quick study does not draw."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jaxact import theory
from jaxact import trainability as tr
from jaxact.study import StudyConfig
from jaxact.study.claims.depth import plot_fluctuations, plot_heatmap, plot_trainability_map


@pytest.mark.slow  # it solves the default run's shapings (about 6 s)
def test_run_lists_cover_the_grid():
    s = StudyConfig.for_mode("default").grid
    grid = tr.grid_runs(s)
    # Each recipe at each of its depths x 2 optimizers x seeds, exactly once.
    want = sum(len(ds) for _, ds in s.recipes) * 2 * s.seeds
    assert len(grid) == want
    keys = {(n, r.depth, r.optimizer, r.seed) for n, r in grid}
    assert len(keys) == len(grid)
    assert all(r.branch_scale == pytest.approx(1 / math.sqrt(r.depth)) for _, r in grid
               if r.residual)  # fmt: skip
    by = {n: r for n, r in grid}
    assert (by["he_relu"].init, by["he_relu"].residual) == ("he", False)
    assert by["residual_relu"].residual and by["residual_relu"].activation == "relu"
    # Plain nets from theory: shaped activations for their depth with orthogonal weights at
    # sigma_w2 = 1, and tanh at its critical sigma_w2 (1 at sigma_b2 = 0).
    for name in ("tat_leaky_relu", "dks_tanh", "dks_softplus"):
        r = by[name]
        assert r.activation.startswith(name.split("_")[0] + "_") and f"_d{r.depth}_" in r.activation
        assert (r.init, r.sigma_w2, r.residual) == ("orthogonal", 1.0, False)
    crit = by["critical_tanh"]
    assert crit.init == "orthogonal" and crit.sigma_w2 == pytest.approx(1.0, abs=1e-6)
    # The default run: the deep comparison at 100, the other plain recipes at 50.
    depths = {n: sorted({r.depth for m, r in grid if m == n}) for n in by}
    assert depths["tat_leaky_relu"] == [50, 100] and depths["dks_tanh"] == [50]
    hx = tr.he_xavier_runs(s)
    assert {(r.init, r.optimizer) for r in hx} == {
        ("he", "momentum"), ("glorot", "momentum"), ("he", "adam"), ("glorot", "adam")}  # fmt: skip
    # The grid's own width is not repeated in the width column.
    assert all(r.width != s.width for r in tr.width_runs(s))
    # The full run's map has orthogonal weights too.
    full = StudyConfig.for_mode("full").grid
    assert {r.init for r in tr.map_runs(full)} == {"gaussian", "orthogonal"}


def test_recipes_are_described_and_plain_means_no_residual():
    for name, rec in tr.RECIPES.items():
        assert rec.name == name and rec.label
        assert rec.plain == (not rec.residual)


def test_cell_summary_counts_diverged_runs_apart():
    recs = [{"a": 1, "test_accuracy": v} for v in (0.5, 0.7, None, float("nan"))]
    cell = tr.cell_summary(recs, ("a",))[(1,)]
    assert cell["n"] == 4 and cell["diverged"] == 2
    assert cell["mean"] == pytest.approx(0.6)
    assert (cell["min"], cell["max"]) == (0.5, 0.7)


@pytest.mark.slow
def test_gradient_fluctuations_mean_is_one_and_spread_follows_theory():
    depth, width, inits = 10, 32, 1024
    g = tr.gradient_fluctuations(depth, width, inits=inits, seed=3)
    assert g.shape == (inits, depth) and (g > 0).all()
    # He init keeps E[G_l] = 1; G_l's variance is prod(1 + 5/n) - 1 = 3.3 at layer 10, so the
    # sample mean's standard error is sqrt(3.3 / 1024) = 0.057: 5 standard errors.
    assert abs(g[:, -1].mean() - 1) < 5 * math.sqrt((1 + 5 / width) ** depth - 1) / math.sqrt(inits)
    cells = tr.fluctuation_cells((5, 10), (width,), inits=inits, seed=3)
    assert [c["depth"] for c in cells] == [5, 10]
    for c in cells:
        assert c["predicted_var_log"] == pytest.approx(
            theory.relu_log_gain_variance(width, c["depth"])
        )
        assert c["hanin_var_log"] == pytest.approx(5 * c["depth"] / width)
        # Within 4 standard errors of the finite-width theory.
        assert abs(c["var_log"] - c["predicted_var_log"]) < 4 * c["var_log_se"], c
        assert c["spread"] == pytest.approx(math.exp(math.sqrt(c["var_log"])))


@pytest.mark.slow
def test_gradient_fluctuations_grow_with_depth_and_shrink_with_width():
    cells = tr.fluctuation_cells((4, 16), (16, 64), inits=256)
    v = {(c["depth"], c["width"]): c["var_log"] for c in cells}
    # Theory: 1.7 vs 6.7 at width 16, 0.33 vs 1.3 at width 64; standard errors <= 9%.
    assert v[(16, 16)] > 2 * v[(4, 16)] and v[(16, 64)] > 2 * v[(4, 64)]
    assert v[(16, 16)] > 2 * v[(16, 64)] and v[(4, 16)] > 2 * v[(4, 64)]


@pytest.mark.parametrize(
    ("kw", "name"),
    [({"depth": 0, "width": 8}, "depth"), ({"depth": 3, "width": 0}, "width"),
     ({"depth": 3, "width": 8, "inits": 0}, "inits")],
)  # fmt: skip
def test_gradient_fluctuations_reject_bad_sizes(kw, name):
    with pytest.raises(ValueError, match=name):
        tr.gradient_fluctuations(**kw)


def test_six_xi_c_is_infinite_at_the_edge_of_chaos_only():
    crit = theory.critical_sigma_w2("tanh", 0.05)
    assert tr.six_xi_c("tanh", crit, 0.05) > 1e4
    assert tr.six_xi_c("tanh", 0.5, 0.05) < 50 and tr.six_xi_c("tanh", 4.0, 0.05) < 100


def _map_records():
    return [{"activation": "tanh", "init": "gaussian", "depth": d, "sigma_w2": v,
             "test_accuracy": acc, "width": 16}
            for d in (10, 50) for v, acc in ((0.5, 0.2), (1.76, 0.9), (4.0, 0.4))]  # fmt: skip


@pytest.mark.slow
def test_trainability_map_and_heatmap_figures(tmp_path):
    limit = [(v, tr.six_xi_c("tanh", v, 0.05)) for v in (0.5, 1.0, 1.76, 2.5, 4.0)]
    p = plot_trainability_map(_map_records(), tmp_path / "map.png", 0.05, limit)
    assert p.read_bytes()[:4] == b"\x89PNG"
    recs = [{"depth": d, "width": w, "test_accuracy": 0.1 * i}
            for i, (d, w) in enumerate((d, w) for d in (50, 100) for w in (16, 32))]  # fmt: skip
    p = plot_heatmap(recs, tmp_path / "heat.png", x="width", y="depth", title="t", xlabel="width",
                ylabel="depth")  # fmt: skip
    assert p.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_fluctuations_figure(tmp_path):
    cells = tr.fluctuation_cells(range(1, 6), (8, 16), inits=32)
    p = plot_fluctuations(cells, tmp_path / "fl.png")
    assert p.read_bytes()[:4] == b"\x89PNG"
    assert np.isfinite([c["var_log"] for c in cells]).all()
