"""Run the benchmarks, write ``<out>/<backend>-<device>.json``, a markdown table and plots."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from jaxact.bench import activations as bench_activations
from jaxact.bench import attenuation as bench_attenuation
from jaxact.bench import diagnose as bench_diagnose
from jaxact.bench import frameworks as bench_frameworks
from jaxact.bench import jax_nn as bench_jax_nn
from jaxact.bench import mlp as bench_mlp
from jaxact.bench import sweep as bench_sweep
from jaxact.bench.timing import device_info, device_slug
from jaxact.files import (
    SCHEMA_VERSION,
    atomic_write,
    claim_output_dir,
    hold_output,
    mark_output_dir,
    save_figure_atomically,
)

__all__ = [
    "PARTS",
    "main",
    "markdown",
    "plots",
    "run_all",
]

PARTS = ("activations", "jax_nn", "mlp", "attenuation", "diagnose", "sweep", "frameworks")


def run_all(*, quick: bool, parts=PARTS, log=print) -> dict[str, Any]:
    """Run benchmark parts, one after another, and collect their results.

    Args:
      quick: small sizes (about a minute in all), for smoke tests.
      parts: which of :data:`PARTS` to run.
      log: called with a line before and after each part.

    Returns:
      ``{"device": device_info(), "quick": quick, "parts": {part: results}}``: each part's
      results (timings with their spread, the ratios against its reference) and ``wall_s``.

    Raises:
      ValueError: an unknown part.

    >>> from jaxact.bench.runner import run_all
    >>> res = run_all(quick=True, parts=["attenuation"], log=lambda line: None)
    >>> list(res["parts"]), res["parts"]["attenuation"]["wall_s"] > 0
    (['attenuation'], True)
    """
    results: dict[str, Any] = {"device": device_info(), "quick": quick, "parts": {}}
    for part in parts:
        t0 = time.perf_counter()
        log(f"[bench] {part} ...")
        if part == "activations":
            res = bench_activations.run(quick=quick)
        elif part == "jax_nn":
            res = bench_jax_nn.run(quick=quick)
        elif part == "mlp":
            res = bench_mlp.run(quick=quick)
        elif part == "attenuation":
            res = bench_attenuation.run(quick=quick)
        elif part == "diagnose":
            res = bench_diagnose.run(quick=quick)
        elif part == "sweep":
            res = bench_sweep.run(quick=quick)
        elif part == "frameworks":
            res = bench_frameworks.run(quick=quick)
        else:
            raise ValueError(f"unknown benchmark part {part!r}; valid: {', '.join(PARTS)}")
        res["wall_s"] = time.perf_counter() - t0
        results["parts"][part] = res
        log(f"[bench] {part} done in {res['wall_s']:.1f} s")
    return results


def _f(v: float, spec: str = ".3g") -> str:
    return format(v, spec)


def markdown(results: dict[str, Any], command: str) -> str:
    """The results file's tables as Markdown (what ``jaxact bench`` writes beside the JSON).

    Args:
      results: :func:`run_all`'s dict, or a results JSON read back.
      command: the command that produced it, named in the text.

    Returns:
      The Markdown text: device and versions, then one section per part.

    >>> import jax
    >>> from jaxact.bench.runner import markdown, run_all
    >>> res = run_all(quick=True, parts=["attenuation"], log=lambda line: None)
    >>> markdown(res, "jaxact bench --quick --parts attenuation").splitlines()[0].startswith(
    ...     f"# Benchmarks: {jax.default_backend()}")
    True
    """
    d = results["device"]
    parts = results["parts"]
    # A file that merges parts of several runs (``--parts``) names each part's command and date.
    runs: dict[tuple[str, str], list[str]] = {}
    for name, part in parts.items():
        key = (part.get("command", command), part.get("date", d["date"])[:10])
        runs.setdefault(key, []).append(name)
    origin = f"`{command}`"
    if len(runs) > 1:
        origin = (
            f"{len(runs)} runs ("
            + "; ".join(
                f"{', '.join(names)}: `{cmd}`, {date}" for (cmd, date), names in runs.items()
            )
            + "), the device and versions of the latest,"
        )
    lines = [
        f"# Benchmarks: {d['backend']} / {d['device_kind']}",
        "",
        f"{origin} on {d['processor']} ({d['cpu_count']} CPUs), {d['platform']}; "
        f"jax {d['jax']}, jaxlib {d['jaxlib']}; {d['date']}"
        + (" (quick mode)" if results["quick"] else ""),
        "",
        "Times are medians over repeats (min-max in the JSON); compile time is excluded.",
    ]
    if "activations" in parts:
        a = parts["activations"]
        lines += [
            "",
            "## Activations",
            "",
            f"Cache-resident: {a['resident_elements']} float32 elements, {a['resident_iters']} "
            f"passes in one compiled loop. Memory-bound: {a['memory_elements']} elements, one "
            f"pass; copy reference (`2 x`) {a['copy']['gb_per_s']:.1f} GB/s.",
            "",
            "| activation | resident ns/elem | vs relu | fwd+grad vs relu | memory GB/s | "
            "fraction of copy | fwd+grad fraction of copy |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, row in a["activations"].items():
            f, g = row["forward"], row["forward_grad"]
            lines.append(
                f"| {name} | {_f(f['resident_ns_per_element'])} | "
                f"{_f(f.get('resident_ratio_to_relu', float('nan')), '.2f')} | "
                f"{_f(g.get('resident_ratio_to_relu', float('nan')), '.2f')} | "
                f"{_f(f['memory_gb_per_s'], '.1f')} | {_f(f['memory_fraction_of_copy'], '.2f')} | "
                f"{_f(g['memory_fraction_of_copy'], '.2f')} |"
            )
    if "jax_nn" in parts:
        lines += ["", "## jaxact vs jax.nn", "", *bench_jax_nn.markdown_rows(parts["jax_nn"])]
    if "mlp" in parts:
        m = parts["mlp"]
        lines += [
            "",
            "## MLP training step (forward + backward + SGD)",
            "",
            f"Matmul peak measured in the same run: {m['matmul_peak']['gflop_per_s']:.1f} "
            "GFLOP/s (float32, square matmul).",
            "",
            "| activation | depth | width | batch | step ms | GFLOP/s | fraction of peak | "
            "fraction of same-shape matmul |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in m["steps"]:
            lines.append(
                f"| {r['activation']} | {r['depth']} | {r['width']} | {r['batch']} | "
                f"{r['timing']['median'] * 1e3:.2f} | {r['gflop_per_s']:.1f} | "
                f"{r['fraction_of_matmul_peak']:.2f} | "
                f"{r['fraction_of_same_shape_matmul']:.2f} |"
            )
        c = m["compile"]
        lines += [
            "",
            f"Compile time of the training step (width {c['width']}), seconds:",
            "",
            "| depth | scan | unrolled loop |",
            "|---|---|---|",
        ]
        depths = sorted({int(k) for k in c["scan"]} | {int(k) for k in c["unrolled"]})
        for dep in depths:
            s, u = c["scan"].get(str(dep)), c["unrolled"].get(str(dep))
            lines.append(
                f"| {dep} | {'' if s is None else f'{s:.2f}'} | {'' if u is None else f'{u:.2f}'} |"
            )
        lines += [
            "",
            f"Scan: deepest / shallowest = {c['scan_ratio_deepest_to_shallowest']:.2f}x; "
            f"unrolled / scan at the deepest unrolled depth = "
            f"{c['unrolled_over_scan_at_deepest_unrolled']:.0f}x.",
        ]
    if "attenuation" in parts:
        t = parts["attenuation"]
        lines += [
            "",
            "## Attenuation measurements",
            "",
            f"Depth {t['depth']}, width {t['width']}, in_dim {t['in_dim']}, batch {t['batch']}: "
            f"`layer_jacobians` costs {t['jacobians_over_wide_forward']:.2f}x a forward pass on "
            f"a batch {t['in_dim']}x larger; `layer_gradient_norms` costs "
            f"{t['gradient_norms_over_forward']:.2f}x a forward pass.",
        ]
    if "diagnose" in parts:
        lines += ["", *diagnose_markdown(parts["diagnose"])]
    if "sweep" in parts:
        w = parts["sweep"]
        lines += [
            "",
            "## Sweeps: seeds vmapped against a loop over seeds",
            "",
            f"{len(w['activations'])} activations x {len(w['depths'])} depths x {w['seeds']} "
            f"seeds, width {w['width']}, batch {w['batch']}, He init, {w['devices']} device(s). "
            "Per cell: draw each network, one forward and backward pass, per-layer gradient "
            "norms. *vmapped*: the sweep's program, all seeds in one `vmap`; *mapped*: the same "
            "program with `vmap_width=1` (`lax.map`, seeds one after another); "
            "*loop*: `jit(one)` called once per seed from Python. Speed-up = loop / program.",
            "",
            "| activation | depth | vmapped ms | mapped ms | loop ms | vmapped speed-up | "
            "mapped speed-up | compile vmapped s | compile single s |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for c in w["cells"]:
            lines.append(
                f"| {c['activation']} | {c['depth']} | {c['vmapped']['median'] * 1e3:.1f} | "
                f"{c['mapped']['median'] * 1e3:.1f} | {c['loop']['median'] * 1e3:.1f} | "
                f"{c['speedup']:.2f}x | {c['speedup_mapped']:.2f}x | "
                f"{c['vmapped']['compile_s']:.2f} | {c['loop']['compile_s']:.2f} |"
            )
        lines += [
            "",
            f"Whole grid: vmapped {w['grid_vmapped_s'] * 1e3:.1f} ms, mapped "
            f"{w['grid_mapped_s'] * 1e3:.1f} ms, loop {w['grid_loop_s'] * 1e3:.1f} ms: "
            f"vmapped **{w['grid_speedup']:.2f}x**, mapped "
            f"**{w['grid_speedup_mapped']:.2f}x** the loop's speed.",
        ]
        if w["sweep_end_to_end_s"] is not None:
            lines[-1] += (f" The same grid through `jaxact.sweep`, compilation included: "
                          f"{w['sweep_end_to_end_s']:.1f} s.")  # fmt: skip
    if "frameworks" in parts:
        lines += ["", "## The training step in jaxact, equinox, flax and PyTorch", "",
                  *bench_frameworks.markdown_rows(parts["frameworks"])]  # fmt: skip
    return "\n".join(lines) + "\n"


def diagnose_markdown(g: dict[str, Any]) -> list[str]:
    """The ``jaxact.diagnose`` section: step overhead per model and compile time."""
    c = g["compile"]
    lines = [
        "## jaxact.diagnose in a training step",
        "",
        "The same jitted step (loss, gradient, one Adam update) with `jax.value_and_grad` and "
        "with `jaxact.diagnose` (which also returns every site's gradient norm and statistics), "
        "timed in alternation; ratio = median of the per-round time ratios (min-max beside it).",
        "",
        "| model | width | depth | batch | value_and_grad ms | diagnose ms | ratio | "
        "ratio min-max |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in g["steps"]:
        lines.append(
            f"| {r['model']} | {r['width']} | {r['depth']} | {r['batch']} | "
            f"{r['value_and_grad']['median'] * 1e3:.2f} | {r['diagnose']['median'] * 1e3:.2f} | "
            f"{r['ratio']:.3f} | {r['ratio_min']:.2f}-{r['ratio_max']:.2f} |"
        )
    lines += [
        "",
        f"Compile time (trace, lower, XLA) of a depth-{c['depth']} scanned ReLU MLP, width "
        f"{c['width']}, {c['repeats']} alternating pairs: `value_and_grad` "
        f"{c['value_and_grad_s']:.2f} s, `diagnose` {c['diagnose_s']:.2f} s (medians); ratio "
        f"**{c['ratio']:.2f}x** (median of pairs, {c['ratio_min']:.2f}-{c['ratio_max']:.2f}).",
    ]
    if g.get("census"):  # results from before the census have none
        lines += [
            "",
            "`jaxact.precision_census` in float16 (a float32 reference pass and one float16 pass "
            "per loss scale, jitted) against one `value_and_grad` step of the same model:",
            "",
            "| model | width | depth | batch | loss scales | value_and_grad ms | census ms | "
            "ratio | ratio min-max |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in g["census"]:
            lines.append(
                f"| {r['model']} | {r['width']} | {r['depth']} | {r['batch']} | "
                f"{r['loss_scales']} | {r['value_and_grad']['median'] * 1e3:.2f} | "
                f"{r['census']['median'] * 1e3:.2f} | {r['ratio']:.2f} | "
                f"{r['ratio_min']:.2f}-{r['ratio_max']:.2f} |"
            )
    return lines


def plots(results: dict[str, Any], prefix: Path) -> list[Path]:
    """Draw the figures of the parts present: the activations' cost, the compile times, the
    frameworks' training steps against the matmul limit.

    Args:
      results: :func:`run_all`'s dict, or a results JSON read back.
      prefix: path prefix of the files (``<prefix>-activations.png``, ``<prefix>-compile.png``,
        ``<prefix>-frameworks.png``).

    Returns:
      The paths written (none if no part with a figure is present).

    >>> import pathlib, tempfile
    >>> from jaxact.bench.runner import plots
    >>> plots({"parts": {}}, pathlib.Path(tempfile.mkdtemp()) / "cpu")
    []
    """
    from jaxact.plotting import pyplot

    plt = pyplot()
    written = []
    parts = results["parts"]
    if "activations" in parts:
        acts = parts["activations"]["activations"]
        names = list(acts)
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        for ax, key, title, ref in (
            (axes[0], "resident_ratio_to_relu", "Cache-resident: time / ReLU time", 1.0),
            (axes[1], "memory_fraction_of_copy", "Memory-bound: bandwidth / copy bandwidth", 1.0),
        ):
            import numpy as np

            xs = np.arange(len(names))
            f = [acts[n]["forward"].get(key, np.nan) for n in names]
            g = [acts[n]["forward_grad"].get(key, np.nan) for n in names]
            ax.bar(xs - 0.2, f, 0.4, label="forward")
            ax.bar(xs + 0.2, g, 0.4, label="forward + gradient")
            ax.axhline(ref, color="k", lw=0.8)
            ax.set_xticks(xs, names, rotation=70, fontsize=8)
            ax.set_title(title, fontsize=10)
            ax.legend(fontsize=8)
        d = results["device"]
        fig.suptitle(f"Activation cost on {d['backend']} / {d['device_kind']}", fontsize=11)
        fig.tight_layout()
        path = Path(f"{prefix}-activations.png")
        save_figure_atomically(fig, path, dpi=110)
        plt.close(fig)
        written.append(path)
    if "mlp" in parts:
        c = parts["mlp"]["compile"]
        fig, ax = plt.subplots(figsize=(6, 4))
        for kind, style in (("scan", "-o"), ("unrolled", "-s")):
            ds = sorted(int(k) for k in c[kind])
            ax.loglog(ds, [c[kind][str(k)] for k in ds], style, label=f"{kind} MLP")
        ax.set_xlabel("depth")
        ax.set_ylabel("compile time of the training step (s)")
        ax.set_title("Compile time against depth")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path = Path(f"{prefix}-compile.png")
        save_figure_atomically(fig, path, dpi=110)
        plt.close(fig)
        written.append(path)
    if "frameworks" in parts:
        path = Path(f"{prefix}-frameworks.png")
        bench_frameworks.plot(parts["frameworks"], path, title_device=results["device"])
        written.append(path)
    return written


def main(argv=None) -> int:
    """``jaxact bench``'s command line (also ``python benchmarks/run.py``).

    Args:
      argv: the arguments (default ``sys.argv[1:]``): ``--quick``, ``--out DIR``,
        ``--parts PART ...``.

    Returns:
      The exit status (0); the results JSON, its Markdown and figures are written to ``--out``.

    >>> import pathlib, tempfile
    >>> from jaxact.bench.runner import main
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> main(["--quick", "--parts", "attenuation", "--out", str(out)])  # doctest: +ELLIPSIS
    [bench] attenuation ...
    0
    >>> sorted(p.suffix or p.name for p in out.iterdir())  # .jaxact-run: a bench folder
    ['.jaxact-run', '.json', '.md']
    """
    parser = argparse.ArgumentParser(
        prog="jaxact bench", description="Benchmarks of activations, MLP steps and attenuation."
    )
    add_arguments(parser)
    return run_cli(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``jaxact bench``'s options: :func:`jaxact.cli.add_bench_arguments`."""
    from jaxact.cli import add_bench_arguments

    add_bench_arguments(parser)


def _previous_parts(path: Path, slug: str) -> tuple[dict, str | None]:
    """The parts and command of an earlier results file of this device, or ``({}, None)`` -
    with a warning, and the unreadable file kept beside it - when it is not one."""
    if not path.exists():
        return {}, None
    try:
        old = json.loads(path.read_text())
        if not isinstance(old, dict) or not isinstance(old.get("parts", {}), dict):
            raise ValueError("not a jaxact bench results object")
        if old.get("schema", SCHEMA_VERSION) != SCHEMA_VERSION:
            raise ValueError(f"schema {old.get('schema')!r}, this jaxact writes {SCHEMA_VERSION}")
        return old.get("parts", {}), old.get("command")
    except (OSError, ValueError, UnicodeDecodeError) as err:
        kept = path.with_name(path.name + ".unreadable")
        os.replace(path, kept)
        print(f"warning: {path} could not be merged ({str(err)[:80]}); it was moved to {kept} "
              "and this run's parts are written alone", file=sys.stderr)  # fmt: skip
        return {}, None


def run_cli(args: argparse.Namespace) -> int:
    out = claim_output_dir(args.out, "bench", force=getattr(args, "force", False),
                           label="--out")  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    with hold_output(out, "--out"):
        mark_output_dir(out, "bench")
        results = run_all(quick=args.quick, parts=args.parts)
        slug = device_slug(results["device"]) + ("-quick" if args.quick else "")
        command = "jaxact bench" + (" --quick" if args.quick else "")
        if list(args.parts) != list(PARTS):
            command += " --parts " + " ".join(args.parts)
        for part in results["parts"].values():
            part["command"], part["date"] = command, results["device"]["date"]
        previous = out / f"{slug}.json"
        if list(args.parts) != list(PARTS):
            # Some parts rerun: keep the other parts of this device's file (each part records
            # the command and date that produced it).
            old_parts, old_command = _previous_parts(previous, slug)
            results["parts"] = {**old_parts, **results["parts"]}
            results["parts"] = {p: results["parts"][p] for p in PARTS if p in results["parts"]}
            command = old_command or command
        results["command"] = command
        results["schema"] = SCHEMA_VERSION
        atomic_write(out / f"{slug}.json", json.dumps(results, indent=1))
        atomic_write(out / f"{slug}.md", markdown(results, command))
        written = [out / f"{slug}.json", out / f"{slug}.md", *plots(results, out / slug)]
    print(markdown(results, command))
    for p in written:
        print(f"wrote {p}")
    return 0
