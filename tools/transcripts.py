"""Run the command-line sessions the documentation shows and commit what they printed.

Each session is one ``jaxact`` command; its output (stdout and stderr, as a terminal shows
them), exit status, wall time and the device it ran on go to ``docs/transcripts.json``, from
which ``tools/readme_numbers.py`` writes the pages' ``transcript-NAME`` blocks (and its
``--check``, run by the test suite, catches a page that drifted from the file). The commands
that draw a figure rewrite it under ``docs/``.

Run from the repository root: python tools/transcripts.py [NAME ...]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "transcripts.json"

#: name: the command, as a user types it (run from the repository root).
SESSIONS = {
    "attenuation": "jaxact attenuation --activation sigmoid relu tanh --depth 50 --width 256 "
    "--plot docs/attenuation.png",
    "attenuation-deep": "jaxact attenuation --activation relu --depth 1000 --width 256",
    "bad-depth": "jaxact attenuation --depth 0",
    "too-big": "jaxact attenuation --depth 100000 --width 256",
    "sweep-depth": "jaxact sweep --activation sigmoid tanh relu gelu --depth 10 30 100 "
    "--width 256 --seeds 8 --theory --plot docs/sweep_depth.png",
    "sweep-sigma-w2": "jaxact sweep --activation tanh relu selu --init gaussian --sigma-w2 0.5 "
    "1 1.5 2 3 4 --depth 30 --width 256 --seeds 8 --x sigma_w2 --theory "
    "--plot docs/sweep_sigma_w2.png",
    "sweep-training": "jaxact sweep --kind training --activation sigmoid tanh relu --depth 2 5 "
    "10 20 --width 32 --seeds 4 --optimizer adam --lr 0.01 --steps 300 "
    "--plot docs/sweep_training.png",
    "theory": "jaxact theory --activation tanh relu gelu selu sigmoid --sigma-w2 1.0 "
    "--sigma-b2 0.05 --phase-diagram docs/phase_diagram.png "
    "--compare docs/theory_vs_measurement.png --depth 10",
}


def device() -> dict:
    """The machine, as the benchmark results name it."""
    from jaxact.bench.timing import device_info

    info = device_info()
    return {k: info[k] for k in ("backend", "device_kind", "cpu_count", "jax")}


def run(command: str) -> dict:
    """Run one session; what it printed, its exit status and wall time."""
    argv = shlex.split(command)
    env = {**os.environ, "COLUMNS": "200"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "jaxact", *argv[1:]], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    wall = time.perf_counter() - start
    return {"command": command, "output": done.stdout + done.stderr, "exit": done.returncode,
            "wall_s": round(wall, 1)}  # fmt: skip


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "names", nargs="*", help=f"sessions to rerun (default all: {list(SESSIONS)})"
    )
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in SESSIONS]
    if unknown:
        parser.error(f"unknown session(s) {unknown}; use {list(SESSIONS)}")
    saved = json.loads(OUT.read_text()) if OUT.exists() else {"sessions": {}}
    saved["device"] = device()
    for name in args.names or SESSIONS:
        print(f"{name}: {SESSIONS[name]}", flush=True)
        saved["sessions"][name] = run(SESSIONS[name]) | {"device": saved["device"]}
        print(f"  exit {saved['sessions'][name]['exit']}, {saved['sessions'][name]['wall_s']} s")
    saved["sessions"] = {n: saved["sessions"][n] for n in SESSIONS if n in saved["sessions"]}
    OUT.write_text(json.dumps(saved, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
