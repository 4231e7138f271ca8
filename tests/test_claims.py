"""The study's claims, one module each: the room's contents, each verdict rule on the numbers
either side of its thresholds, the rules reproducing the committed study's verdicts from its
saved numbers, and figure code that draws without computing theory or training."""

from __future__ import annotations

import copy
import inspect
import json
import types
from pathlib import Path

import pytest

from jaxact.study import CAVEAT, CLAIMS, EXPERIMENTS, NOT_SUPPORTED, NOT_TESTED, SUPPORTED
from jaxact.study.claims import (
    dead,
    depth,
    flat,
    linear,
    outputs,
    ranges,
    relu_passes,
    speed,
    vanishing,
)

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "docs" / "study" / "results.json"


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.ID)
def test_each_claim_module_holds_its_whole_room(claim):
    for name in ("ID", "TITLE", "CLAIM", "RULE"):
        assert isinstance(getattr(claim, name), str) and getattr(claim, name), name
    assert callable(claim.verdict) and callable(claim.run)
    assert list(inspect.signature(claim.run).parameters) == ["ctx"]
    assert claim.__name__ == f"jaxact.study.claims.{claim.ID}"  # the module is named after it


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.ID)
def test_no_function_of_a_claim_is_over_80_lines(claim):
    # The house's bound for an experiment (and its helpers and figures): a reader follows one
    # claim's measurement, verdict and figure without scrolling through a second concept.
    own = {n: f for n, f in vars(claim).items()
           if inspect.isfunction(f) and f.__module__ == claim.__name__}  # fmt: skip
    assert "run" in own
    long = {n: len(inspect.getsourcelines(f)[0]) for n, f in own.items()}
    assert max(long.values()) <= 80, {n: k for n, k in long.items() if k > 80}


def test_the_registry_is_the_claims_in_order():
    assert [i for i, _ in EXPERIMENTS] == [c.ID for c in CLAIMS]
    assert [f for _, f in EXPERIMENTS] == [c.run for c in CLAIMS]
    assert len({c.ID for c in CLAIMS}) == len(CLAIMS) == 9


@pytest.mark.parametrize("exp", json.loads(COMMITTED.read_text())["experiments"],
                         ids=lambda e: e["id"])  # fmt: skip
def test_each_rule_gives_the_committed_verdict_from_the_saved_numbers(exp):
    # A reader can re-derive each verdict of the committed report (docs/study) from the
    # numbers saved beside it; RULE's words are what the report prints under it.
    claim = dict(zip([c.ID for c in CLAIMS], CLAIMS, strict=True))[exp["id"]]
    assert claim.verdict(exp["numbers"]) == exp["verdict"]
    assert exp["decided_by"] == claim.RULE


def _with(numbers, path, value):
    out = copy.deepcopy(numbers)
    d = out
    for k in path[:-1]:
        d = d[k]
    d[path[-1]] = value
    return out


_LINEAR = {"one_matrix_relative_error": 1e-7, "identity_depth10_accuracy": 0.65,
           "relu_depth3_accuracy": 0.99}  # fmt: skip
_RANGES = {"sigmoid": {"min": 0.0, "max": 1.0, "max_slope": 0.25},
           "tanh": {"min": -1.0, "max": 1.0, "max_slope": 1.0},
           "relu": {"slope_values": [0.0, 1.0]}}  # fmt: skip
_FLAT = {"derivatives": {"sigmoid": {"10.0": 4.5e-5}, "tanh": {"10.0": 8.2e-9}}}
_VANISH = {"per_activation": {"sigmoid": {"measured_rate": 0.25},
                              "tanh": {"measured_rate": 0.7},
                              "relu": {"measured_rate": 1.0}}}  # fmt: skip
_SPEED = {"sigmoid_over_relu": {"resident": 3.0}}
_DEAD = {"relu": {"dead_fraction_mean": 0.2}, "leaky_relu": {"dead_fraction_mean": 0.0}}
_OUTPUTS = {"binary_prob_min": 0.0, "binary_prob_max": 1.0, "multiclass_max_sum_error": 1e-7}

# (claim, numbers, expected): each threshold of each RULE, met and just missed. Values sit
# a hair beyond each threshold (float32 results are compared in float64 here).
RULE_CASES = [
    (linear, _LINEAR, SUPPORTED),
    (linear, _with(_LINEAR, ["one_matrix_relative_error"], 1e-5), NOT_SUPPORTED),
    (linear, _with(_LINEAR, ["identity_depth10_accuracy"], 0.7), NOT_SUPPORTED),
    (linear, _with(_LINEAR, ["relu_depth3_accuracy"], 0.9), NOT_SUPPORTED),
    (ranges, _RANGES, SUPPORTED),
    (ranges, _with(_RANGES, ["sigmoid", "min"], -1e-7), NOT_SUPPORTED),
    (ranges, _with(_RANGES, ["sigmoid", "max_slope"], 0.25 + 2e-6), NOT_SUPPORTED),
    (ranges, _with(_RANGES, ["tanh", "max"], 1.0 + 1e-7), NOT_SUPPORTED),
    (ranges, _with(_RANGES, ["relu", "slope_values"], [0.0, 0.5, 1.0]), NOT_SUPPORTED),
    (flat, _FLAT, SUPPORTED),
    (flat, _with(_FLAT, ["derivatives", "sigmoid", "10.0"], 1e-4), NOT_SUPPORTED),
    (flat, _with(_FLAT, ["derivatives", "tanh", "10.0"], 1e-8), NOT_SUPPORTED),
    (vanishing, _VANISH, CAVEAT),
    (vanishing, _with(_VANISH, ["per_activation", "sigmoid", "measured_rate"], 0.5),
     NOT_SUPPORTED),
    (vanishing, _with(_VANISH, ["per_activation", "tanh", "measured_rate"], 0.95), NOT_SUPPORTED),
    (vanishing, _with(_VANISH, ["per_activation", "relu", "measured_rate"], 1.1), NOT_SUPPORTED),
    (vanishing, _with(_VANISH, ["per_activation", "relu", "measured_rate"], 0.9), NOT_SUPPORTED),
    # A rate that underflowed to nan (saved as the string "nan") decides nothing.
    (vanishing, _with(_VANISH, ["per_activation", "sigmoid", "measured_rate"], "nan"),
     NOT_SUPPORTED),
    (relu_passes, {"derivative_values": [0.0, 1.0]}, CAVEAT),
    (relu_passes, {"derivative_values": [0.0, 0.5, 1.0]}, NOT_SUPPORTED),
    (speed, _SPEED, CAVEAT),
    (speed, _with(_SPEED, ["sigmoid_over_relu", "resident"], 1.5), NOT_SUPPORTED),
    (dead, _DEAD, SUPPORTED),
    (dead, _with(_DEAD, ["relu", "dead_fraction_mean"], 0.05), CAVEAT),
    (dead, _with(_DEAD, ["leaky_relu", "dead_fraction_mean"], 0.001), NOT_SUPPORTED),
    (outputs, _OUTPUTS, SUPPORTED),
    (outputs, _with(_OUTPUTS, ["binary_prob_max"], 1.0 + 1e-7), NOT_SUPPORTED),
    (outputs, _with(_OUTPUTS, ["multiclass_max_sum_error"], 1e-5), NOT_SUPPORTED),
]  # fmt: skip


@pytest.mark.parametrize(("claim", "numbers", "expected"), RULE_CASES,
                         ids=[f"{c.ID}-{i}" for i, (c, _, _) in enumerate(RULE_CASES)])  # fmt: skip
def test_each_rule_at_its_thresholds(claim, numbers, expected):
    assert claim.verdict(numbers) == expected


def _cells(depth_, reach):
    """Grid cells at ``depth_``: the recipes in ``reach`` at 90%, the others at 50%."""
    names = ("he_relu", "residual_relu", "tat_leaky_relu", "critical_tanh")
    return {"grid_cells": [{"recipe": n, "optimizer": o, "depth": depth_,
                            "mean": 0.9 if n in reach else 0.5}
                           for n in names for o in ("momentum", "adam")]}  # fmt: skip


@pytest.mark.parametrize(("cells", "expected"), [
    (_cells(100, {"he_relu"}), SUPPORTED),
    (_cells(100, {"residual_relu"}), "supported only with residual connections"),
    (_cells(100, {"tat_leaky_relu", "residual_relu"}),
     "supported only with the activation shaped to the depth (TAT/DKS) or orthogonal weights "
     "at the edge of chaos, or with residual connections"),
    (_cells(100, {"critical_tanh"}), "supported only with the activation shaped to the depth "
     "(TAT/DKS) or orthogonal weights at the edge of chaos"),
    (_cells(100, set()), NOT_SUPPORTED),
    (_cells(depth.DEEP - 1, {"he_relu"}), NOT_TESTED),  # --quick's grid stops short
])  # fmt: skip
def test_the_depth_rule(cells, expected):
    assert depth.verdict(cells) == expected


# Modules whose work a figure must not redo: it draws the numbers the experiment computed.
_COMPUTING = ("jaxact.theory", "jaxact.sweeps", "jaxact.trainability", "jaxact.shaping",
              "jaxact.runs.engine", "jaxact.runs.cells", "jaxact.training",
              "jaxact.attenuation")  # fmt: skip


def _names(code: types.CodeType):
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _names(const)


PLOTS = [f for c in CLAIMS for n, f in vars(c).items()
         if n.startswith("plot_") and inspect.isfunction(f)
         and f.__module__ == c.__name__]  # fmt: skip


def test_the_claims_draw_their_own_figures():
    # flat 1, vanishing 1, relu_passes 1, depth 6, speed 1, dead 1 (the others draw with
    # jaxact.plotting or the shared decision maps)
    assert len(PLOTS) == 11


@pytest.mark.parametrize("fn", PLOTS, ids=lambda f: f.__name__)
def test_figure_functions_draw_without_computing(fn):
    for name in set(_names(fn.__code__)):
        obj = fn.__globals__.get(name)
        where = obj.__name__ if inspect.ismodule(obj) else getattr(obj, "__module__", "")
        assert not str(where).startswith(_COMPUTING), f"{fn.__name__} uses {name} ({where})"


def test_the_old_figure_module_warns_and_points_to_the_claim():
    import jaxact.study_figures as old

    with pytest.warns(DeprecationWarning, match="use jaxact.study.claims.depth.plot_heatmap"):
        assert old.heatmap is depth.plot_heatmap
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        old.nope  # noqa: B018
