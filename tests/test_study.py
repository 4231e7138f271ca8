"""The study: the quick run end to end, its files, the HTML report, resume and atomic writes."""

from __future__ import annotations

import base64
import json
import os
from html.parser import HTMLParser
from pathlib import Path

import pytest

from jaxact.cli import main as cli_main
from jaxact.files import atomic_write
from jaxact.study import EXPERIMENTS, StudyConfig, run_study

# The module-scoped fixture runs once per pytest run: every test of the module on one worker.
pytestmark = pytest.mark.xdist_group("quick_study")

VERDICTS = {"supported", "not supported", "supported with a caveat", "not tested at this size"}
RUN_FIELDS = {"recipe", "activation", "init", "depth", "width", "optimizer", "dataset", "seed",
              "residual", "final_loss", "test_accuracy"}  # fmt: skip


def _verdict_ok(v: str) -> bool:
    return v in VERDICTS or v.startswith("supported only ")


@pytest.fixture(scope="module")
def quick_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    assert cli_main(["study", "--quick", "--out", str(out), "--no-progress"]) == 0
    return out


@pytest.mark.slow
def test_quick_study_writes_every_output(quick_study):
    out = quick_study
    for name in ("report.html", "report.md", "results.json"):
        assert (out / name).stat().st_size > 0
    res = json.loads((out / "results.json").read_text())
    assert [e["id"] for e in res["experiments"]] == [i for i, _ in EXPERIMENTS]
    assert res["device"]["backend"] and res["device"]["jax"]
    for e in res["experiments"]:
        assert _verdict_ok(e["verdict"]) and e["summary"] and e["numbers"]
        assert e["decided_by"], f"{e['id']} does not say how its verdict is decided"
        assert e["figures"], f"{e['id']} has no figure"
        assert (out / "results" / f"{e['id']}.json").exists()
        for fig in e["figures"]:
            assert (out / "figures" / fig).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_training_runs_are_flat_records_over_seeds(quick_study):
    res = json.loads((quick_study / "results.json").read_text())
    by_id = {e["id"]: e for e in res["experiments"]}
    runs = by_id["depth"]["numbers"]["runs"]
    assert runs and all(RUN_FIELDS <= set(r) for r in runs)
    assert {r["dataset"] for r in runs} == {
        "digits (train), standardized, normalized per example"}  # fmt: skip
    cells = {}
    for r in runs:
        if r["recipe"] is None:
            continue  # He-vs-Xavier's runs
        key = (r["recipe"], r["activation"], r["init"], r["depth"], r["width"], r["residual"],
               r["optimizer"], r["sigma_w2"])  # fmt: skip
        cells.setdefault(key, set()).add(r["seed"])
    assert cells and all(len(v) >= 3 for v in cells.values()), "every grid cell has 3 seeds"
    assert {k[0] for k in cells} == {"he_relu", "residual_relu", "tat_leaky_relu"}
    assert {k[5] for k in cells} == {False, True} and {k[6] for k in cells} == {"momentum", "adam"}
    tat = [k for k in cells if k[0] == "tat_leaky_relu"]
    assert tat and all(k[1] == "tat_leaky_relu_d20_eta0p9" and k[2] == "orthogonal" for k in tat)
    dead = by_id["dead"]["numbers"]["runs"]
    assert {r["activation"] for r in dead} == {"relu", "leaky_relu"}
    assert all(len(r["dead_units"][-1]) == 5 for r in dead)


@pytest.mark.slow
def test_quick_depth_experiment_leaves_the_default_runs_extras_out(quick_study):
    # --quick: no gradient fluctuations, no trainability map, no one-cell width heatmap (the
    # default and full runs have them; tests/test_trainability.py covers those functions).
    res = json.loads((quick_study / "results.json").read_text())
    depth = {e["id"]: e for e in res["experiments"]}["depth"]
    assert depth["numbers"]["gradient_fluctuations"] == []
    assert not {"fluctuations.png", "trainability_map.png", "depth_width.png"} & set(
        depth["figures"])  # fmt: skip
    assert "log ||J u||^2" not in depth["summary"] + str(depth["details"])
    default = StudyConfig.for_mode("default").grid
    assert default.fluct_depths and default.fluct_widths and default.map_sigma_w2


@pytest.mark.slow
def test_report_explains_verdicts_and_terms(quick_study):
    md = (quick_study / "report.md").read_text()
    html = (quick_study / "report.html").read_text()
    assert md.count("How this verdict is decided") == len(EXPERIMENTS)
    assert "## Glossary" in md and "Edge of chaos" in md and "He init" in md
    assert "How this verdict is decided" in html and 'id="glossary"' in html


@pytest.mark.slow
def test_only_on_a_full_report_keeps_the_other_experiments(quick_study, capsys):
    assert cli_main(["study", "--quick", "--out", str(quick_study), "--no-progress",
                     "--only", "flat"]) == 0  # fmt: skip
    capsys.readouterr()
    res = json.loads((quick_study / "results.json").read_text())
    assert [e["id"] for e in res["experiments"]] == [i for i, _ in EXPERIMENTS]
    assert (quick_study / "report.md").read_text().count("How this verdict is decided") == len(
        EXPERIMENTS
    )


@pytest.mark.slow
def test_quick_study_verdicts(quick_study):
    res = json.loads((quick_study / "results.json").read_text())
    by_id = {e["id"]: e for e in res["experiments"]}
    # Claims whose outcome does not depend on training luck must come out supported.
    for exp_id in ("linear", "ranges", "flat", "outputs"):
        assert by_id[exp_id]["verdict"] == "supported", by_id[exp_id]["summary"]
    assert by_id["vanishing"]["numbers"]["arithmetic_0.1^10"] == pytest.approx(1e-10)
    rates = by_id["vanishing"]["numbers"]["per_activation"]
    assert rates["sigmoid"]["measured_rate"] < 0.5 < rates["relu"]["measured_rate"]


@pytest.mark.slow
def test_each_quick_verdict_follows_from_its_saved_numbers(quick_study):
    # The rules in code (each claim's verdict) read the numbers as saved (nan as "nan"),
    # including --quick's 'not tested at this size' for claim 6.
    from jaxact.study import CLAIMS

    rules = {c.ID: c for c in CLAIMS}
    res = json.loads((quick_study / "results.json").read_text())
    for e in res["experiments"]:
        assert rules[e["id"]].verdict(e["numbers"]) == e["verdict"], e["id"]
    assert {e["id"]: e["verdict"] for e in res["experiments"]}["depth"] == "not tested at this size"


class _Collector(HTMLParser):
    VOID = frozenset({"meta", "img", "br", "hr", "link", "input"})

    def __init__(self):
        super().__init__()
        self.stack, self.images, self.errors = [], [], []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()


@pytest.mark.slow
def test_html_report_is_well_formed_and_self_contained(quick_study):
    html = (quick_study / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>")
    p = _Collector()
    p.feed(html)
    assert not p.errors and not p.stack, (p.errors, p.stack)
    assert p.images, "the report has figures"
    for img in p.images:
        src = img["src"]
        assert src.startswith("data:image/png;base64,"), src[:40]
        assert base64.b64decode(src.split(",", 1)[1])[:4] == b"\x89PNG"
        assert img.get("alt")


@pytest.mark.slow
def test_resume_skips_finished_experiments(quick_study, capsys):
    marker = quick_study / "results" / "flat.json"
    before = marker.stat().st_mtime_ns
    assert cli_main(["study", "--quick", "--out", str(quick_study), "--resume", "--no-progress",
                     "--only", "flat", "ranges"]) == 0  # fmt: skip
    assert marker.stat().st_mtime_ns == before
    assert "Sigmoid and tanh are flat" in capsys.readouterr().out


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "r.json"
    atomic_write(target, "old")

    with pytest.raises(TypeError):
        atomic_write(target, 123)  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert [f.name for f in tmp_path.iterdir()] == ["r.json"]


def test_bad_mode_and_unknown_experiment(tmp_path):
    with pytest.raises(ValueError, match="mode must be one of"):
        StudyConfig.for_mode("huge")
    with pytest.raises(ValueError, match=r"unknown experiment\(s\) \['nope'\]"):
        run_study(tmp_path, mode="quick", only=["nope"], show_progress=False)
    with pytest.raises(SystemExit) as info:  # the command line: argparse's one-line error
        cli_main(["study", "--quick", "--out", str(tmp_path), "--only", "nope", "--no-progress"])
    assert info.value.code == 2


def test_fast_cpu_compile_flags_only_for_checked_jaxlib_and_never_over_the_users(monkeypatch):
    from jaxact import cli

    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
    assert cli.fast_cpu_compile("0.10.2") == list(cli.FAST_CPU_COMPILE_FLAGS)
    flags = os.environ["XLA_FLAGS"].split()
    assert flags[0] == "--xla_force_host_platform_device_count=2"
    assert flags[1:] == list(cli.FAST_CPU_COMPILE_FLAGS)
    assert cli.fast_cpu_compile("0.10.2") == []  # already there: nothing added twice
    # A jaxlib it was not checked on might not know the flags (XLA aborts on unknown ones).
    monkeypatch.setenv("XLA_FLAGS", "")
    assert cli.fast_cpu_compile("0.11.0") == [] and os.environ["XLA_FLAGS"] == ""
    assert cli.fast_cpu_compile("0.9.1") == [] and cli.fast_cpu_compile("dev") == []
    # The user's own setting of one of them wins; the other is still added.
    monkeypatch.setenv("XLA_FLAGS", "--xla_backend_optimization_level=3")
    assert cli.fast_cpu_compile("0.10.0") == ["--xla_cpu_use_fusion_emitters=false"]
    assert "--xla_backend_optimization_level=3" in os.environ["XLA_FLAGS"]
    assert "--xla_backend_optimization_level=2" not in os.environ["XLA_FLAGS"]


@pytest.mark.slow
def test_quick_says_it_is_a_smoke_test(quick_study):
    # --quick stops at depth 20: claim 6's rule (50+ layers) is not applied, and says so.
    from jaxact.report import SMOKE_TEST

    res = json.loads((quick_study / "results.json").read_text())
    depth = {e["id"]: e for e in res["experiments"]}["depth"]
    assert depth["verdict"] == "not tested at this size"
    he = dict(depth["details"])["He et al. (2015): He against Xavier initialisation"]
    assert "target (He >= 90%, Xavier >= 0.5 nats above) not tested" in he
    assert SMOKE_TEST in (quick_study / "report.md").read_text()
    assert "A smoke test (--quick)" in (quick_study / "report.html").read_text()


@pytest.mark.parametrize("mode", ["quick", "default"])
def test_only_a_quick_report_carries_the_smoke_test_banner(mode):
    from jaxact.bench.timing import device_info
    from jaxact.report import SMOKE_TEST, render_html, render_markdown
    from jaxact.study import Experiment

    exps = [Experiment("flat", "Flat tails", "Sigmoid is flat far out.", "supported", "s", {})]
    meta = {"command": "jaxact study", "device": device_info(), "seconds": 1.0,
            "config": {"mode": mode}}  # fmt: skip
    md = render_markdown(exps, meta)
    html = render_html(exps, meta, Path("unused"))
    assert (SMOKE_TEST in md) == (mode == "quick")
    assert ('class="smoke"' in html) == (mode == "quick")


def test_report_folds_details_labels_timings_and_links_the_glossary(tmp_path):
    from jaxact.bench.timing import device_info
    from jaxact.report import GLOSSARY, glossary_anchor, render_html, render_markdown
    from jaxact.study import Experiment

    why = ["Why, at initialisation", "The C map after 100 layers is 0.9."]
    e = Experiment("depth", "Deep nets", "Deep nets train.", "supported",
                   "Short: He init reaches 95%.", {}, seconds=12.34, details=[why])  # fmt: skip
    meta = {"command": "jaxact study", "device": device_info(), "seconds": 12.3,
            "config": {"mode": "default"}}  # fmt: skip
    md = render_markdown([e], meta)
    assert "<details><summary>Why, at initialisation</summary>" in md
    assert "*Ran in 12.3 s.* Terms: [He init](#glossary), [C map](#glossary)." in md
    html = render_html([e], meta, tmp_path)
    assert "<details><summary>Why, at initialisation</summary>" in html
    assert f'<a href="#{glossary_anchor("C map")}">C map</a>' in html
    assert "Ran in 12.3 s." in html
    assert all(f'id="{glossary_anchor(t)}"' in html for t, _ in GLOSSARY)
    # The terms the newcomer asked about are explained.
    terms = {t for t, _ in GLOSSARY}
    assert {"Loss in nats", "log ||J u||^2", "Jacobian spectrum"} <= terms
    assert any("Hanin 2018" in text for _, text in GLOSSARY)
