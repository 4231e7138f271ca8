"""The ``jaxact`` command line: ``study`` (the main job), ``activations``, ``attenuation``,
``theory`` and ``bench``."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from jaxact.checks import check_memory  # no JAX at import: the parser stays light

#: The names the parser offers, written here so that ``jaxact --help`` (and every argument
#: error) needs no JAX: each equals its registry (``tests/test_package.py`` checks that).
INIT_NAMES = ("gaussian", "glorot", "he", "lecun", "orthogonal", "standard")
STUDY_EXPERIMENTS = ("linear", "ranges", "flat", "vanishing", "relu_passes", "depth", "speed",
                     "dead", "outputs")  # fmt: skip
OPTIMIZER_NAMES = ("adam", "momentum", "sgd")
DEFAULT_OPTIMIZER_NAME, DEFAULT_LEARNING_RATE = "adam", 1e-2
BENCH_PARTS = ("activations", "jax_nn", "mlp", "attenuation", "diagnose", "sweep", "frameworks")

#: Figure formats every command's ``--plot``-like option accepts (matplotlib's, without
#: importing it to ask).
FIGURE_FORMATS = ("eps", "jpeg", "jpg", "pdf", "png", "ps", "svg", "svgz", "tif", "tiff", "webp")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each default said once: none for flags and unset options (or where the help says it),
    lists as the words one would type."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        # --help and --version have SUPPRESS; positionals have no option strings.
        unset = default is None or default is False or default == argparse.SUPPRESS
        if unset or "default" in text or not action.option_strings:
            return text
        if isinstance(default, list | tuple):
            default = " ".join(map(str, default))
        return f"{text} (default: {str(default).replace('%', '%%')})"


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (``jaxact attenuation: error: ...``) and exit status 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _at_least(option: str, value: int, low: int = 1) -> None:
    if value < low:
        raise ValueError(f"{option} must be >= {low}, got {value}")


def _positive(option: str, value: float | None, unit: str = "") -> None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise ValueError(f"{option} must be > 0{unit}, got {value:g}")


def _non_negative(option: str, value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{option} must be >= 0, got {value:g}")


def _activations(option: str, names: Sequence[str], *, elementwise: bool = True) -> None:
    from jaxact.activations import get_activation

    for name in names:
        rec = get_activation(name)  # ValueError: unknown, with the closest match
        if elementwise and not rec.elementwise:
            raise ValueError(f"{option} {name}: needs an elementwise activation (softmax and "
                             "log_softmax act along an axis)")  # fmt: skip


def check_figure_path(option: str, path: str | None) -> None:
    """Raise ValueError unless ``path`` can take a figure: a known format, in a writable folder
    that exists (a typo in a folder name is an error, not a new folder), checked before any
    computation."""
    if path is None:
        return
    p = Path(path)
    fmt = p.suffix.lower().lstrip(".")
    if fmt not in FIGURE_FORMATS:
        raise ValueError(f"{option} {path}: {p.suffix or 'no extension'} is not a supported "
                         f"figure format ({', '.join(FIGURE_FORMATS)})")  # fmt: skip
    from jaxact.files import check_parent

    check_parent(option, p)  # an ancestor that is a file, an unwritable folder
    if not p.parent.is_dir():
        raise ValueError(f"{option} {path}: the folder {p.parent.absolute()} does not exist")
    if p.is_dir():
        raise ValueError(f"{option} {path}: is a directory")


def activations_table(names: Sequence[str] | None = None) -> str:
    """The catalogue as a plain-text table: name, range, max slope, phi'(0), saturating, gain."""
    import jax.numpy as jnp

    from jaxact.activations import ACTIVATIONS

    names = list(ACTIVATIONS) if names is None else list(names)
    header = ("name", "range", "max |phi'|", "phi'(0)", "saturating", "gain")
    rows = []
    for name in names:
        rec = ACTIVATIONS[name]
        if rec.elementwise:
            d0 = f"{float(rec.derivative(jnp.float32(0.0))):.4g}"
        else:
            d0 = "(Jacobian)"
        sat = "yes" if rec.saturating else ("left" if rec.saturates_left else "no")
        if rec.saturates_right and not rec.saturates_left:
            sat = "right"
        rows.append(
            (name, str(rec.output_range), f"{rec.max_slope:.4g}", d0, sat, f"{rec.gain:.4g}")
        )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=False))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) for r in rows]
    lines = [line.rstrip() for line in lines]
    return "\n".join(lines)


def _cmd_activations(args: argparse.Namespace) -> int:
    print(activations_table())
    print(
        "\nsaturating: phi' -> 0 at both extremes (left/right: at one only). "
        "gain: std(W) = gain / sqrt(fan_in)."
    )
    if args.plot:
        from jaxact.plotting import plot_activations

        path = plot_activations(args.plot)
        print(f"wrote {path}")
    return 0


def _check_activations(args: argparse.Namespace) -> None:
    check_figure_path("--plot", args.plot)


def _check_attenuation(args: argparse.Namespace) -> None:
    from jaxact.initializers import resolve_sigma_w2

    _activations("--activation", args.activation)
    for option in ("depth", "width", "batch"):
        _at_least(f"--{option}", getattr(args, option))
    _positive("--sigma-w2", args.sigma_w2)
    _non_negative("--sigma-b2", args.sigma_b2)
    resolve_sigma_w2(args.init, args.width, args.width, args.sigma_w2)  # init and sigma_w2 agree
    check_figure_path("--plot", args.plot)
    # Before anything is allocated (Python ints: no overflow): at the peak, three weight-sized
    # buffers (the random draw and the weights, then the weights and their gradient, plus
    # temporaries) and six activation-sized ones of the backward pass, in float32.
    w, d, b = args.width, args.depth, args.batch
    need = 4 * (3 * d * w * w + 6 * d * b * w + (d + 2) * w)
    check_memory(f"depth {d} x width {w} (batch {b})", need)


def _cmd_attenuation(args: argparse.Namespace) -> int:
    import time

    import jax
    import numpy as np

    from jaxact.attenuation import gradient_attenuation, signal_lost
    from jaxact.mlp import init_mlp

    key_params, key_x = jax.random.split(jax.random.key(args.seed))
    params = init_mlp(
        key_params,
        depth=args.depth,
        width=args.width,
        init=args.init,
        sigma_w2=args.sigma_w2,
        sigma_b2=args.sigma_b2,
    )
    x = jax.random.normal(key_x, (args.batch, args.width), params.dtype)
    print(
        f"depth {args.depth}, width {args.width}, init {args.init}"
        + (f" (sigma_w2 {args.sigma_w2})" if args.sigma_w2 is not None else "")
        + f", sigma_b2 {args.sigma_b2}, batch {args.batch}, seed {args.seed}, "
        f"device {jax.devices()[0].device_kind}"
    )
    header = f"{'activation':<12} {'rate/layer':>10} {'fit rms':>8} {'total':>10} "
    header += f"{'1e-6 after (fit)':>17} {'(measured)':>10} {'time s':>7}"
    print(header)
    results = []
    for name in args.activation:
        t = time.perf_counter()
        try:
            r = gradient_attenuation(params, x, name)
        except FloatingPointError as err:
            print(f"{name:<12} {err}")
            continue
        elapsed = time.perf_counter() - t
        results.append(r)
        lost = signal_lost(r.grad_norms)  # an overflow raised above; an underflow is said
        if lost is not None:
            print(f"{name:<12} the gradient is exactly 0 from layer {lost[1]} down (float "
                  f"underflow): the rate fits layers {lost[1] + 1}-{args.depth} only")  # fmt: skip
        d6 = r.depth_to(6)
        m6 = r.measured_depth_to(6)
        print(
            f"{name:<12} {r.rate:>10.4g} {r.fit_rms:>8.2g} {r.total:>10.3g} "
            f"{('never' if np.isinf(d6) else f'{d6:.1f}'):>17} "
            f"{('-' if m6 is None else str(m6)):>10} {elapsed:>7.2f}"
        )
    print("rate: factor per layer on the way back (<1 vanishing); total: ||g_1|| / ||g_depth||.")
    if args.plot and results:
        from jaxact.plotting import plot_attenuation

        path = plot_attenuation(
            results,
            args.plot,
            title=f"Gradient attenuation: depth {args.depth}, width {args.width}, {args.init} init",
        )
        print(f"wrote {path}")
    return 0 if len(results) == len(args.activation) else 1


def _check_theory(args: argparse.Namespace) -> None:
    from jaxact.runs.engine import network_bytes

    _activations("--activation", args.activation)
    _positive("--sigma-w2", args.sigma_w2)
    _non_negative("--sigma-b2", args.sigma_b2)
    check_figure_path("--phase-diagram", args.phase_diagram)
    check_figure_path("--compare", args.compare)
    if args.compare:
        for option in ("depth", "width", "seeds"):
            _at_least(f"--{option}", getattr(args, option))
        need = args.seeds * network_bytes("attenuation", depth=args.depth, width=args.width,
                                          batch=args.width)  # fmt: skip
        check_memory(f"--compare with depth {args.depth} x width {args.width} x "
                      f"{args.seeds} seeds", need)  # fmt: skip


def _cmd_theory(args: argparse.Namespace) -> int:
    from jaxact import theory

    print(f"sigma_b2 = {args.sigma_b2}, sigma_w2 = {args.sigma_w2} (mean-field, infinite width)")
    head = (
        f"{'activation':<12} {'critical sw2':>12} {'q*':>10} {'chi_1':>8} {'xi_q':>8} "
        f"{'c*':>7} {'xi_c':>8}  phase"
    )
    print(head)

    def fmt(v, spec):
        return "inf" if math.isinf(v) else format(v, spec)

    for name in args.activation:
        try:
            crit = theory.critical_sigma_w2(name, args.sigma_b2)
        except ValueError:
            crit = math.nan
        try:
            d = theory.depth_scales(name, args.sigma_w2, args.sigma_b2)
        except ValueError:  # no fixed point: the variance grows without bound
            print(f"{name:<12} {crit:>12.6g} {'inf':>10}  the variance q grows without bound "
                  "layer by layer: no fixed point, no depth scales")  # fmt: skip
            continue
        c1 = d.chi1
        phase = "ordered" if c1 < 1 - 1e-9 else ("chaotic" if c1 > 1 + 1e-9 else "critical")
        print(
            f"{name:<12} {crit:>12.6g} {fmt(d.q_star, '10.5g'):>10} {fmt(c1, '8.4f'):>8} "
            f"{fmt(d.xi_q, '8.3g'):>8} {d.c_star:>7.4f} {fmt(d.xi_c, '8.3g'):>8}  {phase}"
        )
    print("chi_1: per-layer factor of the squared gradient norm; xi: depth scales in layers.")
    if args.phase_diagram:
        from jaxact.plotting import plot_phase_diagram

        edges = [theory.edge_of_chaos(name) for name in args.activation]
        print(f"wrote {plot_phase_diagram(edges, args.phase_diagram)}")
    if args.compare:
        from jaxact.plotting import plot_theory_comparison

        comps = []
        for name in args.activation:
            c = theory.compare(
                name, sigma_w2=args.sigma_w2, sigma_b2=args.sigma_b2, depth=args.depth,
                width=args.width, seeds=args.seeds,
            )  # fmt: skip
            print(c)
            comps.append(c)
        print(f"wrote {plot_theory_comparison(comps, args.compare)}")
    return 0


def use_every_cpu_core() -> None:
    """Make each CPU core a JAX device, so that the vmapped training and sweep programs
    (sharded over ``jax.devices()``) use them all: XLA runs one CPU device's small matmuls
    on one core. Only before JAX has initialised its backends, and not when ``XLA_FLAGS``
    already sets a device count; on a GPU machine it only adds CPU devices nobody uses."""
    import jax

    if "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        jax.config.update("jax_num_cpu_devices", max(1, cores or 1))
    except RuntimeError:  # JAX has already computed something: keep its devices
        pass


#: XLA flags that make the study's CPU compiles about twice as fast (``name=value``) and the
#: jaxlib versions they were checked on (``[low, high)``): the older kernel emitters and
#: LLVM's -O2 instead of -O3. XLA aborts the process on a flag it does not know, so they are
#: set only for versions known to have them.
FAST_CPU_COMPILE_FLAGS = ("--xla_cpu_use_fusion_emitters=false",
                          "--xla_backend_optimization_level=2")  # fmt: skip
FAST_CPU_COMPILE_JAXLIB = ((0, 10), (0, 11))


def fast_cpu_compile(jaxlib_version: str | None = None) -> list[str]:
    """Compile XLA CPU programs faster, for ``jaxact study``.

    A cold ``jaxact study`` spends most of its time compiling (about 3 s per training program
    on a 2-core CPU). With :data:`FAST_CPU_COMPILE_FLAGS` the same programs compile in about
    half that time and run as fast, with the same accuracies (measured on jaxlib 0.10.2, 2-core
    AMD EPYC). Adds each flag to ``XLA_FLAGS`` unless ``XLA_FLAGS`` already sets it (yours
    wins) or jaxlib is outside :data:`FAST_CPU_COMPILE_JAXLIB`. Effective only before JAX has
    initialised its backends. Returns the flags added.
    """
    if jaxlib_version is None:
        import jaxlib

        jaxlib_version = jaxlib.__version__
    try:
        version = tuple(int(p) for p in jaxlib_version.split(".")[:2])
    except ValueError:
        return []
    low, high = FAST_CPU_COMPILE_JAXLIB
    if not low <= version < high:
        return []
    flags = os.environ.get("XLA_FLAGS", "")
    added = [f for f in FAST_CPU_COMPILE_FLAGS if f.split("=")[0] not in flags]
    if added:
        os.environ["XLA_FLAGS"] = " ".join([flags, *added]).strip()
    return added


def _check_study(args: argparse.Namespace) -> None:
    from jaxact.files import claim_output_dir
    from jaxact.study import STUDY_LAYOUT

    claim_output_dir(args.out, "study", STUDY_LAYOUT, force=args.force, label="--out")
    _at_least("--seed", args.seed, 0)


def _cmd_study(args: argparse.Namespace) -> int:
    import time

    from jaxact.study import run_study

    if args.every_core:
        use_every_cpu_core()
        fast_cpu_compile()
    mode = "quick" if args.quick else ("full" if args.full else "default")
    t0 = time.perf_counter()
    done = run_study(args.out, mode=mode, resume=args.resume, only=args.only, seed=args.seed,
                     show_progress=not args.no_progress, force=args.force)  # fmt: skip
    if mode == "quick":
        from jaxact.report import SMOKE_TEST

        print(SMOKE_TEST + "\n")
    width = max(len(e.title) for e in done)
    for i, e in enumerate(done, 1):
        print(f"{i}. {e.title:<{width}}  {e.verdict}")
        print(f"   {e.summary}")
    print(f"\nwrote {args.out}/report.html, report.md, results.json and figures/ "
          f"in {time.perf_counter() - t0:.1f} s")  # fmt: skip
    return 0


def _sweep_grid(args: argparse.Namespace) -> dict:
    grid = {"activations": args.activation, "depths": args.depth, "widths": args.width,
            "seeds": args.seeds, "inits": args.init, "sigma_w2": args.sigma_w2,
            "sigma_b2": args.sigma_b2, "kind": args.kind, "batch": args.batch,
            "optimizer": args.optimizer, "learning_rate": args.lr, "steps": args.steps,
            "n_points": args.n_points, "max_memory": None}  # fmt: skip
    if args.max_memory is not None:
        grid["max_memory"] = int(args.max_memory * 2**20)
    return grid


def _check_sweep(args: argparse.Namespace) -> None:
    from jaxact.sweeps import check_sweep_output, plan

    _activations("--activation", args.activation)
    for option in ("depth", "width"):
        for v in getattr(args, option):
            _at_least(f"--{option}", v)
    _at_least("--seeds", args.seeds)
    _at_least("--batch", args.batch)
    for v in args.sigma_w2 or ():
        _positive("--sigma-w2", v)
    for v in args.sigma_b2:
        _non_negative("--sigma-b2", v)
    _positive("--max-memory", args.max_memory, " MiB")
    if args.kind == "training":
        _positive("--lr", args.lr)
        _at_least("--steps", args.steps)
        if args.n_points < 2 or args.n_points % 2:
            raise ValueError(f"--n-points must be an even number >= 2, got {args.n_points}")
    if args.theory and args.kind != "attenuation":
        raise ValueError("--theory predicts attenuation rates; it does not apply to "
                         "--kind training")  # fmt: skip
    check_figure_path("--plot", args.plot)
    if args.out is not None:  # a FIFO, a device, a user's file, records without --resume
        check_sweep_output(args.out, resume=args.resume, force=args.force, label="--out")
    plan(**_sweep_grid(args))  # the grid's own checks, and one network's memory


def _cmd_sweep(args: argparse.Namespace) -> int:
    from jaxact.sweeps import plan, summarize, sweep

    grid = _sweep_grid(args)
    print(jax_devices_line())
    for g in plan(**grid):
        print(f"program {g['activation']} depth {g['depth']} width {g['width']}: {g['cells']} "
              f"cell(s) x seeds = {g['networks']} networks, chunk {g['chunk']} "
              f"({g['chunks']} call(s); ~{g['bytes_per_network'] / 2**20:.1f} MiB per network, "
              f"budget {g['budget_per_device'] / 2**20:.0f} MiB per device)")  # fmt: skip
    if args.plan:
        return 0
    # A progress bar only on a terminal: in a log (CI, `| tee`) it would print a line per update.
    show = not args.no_progress and sys.stderr.isatty()
    records = sweep(**grid, out=args.out, resume=args.resume, force=args.force, progress=show)
    rows = summarize(records)
    metrics = ["rate"] if args.kind == "attenuation" else ["train_accuracy", "final_loss"]
    theory = args.theory
    if theory:
        from jaxact.runs import with_theory_rate

        rows = with_theory_rate(rows)
    head = f"{'activation':<12} {'init':<10} {'sigma_w2':>8} {'depth':>6} {'width':>6} {'seeds':>5}"
    print(head + "".join(f" {m + ' mean':>20} {'std':>8} {'min':>8} {'max':>8}" for m in metrics)
          + (f" {'diverged':>8}" if args.kind == "training" else "")
          + (f" {'theory':>8}" if theory else ""))  # fmt: skip
    for r in rows:
        line = (f"{r['activation']:<12} {r['init']:<10} {r['sigma_w2']:>8.3g} {r['depth']:>6} "
                f"{r['width']:>6} {r['seeds']:>5}")  # fmt: skip
        for m in metrics:
            line += "".join(f" {r[f'{m}_{s}']:>{20 if s == 'mean' else 8}.4f}"
                            for s in ("mean", "std", "min", "max"))  # fmt: skip
        if args.kind == "training":
            line += f" {r['diverged']:>8}"
        if theory:
            line += f" {r['rate_theory']:>8.4f}"
        print(line)
    for rec in records:
        if rec.get("signal_lost"):
            print(f"{rec['signal_lost']}: {rec['activation']} depth {rec['depth']} init "
                  f"{rec['init']} sigma_w2 {rec['sigma_w2']:g} seed {rec['seed']}: the gradient "
                  f"at layer {rec['signal_lost_layer']} is "
                  f"{'not finite' if rec['signal_lost'] == 'overflow' else 'exactly 0'}; "
                  "left out of the rate statistics")  # fmt: skip
        if rec.get("diverged_step"):
            print(f"diverged: {rec['activation']} depth {rec['depth']} init {rec['init']} "
                  f"seed {rec['seed']} at step {rec['diverged_step']} in "
                  f"{rec['diverged_layer']}")  # fmt: skip
    if args.out:
        print(f"records in {args.out}")
    if args.plot:
        from jaxact.plotting import plot_sweep

        print(f"wrote {plot_sweep(rows, args.plot, x=args.x)}")
    return 0


def _check_bench(args: argparse.Namespace) -> None:
    from jaxact.files import claim_output_dir

    claim_output_dir(args.out, "bench", force=args.force, label="--out")


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """``jaxact bench``'s options (also ``python benchmarks/run.py``'s)."""
    parser.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    parser.add_argument("--out", default=os.path.join("benchmarks", "results"),
                        help="folder of the results file")  # fmt: skip
    parser.add_argument("--parts", nargs="+", default=list(BENCH_PARTS), choices=BENCH_PARTS,
                        metavar="PART", help="which parts: " + ", ".join(BENCH_PARTS))  # fmt: skip
    parser.add_argument("--force", action="store_true",
                        help="write into a folder of files jaxact did not write")  # fmt: skip


def _cmd_bench(args: argparse.Namespace) -> int:
    from jaxact.bench.runner import run_cli

    return run_cli(args)


def jax_devices_line() -> str:
    import jax

    devs = jax.devices()
    return (f"devices: {len(devs)} x {devs[0].device_kind} ({jax.default_backend()}), "
            f"{jax.process_count()} process(es)")  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="jaxact",
        description="Activation functions and the vanishing-gradient problem, measured in JAX.",
    )
    from jaxact import __version__

    parser.add_argument("--version", action="version", version=f"jaxact {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    inits = list(INIT_NAMES)
    defaults = _HelpFormatter

    def command(name, check, func, **kw):
        p = sub.add_parser(name, formatter_class=defaults, **kw)
        p.set_defaults(func=func, check=check)
        return p

    act = command(
        "activations", _check_activations, _cmd_activations,
        help="print the activation catalogue (range, max slope, phi'(0), saturation, gain)",
        description="Print the activation catalogue; with --plot, draw each activation and its "
        "derivative.",
    )  # fmt: skip
    act.add_argument("--plot", metavar="OUT.png", help="also draw every activation to this file")

    att = command(
        "attenuation", _check_attenuation, _cmd_attenuation,
        help="measure per-layer gradient norms of deep random MLPs",
        description="Measure how the gradient shrinks layer by layer in a deep random MLP "
        "(the same weights for every activation), and fit the per-layer rate.",
    )  # fmt: skip
    att.add_argument("--activation", nargs="+", default=["sigmoid", "tanh", "relu"],
                     metavar="NAME", help="registry names (see `jaxact activations`)")  # fmt: skip
    att.add_argument("--depth", type=int, default=50, help="hidden layers")
    att.add_argument("--width", type=int, default=256, help="units per hidden layer")
    att.add_argument("--init", default="he", choices=inits, metavar="NAME",
                     help="weight scheme: " + ", ".join(inits))  # fmt: skip
    att.add_argument("--sigma-w2", type=float, default=None,
                     help="weight variance x fan_in, for --init gaussian/orthogonal")  # fmt: skip
    att.add_argument("--sigma-b2", type=float, default=0.0, help="bias variance")
    att.add_argument("--batch", type=int, default=64, help="random inputs")
    att.add_argument("--seed", type=int, default=0, help="seed of the weights and inputs")
    att.add_argument("--plot", metavar="OUT.png", help="draw gradient norm against layer")

    th = command(
        "theory", _check_theory, _cmd_theory,
        help="mean-field predictions: q*, chi_1, depth scales, edge of chaos",
        description="Mean-field theory of signal propagation (Schoenholz et al. 2017) for the "
        "given activations, with an optional phase diagram and theory-vs-measurement figure.",
    )  # fmt: skip
    th.add_argument("--activation", nargs="+", default=["tanh", "relu", "sigmoid"],
                    metavar="NAME", help="elementwise registry names")  # fmt: skip
    th.add_argument("--sigma-w2", type=float, default=1.0, help="weight variance x fan_in")
    th.add_argument("--sigma-b2", type=float, default=0.05,
                    help="bias variance (note: attenuation's default is 0)")  # fmt: skip
    th.add_argument("--phase-diagram", metavar="OUT.png", help="draw chi_1 = 1 lines")
    th.add_argument("--compare", metavar="OUT.png",
                    help="measure chi_1 on random nets and plot it vs theory")  # fmt: skip
    th.add_argument("--depth", type=int, default=10, help="for --compare: layers")
    th.add_argument("--width", type=int, default=1000, help="for --compare: units per layer")
    th.add_argument("--seeds", type=int, default=4, help="for --compare: networks")

    st = command(
        "study", _check_study, _cmd_study,
        help="run the lesson's claims as experiments and write a report (the main job)",
        description="Run the lesson's claims as experiments; write report.html, report.md, "
        "figures/ and results.json into --out.",
    )  # fmt: skip
    size = st.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="small sizes (CI smoke test)")
    size.add_argument("--full", action="store_true", help="bigger widths and depths (for a GPU)")
    st.add_argument("--out", default="jaxact-study", help="output directory")
    st.add_argument("--resume", action="store_true", help="skip experiments already done")
    st.add_argument("--force", action="store_true",
                    help="write into a folder of files jaxact did not write")  # fmt: skip
    ids = list(STUDY_EXPERIMENTS)
    st.add_argument("--only", nargs="+", metavar="ID", choices=ids,
                    help="run only these experiments: " + ", ".join(ids))  # fmt: skip
    st.add_argument("--seed", type=int, default=0, help="seed of every experiment")
    st.add_argument("--no-progress", action="store_true", help="no progress bars")

    sw = command(
        "sweep", _check_sweep, _cmd_sweep,
        help="attenuation or training over a grid of activations, depths, widths, inits, seeds",
        description="Measure the per-layer gradient factor (or train) over a grid; the networks "
        "of cells that share shapes are vmapped and sharded over every device JAX sees.",
    )  # fmt: skip
    sw.add_argument("--activation", nargs="+", default=["sigmoid", "tanh", "relu", "gelu"],
                    metavar="NAME", help="registry names")  # fmt: skip
    sw.add_argument("--depth", nargs="+", type=int, default=[10, 30, 100], help="hidden layers")
    sw.add_argument("--width", nargs="+", type=int, default=[256], help="units per layer")
    sw.add_argument("--init", nargs="+", default=["he"], choices=inits, metavar="NAME",
                    help="weight schemes: " + ", ".join(inits))  # fmt: skip
    sw.add_argument("--seeds", type=int, default=8, help="number of seeds (0 .. N-1)")
    sw.add_argument("--sigma-w2", nargs="+", type=float, default=None,
                    help="for gaussian/orthogonal init; several values: a grid axis")  # fmt: skip
    sw.add_argument("--sigma-b2", nargs="+", type=float, default=[0.0], help="bias variance")
    sw.add_argument("--kind", choices=["attenuation", "training"], default="attenuation",
                    help="what each cell measures")  # fmt: skip
    sw.add_argument("--batch", type=int, default=32, help="attenuation: inputs per network")
    sw.add_argument("--optimizer", choices=OPTIMIZER_NAMES, default=DEFAULT_OPTIMIZER_NAME,
                    help="training")  # fmt: skip
    sw.add_argument("--lr", type=float, default=DEFAULT_LEARNING_RATE,
                    help="training: learning rate")  # fmt: skip
    sw.add_argument("--steps", type=int, default=200, help="training: full-batch steps")
    sw.add_argument("--n-points", type=int, default=256, help="training: two-spirals points")
    sw.add_argument("--max-memory", type=float, default=None, metavar="MiB",
                    help="memory per device per program (default: half the free)")  # fmt: skip
    sw.add_argument("--plan", action="store_true", help="print the programs and chunks; stop")
    sw.add_argument("--out", metavar="FILE.jsonl", help="stream records here (one per line)")
    sw.add_argument("--resume", action="store_true", help="skip cells already in --out")
    sw.add_argument("--force", action="store_true",
                    help="replace what --out holds instead of refusing it")  # fmt: skip
    sw.add_argument("--plot", metavar="OUT.png", help="metric against --x, bands over seeds")
    sw.add_argument("--x", choices=["depth", "width", "sigma_w2", "sigma_b2"], default="depth",
                    help="the --plot's x axis")  # fmt: skip
    sw.add_argument("--theory", action="store_true",
                    help="print (and --plot: draw) the mean-field rate prediction")  # fmt: skip
    sw.add_argument("--no-progress", action="store_true", help="no progress bar")

    bench = command(
        "bench", _check_bench, _cmd_bench,
        help="benchmarks: activations, MLP steps, compile time, attenuation, PyTorch",
        description="Run the benchmarks; write benchmarks/results/<backend>-<device>.json, a "
        "markdown table and plots.",
    )  # fmt: skip
    add_bench_arguments(bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # From the shell (argv None), `study` spreads its programs over every CPU core; called
    # from Python (a notebook, the tests) it leaves the process's JAX devices alone.
    args.every_core = argv is None
    if args.command is None:
        parser.print_help()
        return 2
    if args.check is not None:
        # A user's mistake (a bad value, a path that cannot be written, a grid too big for the
        # memory) is one line and exit status 2, before any computation; what fails later is a
        # real error and keeps its traceback.
        try:
            args.check(args)
        except (ValueError, TypeError, MemoryError) as err:  # MemoryError: a sweep's estimate
            print(f"jaxact {args.command}: error: {err}".rstrip("."), file=sys.stderr)
            return 2
    return _run(args, sys.argv[1:] if argv is None else list(argv))


def _run(args: argparse.Namespace, argv: list[str]) -> int:
    """The command, with what can only happen while it runs as one line each: another process
    took the output (exit 2), a write failed (exit 1), Ctrl-C (exit 130)."""
    import shlex

    from jaxact.files import OutputRefused, WriteFailed
    from jaxact.progress import Interrupted

    def say(text: str) -> None:
        print(f"\njaxact {args.command}: {text}".rstrip("."), file=sys.stderr)

    resume = shlex.join(["jaxact", *argv, *([] if "--resume" in argv else ["--resume"])])
    try:
        return args.func(args)
    except Interrupted as err:
        say(f"{err}; resume with: {resume}")
        return 130
    except KeyboardInterrupt:
        say("interrupted" + ("; nothing was written" if args.command == "bench" else ""))
        return 130
    except OutputRefused as err:
        say(f"error: {err}")
        return 2
    except WriteFailed as err:
        hint = f"; free some space and resume with: {resume}" if args.command in (
            "study", "sweep") else ""  # fmt: skip
        say(f"error: {err}{hint}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
