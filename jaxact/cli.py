"""The ``jaxact`` command line: ``jaxact activations`` (more subcommands come with later work)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import jax.numpy as jnp

from jaxact.activations import ACTIVATIONS


def activations_table(names: Sequence[str] | None = None) -> str:
    """The catalogue as a plain-text table: name, range, max slope, phi'(0), saturating, gain."""
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jaxact",
        description="Activation functions and the vanishing-gradient problem, measured in JAX.",
    )
    from jaxact import __version__

    parser.add_argument("--version", action="version", version=f"jaxact {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    act = sub.add_parser(
        "activations",
        help="print the activation catalogue (range, max slope, phi'(0), saturation, gain)",
        description="Print the activation catalogue; with --plot, draw each activation and its "
        "derivative.",
    )
    act.add_argument("--plot", metavar="OUT.png", help="also draw every activation to this file")
    act.set_defaults(func=_cmd_activations)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
