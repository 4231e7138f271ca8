"""Write the generated blocks of README.md and of the documentation pages from committed
results; ``--check`` fails on drift.

Each block sits between ``<!-- generated:NAME:begin -->`` and ``<!-- generated:NAME:end -->``
and is rendered here from a results file in the repository, which names the command and the
device that produced it:

* README.md: ``study-summary``: each claim's verdict and one figure, from
  ``docs/study/results.json`` (``jaxact study --out docs/study``);
* ``docs/study.md``: ``study`` (the numbers behind each verdict, the figures) and
  ``study-verdicts`` (the rules), from the same file;
* ``docs/diagnose.md``: ``diagnose-example`` from ``docs/diagnose_example.json``
  (``examples/05_diagnose_your_model.py``) and ``diagnose-bench`` from part ``diagnose`` of
  ``benchmarks/results/cpu-AMD_EPYC.json`` (``jaxact bench``);
* ``docs/shaping.md``: ``shaping-example`` from ``docs/shaping_example.json``
  (``examples/06_shape_your_network.py``);
* ``docs/activations.md``: ``catalogue`` (the registry's table, from the entries themselves)
  and ``jax-nn-speed``, part ``jax_nn`` of
  ``benchmarks/results/cpu-AMD_EPYC.json`` and ``benchmarks/results/gpu-NVIDIA_H200.json``
  (``jaxact bench --parts jax_nn``);
* ``docs/benchmarks.md``: ``bench-summary`` and ``bench-results`` (every results file of
  ``benchmarks/results/``, rendered by ``jaxact.bench.runner.markdown``);
* ``docs/mlp.md``, ``docs/sweeps.md``, ``docs/theory.md``: ``transcript-NAME``, the command
  line sessions of ``docs/transcripts.json`` (``python tools/transcripts.py``).

Run: python tools/readme_numbers.py [--check]
(tests/test_readme.py and tests/test_docs.py run the check in the test suite.)
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

from jaxact.bench.timing import per_round_ratio, ratio_text

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the site's hooks, beside this file
from mkdocs_hooks import relink

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BENCH = ROOT / "benchmarks" / "results" / "cpu-AMD_EPYC.json"
GPU_BENCH = ROOT / "benchmarks" / "results" / "gpu-NVIDIA_H200.json"
EXAMPLE = ROOT / "docs" / "diagnose_example.json"
SHAPING = ROOT / "docs" / "shaping_example.json"
STUDY = ROOT / "docs" / "study" / "results.json"
TRANSCRIPTS = ROOT / "docs" / "transcripts.json"
#: The study's figure on the README's front page.
README_FIGURE = "vanishing.png"
#: The study's figures shown on the study page (the rest are in the report).
STUDY_FIGURES = ("depth.png", "why_deep_fails.png", "fluctuations.png", "he_xavier.png",
                 "trainability_map.png", "vanishing.png")  # fmt: skip


def _device(d: dict) -> str:
    return f"{d['cpu_count']}-core {d['device_kind']} {d['backend'].upper()}, JAX {d['jax']}"


def diagnose_bench() -> str:
    results = json.loads(BENCH.read_text())
    g = results["parts"]["diagnose"]
    steps = g["steps"]
    wide = [r for r in steps if r["width"] >= 256]
    c = g["compile"]
    lines = [
        f"From `{g['command']}` on the {_device(results['device'])} ({g['date'][:10]}): the "
        "same jitted training step (loss, gradient, Adam update) with `jax.value_and_grad` and "
        "with `jaxact.diagnose`, timed in alternation; the ratio is the median of per-round "
        "ratios.",
        "",
        "| model | width | value_and_grad ms | diagnose ms | ratio (min-max) |",
        "|---|---|---|---|---|",
    ]
    for r in steps:
        lines.append(
            f"| {r['model']} | {r['width']} | {r['value_and_grad']['median'] * 1e3:.2f} | "
            f"{r['diagnose']['median'] * 1e3:.2f} | {ratio_text(r)} |"
        )
    lines += [
        "",
        f"At width >= 256 the median ratio is at most **{max(r['ratio'] for r in wide):.2f}x**. "
        f"Compiling a depth-{c['depth']} scanned ReLU MLP (trace, lower, XLA; {c['repeats']} "
        f"alternating pairs): `value_and_grad` {c['value_and_grad_s']:.2f} s, `diagnose` "
        f"{c['diagnose_s']:.2f} s; ratio **{c['ratio']:.2f}x** (median of pairs, "
        f"{c['ratio_min']:.2f}-{c['ratio_max']:.2f}; a scan body is compiled once, whatever "
        "the depth).",
    ]
    return "\n".join(lines)


def diagnose_example() -> str:
    ex = json.loads(EXAMPLE.read_text())
    m = ex["models"]
    conv, relu, sig = m["flax conv net"], m["equinox relu MLP"], m["equinox sigmoid MLP"]
    pct = lambda v: f"{100 * v:.1f}%"  # noqa: E731
    return "\n".join(
        [
            f"From `{ex['command']}` on the {_device(ex['device'])}, after "
            f"{sig['steps']} Adam steps:",
            "",
            "| model | sites | test accuracy | first / last site gradient at step 1 | "
            "dead units at the end |",
            "|---|---|---|---|---|",
            *(
                f"| {name} | {r['sites']} | {pct(r['test_accuracy'])} | "
                f"{r['first_over_last_grad_at_step_1']:.2g} | {pct(r['dead_units_at_end'])} |"
                for name, r in m.items()
            ),
            "",
            f"The 12-layer sigmoid MLP does not learn ({pct(sig['test_accuracy'])}, chance is "
            f"10%): its first layer receives {sig['first_over_last_grad_at_step_1']:.1g} of the "
            f"last layer's gradient, and no unit is saturated "
            f"({pct(sig['saturated_at_end'])} of entries): the gradient vanishes because "
            "sigmoid' <= 1/4 at every layer, not because units sit on the flat tails. The ReLU "
            f"MLP with equinox's default initialisation (variance 1/(3 fan_in), a sixth of "
            f"He's 2/fan_in) loses a factor sqrt(1/6) per layer too "
            f"({relu['first_over_last_grad_at_step_1']:.1g} across the stack), ends with "
            f"{pct(relu['dead_units_at_end'])} of its units dead and reaches "
            f"{pct(relu['test_accuracy'])}. The conv net reaches {pct(conv['test_accuracy'])}.",
        ]
    )


def shaping_example() -> str:
    ex = json.loads(SHAPING.read_text())
    pct = lambda v: f"{100 * v:.1f}%"  # noqa: E731
    sh = ex["shaping"]
    return "\n".join(
        [
            f"From `{ex['command']}` on the {_device(ex['device'])}: a plain {ex['depth']}-layer "
            f"equinox MLP (width 64) on digits, {ex['steps']} Adam steps (rate "
            f"{ex['learning_rate']:g}) each. TAT "
            f"gives the leaky ReLU slope {sh['negative_slope']:.4f} and scale {sh['alpha']:.4f},"
            f" so that the network's C_f(0) = {sh['network']['c0']:.3f}.",
            "",
            "| model | sites found by diagnose | first / last site gradient at init | inputs' "
            "mean cosine similarity after the last layer, at init | test accuracy |",
            "|---|---|---|---|---|",
            *(
                f"| {name} | {r['sites']} | {r['first_over_last_grad_at_init']:.2g} | "
                f"{r['input_similarity_at_init']:.3f} | {pct(r['test_accuracy'])} |"
                for name, r in ex["models"].items()
            ),
            "",
            "Equinox's default weights have variance 1/(3 fan_in) (sigma_w2 = 1/3), so with ReLU "
            "the plain net's signal variance shrinks about 6x per layer: after "
            f"{ex['depth']} layers it is below float32's smallest normal number, every input "
            "looks the same, and a "
            "first/last gradient ratio of 0 means no gradient reaches the first layer at all. "
            "The shaped net keeps the inputs apart and its gradient's size through depth.",
            "",
            "![before](docs/shaping-before.png)",
            "![after](docs/shaping-after.png)",
            "![training](docs/shaping.png)",
        ]
    )


def study() -> str:
    res = json.loads(STUDY.read_text())
    d = res["device"]
    lines = [
        f"From `{res['command']} --out docs/study` on the {_device(d)} ({d['date'][:10]}), "
        f"{res['seconds']:.0f} s of experiments; the full report is "
        "[docs/study/report.md](docs/study/report.md) (`report.html` is the same, "
        "self-contained).",
        "",
        "| # | claim | verdict | the numbers |",
        "|---|---|---|---|",
    ]
    for i, e in enumerate(res["experiments"], 1):
        lines.append(f"| {i} | {e['title']} | {e['verdict']} | {e['summary']} |")
    figures = {f for e in res["experiments"] for f in e["figures"]}
    lines.append("")
    lines += [f"![{f[:-4].replace('_', ' ')}](docs/study/figures/{f})" for f in STUDY_FIGURES
              if f in figures]  # fmt: skip
    return "\n".join(lines)


def study_summary() -> str:
    """The README's short form of the study: each claim's verdict and one figure (the numbers,
    the rules and every figure are on the study page)."""
    res = json.loads(STUDY.read_text())
    d = res["device"]
    lines = [
        f"From `{res['command']} --out docs/study` on the {_device(d)} ({d['date'][:10]}), "
        f"{res['seconds']:.0f} s of experiments ([the full report](docs/study/report.md)):",
        "",
        "| # | claim | verdict |",
        "|---|---|---|",
    ]
    for i, e in enumerate(res["experiments"], 1):
        lines.append(f"| {i} | {_cell(e['title'])} | {_cell(e['verdict'])} |")
    lines += ["", f"![{README_FIGURE[:-4]}](docs/study/figures/{README_FIGURE})"]
    return "\n".join(lines)


def catalogue() -> str:
    """The activation catalogue's table, from the registry entries themselves."""
    from jaxact.activations import ACTIVATIONS, ALIASES

    aliases: dict[str, list[str]] = {}
    for alias, name in ALIASES.items():
        aliases.setdefault(name, []).append(alias)
    lines = ["| name | formula | jax.nn | range | sup abs(phi') | saturating | parameters |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, r in ACTIVATIONS.items():
        label = f"`{name}`" + "".join(f" (alias `{a}`)" for a in sorted(aliases.get(name, [])))
        twin = ("-" if r.jax_nn is None else f"`{r.jax_nn}`" + "".join(
            f" ({k}={v})" for k, v in r.jax_nn_kwargs.items()))  # fmt: skip
        params = ", ".join(f"{k}={v}" for k, v in r.params.items()) or "-"
        flat = "yes" if r.saturating else "no"
        lines.append(f"| {label} | {_cell(r.doc)} | {twin} | {r.output_range} | "
                     f"{r.max_slope:.4g} | {flat} | {params} |")  # fmt: skip
    return "\n".join(lines)


def jax_nn_speed() -> str:
    runs = [json.loads(path.read_text()) for path in (BENCH, GPU_BENCH)]
    parts = [r["parts"]["jax_nn"] for r in runs]
    names = [f"{r['device']['backend'].upper()}" for r in runs]
    lines = []
    for r, part in zip(runs, parts, strict=True):
        d = r["device"]
        lines.append(f"- {d['backend'].upper()}: `{part['command']}` on the {_device(d)} "
                     f"({part['date'][:10]}), {part['elements']:,} float32 values.")  # fmt: skip
    lines += [
        "",
        "time(jaxact) / time(jax.nn), median of alternating rounds (min-max); below 1 jaxact "
        "is faster.",
        "",
        "| function | " + " | ".join(f"{n} forward | {n} forward+grad" for n in names) + " |",
        "|---|" + "---|---|" * len(names),
    ]
    for label in parts[0]["functions"]:
        cells = []
        for part in parts:
            row = part["functions"].get(label)
            cells += ([ratio_text(row["forward"]), ratio_text(row["forward_grad"])] if row
                      else ["", ""])  # fmt: skip
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    sh = parts[0]["step_shape"]
    lines += [
        "",
        f"Inside a training step ({sh['model']}, {sh['depth']} hidden layers of {sh['width']}, "
        f"batch {sh['batch']}, Adam), step time against jax.nn's:",
        "",
        "| activation | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for label in parts[0]["steps"]:
        cells = [ratio_text(p["steps"][label]) for p in parts]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _pct(v: float) -> str:
    return f"{100 * v:.0f}%"


def _span(values, fmt=_pct) -> str:
    return f"{fmt(min(values))} to {fmt(max(values))}"


def _ms(seconds: float) -> str:
    """Milliseconds, three significant digits (no exponent for steps over a second)."""
    ms = seconds * 1e3
    return f"{ms:.0f}" if ms >= 100 else f"{ms:.3g}"


def _per_round(num: list[float], den: list[float]) -> float:
    """Median of per-round ratios ``num / den`` (both timed in the same rounds)."""
    return per_round_ratio(num, den)["median"]


#: jaxact's steps in the frameworks benchmark: (row name, label in the targets, table column).
OURS = (
    ("jaxact", "jaxact", "jaxact"),
    ("jaxact_fused", 'jaxact `backward="fused"`', "fused"),
    ("jaxact_sgd", "jaxact `make_sgd_step`", "SGD step"),
)


def _framework_rows(fw: dict) -> list[tuple[str, str, str]]:
    """Issue 16's targets, each a ratio over the shapes it covers, for each of jaxact's steps."""
    rows = []
    wide = [g for g in fw["grid"] if g["width"] >= 256]
    narrow = [g for g in fw["grid"] if g["width"] <= 64]
    x = lambda v: f"{v:.2f}x"  # noqa: E731
    depths = ", ".join(map(str, fw["depths"]))
    for name, label, _ in OURS:
        if not all(name in g["steps"] for g in fw["grid"]):
            continue
        chain = [_per_round(g["steps"]["xla_chain"]["times"], g["steps"][name]["times"])
                 for g in wide]  # fmt: skip
        rows.append((
            f"{label}: step at width >= 256 >= 0.9 of the same matmuls alone (XLA's chain), "
            f"depths {depths}",
            _span(chain, lambda v: f"{v:.2f}"),
            "met" if min(chain) >= 0.9 else "missed"))  # fmt: skip
        if all("torch_eager" in g["steps"] for g in fw["grid"]):
            for where, rows_, target in (("width >= 256", wide, 1.0), ("width <= 64", narrow, 2.0)):
                sp = [g["steps"][name]["speedup_vs_torch_eager"]["median"] for g in rows_]
                rows.append((f"{label}: step vs PyTorch eager >= {target:g}x at {where}",
                             _span(sp, x), "met" if min(sp) >= target else "missed"))  # fmt: skip
    return rows


def _faulted(row: dict) -> str:
    """A step's ``faulted_mb_per_step``, in whole MB (``-`` where it was not measured)."""
    mb = row.get("faulted_mb_per_step")
    return "-" if mb is None else f"{mb:.0f}"


def _framework_table(fw: dict) -> list[str]:
    """jaxact's steps against the limit and the other frameworks, per shape."""
    others = [n for n in ("torch_eager", "torch_compile", "equinox", "flax")
              if any(n in g["steps"] for g in fw["grid"])]  # fmt: skip
    ours = [(n, col) for n, _, col in OURS if any(n in g["steps"] for g in fw["grid"])]
    titles = {"torch_eager": "PyTorch eager", "torch_compile": "torch.compile",
              "equinox": "equinox", "flax": "flax"}  # fmt: skip
    lines = [
        "| width | depth | "
        + " | ".join(f"{col} ms" for _, col in ours)
        + " | of XLA chain | of limit | faulted MB/step | "
        + " | ".join(f"vs {titles[n]}" for n in others)
        + " |",
        "|---|---|" + "---|" * (len(ours) + 3 + len(others)),
    ]
    for g in fw["grid"]:
        st = g["steps"]

        def each(value, st=st):
            """``value(row)`` for each of jaxact's steps, joined by ``/`` (``-`` if absent)."""
            return " / ".join(value(st[n]) if n in st else "-" for n, _ in ours)

        chain = st["xla_chain"]["times"]
        cells = [each(lambda r, t=st[n]["times"]: f"{_per_round(t, r['times']):.2f}x")
                 if n in st else "-" for n in others]  # fmt: skip
        lines.append(
            f"| {g['width']} | {g['depth']} | "
            + " | ".join(_ms(st[n]["median"]) if n in st else "-" for n, _ in ours)
            + " | "
            + each(lambda r, t=chain: f"{_per_round(t, r['times']):.2f}")
            + " | "
            + each(lambda r: f"{r['fraction_of_limit']['median']:.2f}")
            + " | "
            + each(_faulted)
            + " | "
            + " | ".join(cells)
            + " |"
        )
    return lines


def bench_summary() -> str:
    """The Benchmarks section's tables: activations, the issues' targets, PyTorch."""
    results = json.loads(BENCH.read_text())
    p = results["parts"]
    acts = p["activations"]["activations"]
    md = BENCH.with_suffix(".md").relative_to(ROOT)
    fw = p["frameworks"]
    lines = [
        f"From `{results['command']}` on the {_device(results['device'])}; full tables: "
        f"[{md}]({md}) (the frameworks rows: `{fw['command']}`, {fw['date'][:10]}, "
        + ", ".join(f"{k} {v}" for k, v in fw["versions"].items() if k != "jax")
        + ").",
        "",
        "| activation | cache-resident time vs ReLU | fwd+grad vs ReLU | memory-bound / copy |",
        "|---|---|---|---|",
    ]
    for n in sorted(acts, key=lambda n: acts[n]["forward"]["resident_ratio_to_relu"]):
        f, g = acts[n]["forward"], acts[n]["forward_grad"]
        lines.append(f"| {n} | {f['resident_ratio_to_relu']:.1f}x | "
                     f"{g['resident_ratio_to_relu']:.1f}x | "
                     f"{f['memory_fraction_of_copy']:.2f} |")  # fmt: skip
    sig = acts["sigmoid"]["forward"]["resident_ratio_to_relu"]
    copy = p["activations"]["copy"]["gb_per_s"]
    lines += ["", f"With data in cache sigmoid costs {sig:.1f}x ReLU per element; streamed "
              "from memory most activations run at a similar fraction of the copy bandwidth "
              f"({copy:.1f} GB/s here; ratios above 1 are the noise of one pass over "
              "256 MiB)."]  # fmt: skip
    m, c = p["mlp"], p["mlp"]["compile"]
    wide = [r for r in m["steps"] if r["width"] >= 256]
    w256 = [r["fraction_of_matmul_peak"] for r in wide if r["width"] == 256]
    fr = [r["fraction_of_matmul_peak"] for r in wide]
    same = [r["fraction_of_same_shape_matmul"] for r in wide]
    deep, shallow = max(c["scan"], key=int), min(c["scan"], key=int)
    unrolled = max(c["unrolled"], key=int)
    att = p["attenuation"]["jacobians_over_wide_forward"]
    sw = p["sweep"]
    cells = [x["speedup"] for x in sw["cells"]]
    peak = m["matmul_peak"]["gflop_per_s"]
    rows = [
        ("MLP step at width >= 256 reaches >= 85% of the matmul peak",
         f"{_span(fr)} of a {peak:.0f} GFLOP/s square-matmul peak (width 256: {_span(w256)}); "
         f"{_span(same)} of a matmul of the step's own shape",
         "met" if min(fr) >= 0.85 else "missed"),
        (f"compile time at depth {deep} <= 1.5x depth {shallow}",
         f"{c['scan_ratio_deepest_to_shallowest']:.2f}x ({c['scan'][deep]:.2f} s against "
         f"{c['scan'][shallow]:.2f} s)",
         "met" if c["scan_ratio_deepest_to_shallowest"] <= 1.5 else "missed"),
        (f"compile >= 30x faster than an unrolled loop at depth {unrolled}",
         f"{c['unrolled_over_scan_at_deepest_unrolled']:.0f}x ({c['unrolled'][unrolled]:.1f} s "
         f"against {c['scan'][unrolled]:.2f} s)",
         "met" if c["unrolled_over_scan_at_deepest_unrolled"] >= 30 else "missed"),
        ("all-layer Jacobians <= 3x a forward pass batched over the input width",
         f"{att:.2f}x", "met" if att <= 3 else "missed"),
        *_framework_rows(fw),
        (f"sweep with seeds vmapped faster than a loop over seeds ({len(sw['activations'])} "
         f"activations x {len(sw['depths'])} depths x {sw['seeds']} seeds, width {sw['width']})",
         f"{sw['grid_speedup']:.2f}x over the grid ({sw['grid_vmapped_s']:.2f} s against "
         f"{sw['grid_loop_s']:.2f} s; {_span(cells, lambda v: f'{v:.2f}x')} per cell)",
         "met" if sw["grid_speedup"] > 1 else "missed"),
    ]  # fmt: skip
    lines += ["", "Targets from the benchmark issues, as measured in that run:", "",
              "| target | measured | |", "|---|---|---|"]  # fmt: skip
    lines += [f"| {a} | {b} | {v} |" for a, b, v in rows]
    lines += ["", f"The training step in each framework (`{fw['command']}`): the same network "
              f"(depth x `relu(a @ W + b)`, batch {fw['batch']}, the same weights and data), one "
              "SGD step. Ratios are medians of per-round ratios: *of XLA chain* and *of limit* "
              "are the time of the step's matmuls alone (XLA's chain; the faster of XLA's and "
              "PyTorch's) over jaxact's step time, *vs X* is X's time over jaxact's (above 1, "
              "jaxact is faster); *faulted MB/step* is the memory a step touches for the first "
              "time (minor page faults x page size: fresh arrays mapped from the system); a "
              "triple is "
              'jaxact\'s autodiff step / with `backward="fused"` / `make_sgd_step` (the fused '
              "pass with the update written in place).", "",
              *_framework_table(fw)]  # fmt: skip
    den = fw.get("denormals")
    if den:
        frac = 100 * den["subnormal_fraction_of_weight_grads"]
        lines += ["", f"Subnormals: in a {den['depth']}-layer sigmoid net {frac:.0f}% of "
                  "PyTorch's weight gradients are subnormal; its step took "
                  f"{den['denormal_slowdown']:.2f}x the time of the same step with "
                  "`torch.set_flush_denormal(True)` (XLA flushes them)."]  # fmt: skip
    return "\n".join(lines)


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def study_verdicts() -> str:
    res = json.loads(STUDY.read_text())
    lines = ["| # | claim | verdict | decided by |", "|---|---|---|---|"]
    for i, e in enumerate(res["experiments"], 1):
        lines.append(f"| {i} | {_cell(e['title'])} | {_cell(e['verdict'])} | "
                     f"{_cell(e['decided_by'])} |")  # fmt: skip
    return "\n".join(lines)


def bench_results() -> str:
    from jaxact.bench.runner import markdown

    parts = []
    for path in sorted(BENCH.parent.glob("*.json")):
        results = json.loads(path.read_text())
        text = markdown(results, results["command"])
        # One level down: each file's title is a section of the page.
        text = re.sub(r"^(#+) ", r"#\1 ", text, flags=re.M)
        parts.append(f"From `benchmarks/results/{path.name}`:\n\n{text.strip()}")
    return "\n\n".join(parts)


#: The README's generated blocks.
BLOCKS = {"study-summary": study_summary}

#: The documentation pages' generated blocks. Their links are written as from the repository's
#: root (``docs/x.png``) and made relative to the page as the site's hook does.
DOCS_BLOCKS = {
    ROOT / "docs" / "study.md": {"study": study, "study-verdicts": study_verdicts},
    ROOT / "docs" / "benchmarks.md": {
        "bench-summary": bench_summary,
        "bench-results": bench_results,
    },
    ROOT / "docs" / "diagnose.md": {
        "diagnose-example": diagnose_example,
        "diagnose-bench": diagnose_bench,
    },
    ROOT / "docs" / "shaping.md": {"shaping-example": shaping_example},
    ROOT / "docs" / "activations.md": {"catalogue": catalogue, "jax-nn-speed": jax_nn_speed},
}


def _session(name: str) -> dict:
    """The session ``name`` of ``docs/transcripts.json``: command, output, exit, wall time,
    device."""
    return json.loads(TRANSCRIPTS.read_text())["sessions"][name]


def transcript(name: str):
    """A block: the session ``name`` of ``docs/transcripts.json`` as a terminal showed it, then
    the machine, JAX version and wall time beside the command that recorded it."""

    def block() -> str:
        t = _session(name)
        d = t["device"]
        return (f"```\n$ {t['command']}\n{t['output'].rstrip()}\n```\n\n"
                f"(Exit status {t['exit']}, {t['wall_s']:.0f} s wall, compilation included, on "
                f"the {d['cpu_count']}-core {d['device_kind']} {d['backend'].upper()}, JAX "
                f"{d['jax']}: recorded by `python tools/transcripts.py {name}`.)")  # fmt: skip

    return block


def _transcripts(*names: str) -> dict:
    return {f"transcript-{n}": transcript(n) for n in names}


# The prose that reads a session's table: its numbers come from the recorded output too.


def _rows(name: str) -> list[list[str]]:
    """The table of session ``name``: the lines after its header (the line that starts with
    ``activation``), split on whitespace, while they have the first row's number of fields."""
    lines = _session(name)["output"].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("activation"))
    rows: list[list[str]] = []
    for line in lines[start + 1 :]:
        parts = line.split()
        if not parts or (rows and len(parts) != len(rows[0])) or parts[0].endswith(":"):
            break
        rows.append(parts)
    return rows


def _sweep_cells(name: str) -> list[dict]:
    """An attenuation sweep's rows: activation, sigma_w2, depth, width, seeds, rate
    mean/std/min/max, theory."""
    return [{"activation": r[0], "sigma_w2": float(r[2]), "depth": int(r[3]),
             "width": int(r[4]), "seeds": int(r[5]), "mean": float(r[6]), "std": float(r[7]),
             "min": float(r[8]), "max": float(r[9]), "theory": float(r[10])}
            for r in _rows(name)]  # fmt: skip


def _off(c: dict) -> float:
    """A cell's relative distance from its theory."""
    return abs(c["mean"] / c["theory"] - 1)


def _range(values) -> str:
    values = list(values)
    lo, hi = min(values), max(values)
    return f"{lo:.3f}" if f"{lo:.3f}" == f"{hi:.3f}" else f"{lo:.3f}-{hi:.3f}"


def attenuation_reading() -> str:
    """What the attenuation session's sigmoid row says."""
    sig = {r[0]: r for r in _rows("attenuation")}["sigmoid"]
    rate, measured = float(sig[1]), sig[5]
    return (
        f"(A sigmoid net's gradient shrinks by a factor {1 / rate:.1f} per layer (rate "
        f"{rate:.3f}) even with He weights - `sqrt(2) x sup sigmoid' = 0.35` - and is down to "
        f"1e-6 of the output's after {measured} layers; the `total` column is what is left of "
        "it at the input.)"
    )


def sweep_depth_reading() -> str:
    """The depth sweep's table in words: sigmoid's rate and where it underflows, ReLU's, how
    close each activation's cells are to the theory."""
    cells = _sweep_cells("sweep-depth")
    by = lambda a: [c for c in cells if c["activation"] == a]  # noqa: E731
    out = _session("sweep-depth")["output"]
    found = re.findall(r"underflow: sigmoid depth (\d+) .*?the gradient at layer (\d+) is", out)
    sig_ok = [c for c in by("sigmoid") if math.isfinite(c["mean"])]
    depths = " and ".join(str(c["depth"]) for c in sig_ok)
    text = (f"With He weights sigmoid's gradient is multiplied by "
            f"{_range(c['mean'] for c in sig_ok)} per layer at depth"
            f"{'s' if len(sig_ok) > 1 else ''} {depths}")  # fmt: skip
    if found:
        depth = int(found[0][0])
        layers = sorted({int(layer) for _, layer in found})
        seeds = next(c["seeds"] for c in by("sigmoid") if c["depth"] == depth)
        every = "in every seed" if len(found) == seeds else f"in {len(found)} of {seeds} seeds"
        below = depth - max(layers)
        rate = sig_ok[-1]["mean"]
        where = f"{layers[0]}-{layers[-1]}" if len(layers) > 1 else f"{layers[0]}"
        text += (f"; at depth {depth} its gradient underflows float32 to exactly 0 at layer "
                 f"{where}, about {below} layers below the output, {every} ({rate:.2f}^{below} "
                 f"is about {rate**below:.0e}, near float32's smallest normal number, 1.2e-38), "
                 "so that cell has no rate (`nan`) and the `underflow` lines say "
                 "where")  # fmt: skip
    gelu = ", ".join(f"{c['mean']:.3f}" for c in by("gelu"))
    text += (f". ReLU keeps the gradient's size ({_range(c['mean'] for c in by('relu'))}), tanh "
             f"grows slowly ({_range(c['mean'] for c in by('tanh'))}: He's `sigma_w2 = 2` puts "
             f"it in the chaotic phase), and GELU's rate falls with depth ({gelu}) as its "
             "variance drifts to its fixed point.")  # fmt: skip
    close = [c for a in ("sigmoid", "tanh", "relu") for c in by(a) if math.isfinite(c["mean"])]
    worst = max(_off(c) for c in close)
    text += (f" Measurement and finite-depth theory agree within {worst:.1%} for sigmoid, tanh "
             "and ReLU at every depth they measure")  # fmt: skip
    far = [c for c in by("gelu") if _off(c) > worst]
    if far:
        widest = max(cells, key=lambda c: c["std"] if math.isfinite(c["std"]) else -1)
        text += "; GELU is further off: " + "; ".join(
            f"at depth {c['depth']} {c['mean']:.3f} against {c['theory']:.3f} "
            f"({_off(c):.0%}; seeds {c['min']:.2f} to {c['max']:.2f}"
            + (", the widest spread of the table" if c is widest else "") + ")"
            for c in far) + (f", where its slowly drifting variance makes {far[0]['width']} "
                             "units a small sample")  # fmt: skip
    return text + "."


def sweep_sigma_w2_reading() -> str:
    """The sigma_w2 sweep in words: the worst cell against the theory, and tanh at its
    critical point."""
    cells = _sweep_cells("sweep-sigma-w2")
    worst = max(cells, key=_off)
    crit = next(c for c in cells if c["activation"] == "tanh" and c["sigma_w2"] == 1.0)
    agrees = abs(crit["mean"] - crit["theory"]) <= crit["std"]
    return (
        f"(Each activation's {len({c['sigma_w2'] for c in cells})} x {cells[0]['seeds']} "
        "networks are one "
        f"compiled program.) Every cell is within {_off(worst):.1%} of the theory (the furthest: "
        f"{worst['activation']} at `sigma_w2 = {worst['sigma_w2']:g}`); ReLU's rate is "
        "`sqrt(sigma_w2 / 2)`, and tanh at `sigma_w2 = 1` is at its critical point, where the "
        f"fixed-point theory says 1 but {crit['depth']} layers measure {crit['mean']:.3f}"
        + (f" - which the finite-depth prediction ({crit['theory']:.4f}) gets right, within "
           "one standard deviation over the seeds." if agrees else
           f", against {crit['theory']:.4f} from the finite-depth prediction.")
    )  # fmt: skip


def sweep_training_reading() -> str:
    """Where each activation stops learning in the training sweep (mean training accuracy
    under 90%)."""
    rows = [(r[0], int(r[3]), float(r[6])) for r in _rows("sweep-training")]
    parts = []
    for act in dict.fromkeys(a for a, _, _ in rows):
        acc = [(d, m) for a, d, m in rows if a == act]
        fail = next((i for i, (_, m) in enumerate(acc) if m < 0.9), None)
        if fail is None:
            parts.append(f"{act} still learns at {acc[-1][0]}")
        elif fail == 0:
            parts.append(f"{act} does not learn even at {acc[0][0]}")
        else:
            parts.append(f"{act} stops learning between {acc[fail - 1][0]} and {acc[fail][0]} "
                         "layers")  # fmt: skip
    return ("Two spirals, 256 points, full batch: " + ", ".join(parts) + " (a net stops "
            "learning where its mean training accuracy over the seeds falls under "
            "90%).")  # fmt: skip


def theory_reading() -> str:
    """How far the measured ``chi_1`` is from the prediction, from the theory session."""
    found = re.findall(r"TheoryComparison\((\w+),.*?predicted ([\d.]+), measured ([\d.]+) \+- "
                       r"([\d.]+) over (\d+) seeds, relative error ([\d.]+)%", _session(
                           "theory")["output"])  # fmt: skip
    worst = max(float(f[5]) for f in found)
    outside = [f[0] for f in found if abs(float(f[1]) - float(f[2])) > float(f[3])]
    inside = ("inside one standard deviation over the seeds for all"
              + (f" but {', '.join(outside)}" if outside else ""))  # fmt: skip
    return (f"Measured on width-1000 random networks ({found[0][4]} seeds, inputs drawn at the "
            f"fixed point), the per-layer `chi_1` lands within {worst:.1f}% of the prediction "
            f"for all {len(found)}, {inside} (same command, same machine):")  # fmt: skip


DOCS_BLOCKS[ROOT / "docs" / "mlp.md"] = _transcripts("attenuation", "attenuation-deep") | {
    "attenuation-reading": attenuation_reading
}
DOCS_BLOCKS[ROOT / "docs" / "sweeps.md"] = _transcripts(
    "bad-depth", "too-big", "sweep-depth", "sweep-sigma-w2", "sweep-training"
) | {"sweep-depth-reading": sweep_depth_reading, "sweep-sigma-w2-reading": sweep_sigma_w2_reading,
     "sweep-training-reading": sweep_training_reading}  # fmt: skip
DOCS_BLOCKS[ROOT / "docs" / "theory.md"] = _transcripts("theory") | {
    "theory-reading": theory_reading
}


def _pattern(name: str) -> re.Pattern:
    return re.compile(
        rf"(<!-- generated:{re.escape(name)}:begin -->\n)(.*?)(<!-- generated:{re.escape(name)}"
        r":end -->)",
        re.S,
    )


def render(text: str, blocks=None, where: str = "README.md") -> str:
    """``text`` (README.md, or a page of ``docs/`` with its ``blocks``, whose links are made
    relative to the page) with every generated block rewritten."""
    page = where != README.name
    for name, fn in (BLOCKS if blocks is None else blocks).items():
        pat = _pattern(name)
        if not pat.search(text):
            raise SystemExit(f"{where} has no block {name!r}")
        body = relink(fn(), 0) if page else fn()
        text = pat.sub(lambda m, body=body: m.group(1) + body + "\n" + m.group(3), text)
    return text


def targets() -> list[tuple[Path, dict]]:
    """Every file with generated blocks, and its blocks."""
    return [(README, BLOCKS), *DOCS_BLOCKS.items()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if a file is stale")
    args = parser.parse_args(argv)
    stale = []
    for path, blocks in targets():
        text = path.read_text()
        new = render(text, blocks, path.name)
        if new == text:
            continue
        stale.append(path.relative_to(ROOT))
        if not args.check:
            path.write_text(new)
    if args.check and stale:
        names = ", ".join(map(str, stale))
        print(f"{names} stale: run python tools/readme_numbers.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
