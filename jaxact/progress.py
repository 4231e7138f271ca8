"""Progress of a long job (the study) as a newcomer should see it, on a terminal or in a log.

On a terminal: one tqdm bar over the experiments, whose text names the running experiment, its
current stage and the training done so far, refreshed while the experiment runs (at most twice
a second). When the stream is not a terminal (CI, ``| tee log``, ``nohup``): one line when each
experiment starts and ends, one per stage of a long experiment, and a line every
``heartbeat`` seconds while training runs, so that a log never goes quiet for minutes.

>>> import io
>>> from jaxact.progress import Progress
>>> log = io.StringIO()
>>> p = Progress(2, stream=log, prefix="jaxact study")
>>> p.start("flat"); p.stage("training"); p.finish("supported", 1.5); p.close()
>>> print(log.getvalue(), end="")
jaxact study: [1/2] flat ...
jaxact study: [1/2] flat: training
jaxact study: [1/2] flat: supported (1.5 s)
"""

from __future__ import annotations

import sys
import time
from typing import IO

__all__ = ["Interrupted", "Progress"]


class Interrupted(KeyboardInterrupt):
    """A long run stopped by Ctrl-C part way: how much of it is done.

    Raised (from the ``KeyboardInterrupt``) by :func:`~jaxact.study.run_study` and
    :func:`~jaxact.sweeps.sweep`; everything counted in ``done`` is in the output, whole, and
    ``resume=True`` (``--resume``) continues from there. The ``jaxact`` command prints it as one
    line and exits with status 130.

    Attributes:
      done: units finished and written.
      total: units the run would have done.
      unit: what is counted (``"experiments"``, ``"grid cells"``).

    >>> from jaxact.progress import Interrupted
    >>> str(Interrupted(3, 9, "experiments"))
    'interrupted; 3 of 9 experiments done'
    """

    def __init__(self, done: int, total: int, unit: str):
        super().__init__(f"interrupted; {done} of {total} {unit} done")
        self.done, self.total, self.unit = done, total, unit


class Progress:
    """Progress over ``total`` experiments, written to ``stream`` (stderr by default).

    Args:
      total: how many experiments will run (resumed ones included).
      stream: where to write; a terminal gets a bar, anything else lines.
      prefix: the start of every line (``jaxact study``).
      heartbeat: seconds between lines while training runs, off a terminal.
      enabled: ``False`` writes nothing at all (``--no-progress``).
    """

    def __init__(self, total: int, *, stream: IO[str] | None = None, prefix: str = "progress",
                 heartbeat: float = 30.0, enabled: bool = True):  # fmt: skip
        self.stream = sys.stderr if stream is None else stream
        self.total, self.prefix, self.heartbeat = total, prefix, heartbeat
        self.enabled = enabled
        is_tty = getattr(self.stream, "isatty", lambda: False)()
        self.bar = None
        if enabled and is_tty:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="experiments", unit="exp", file=self.stream)
        self.index = 0
        self.name = self.stage_name = ""
        self.steps = self.runs = 0
        self.t_start = self.t_shown = time.perf_counter()

    # -- what the study reports ------------------------------------------------------------
    def start(self, name: str) -> None:
        """Experiment ``name`` begins."""
        self.index += 1
        self.name, self.stage_name = name, ""
        self.steps = self.runs = 0
        self.t_start = self.t_shown = time.perf_counter()
        self._line(" ...")
        self._refresh(force=True)

    def stage(self, text: str) -> None:
        """The running experiment enters a stage (``training 36 networks``)."""
        self.stage_name = text
        self._line(f": {text}")
        self._refresh(force=True)

    def add_steps(self, n: int) -> None:
        """``n`` more training steps done."""
        self.steps += n
        self._tick()

    def add_runs(self, n: int) -> None:
        """``n`` more networks trained to the end."""
        self.runs += n
        self._tick()

    def finish(self, verdict: str, seconds: float) -> None:
        """The running experiment ended with ``verdict`` after ``seconds``."""
        self._line(f": {verdict} ({seconds:.1f} s)")
        if self.bar is not None:
            self.bar.update(1)

    def resumed(self, name: str, verdict: str) -> None:
        """Experiment ``name`` is taken from an earlier run."""
        self.index += 1
        self.name = name
        self._line(f": {verdict} (resumed from an earlier run)")
        if self.bar is not None:
            self.bar.set_postfix_str(f"{name} (resumed)")
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    # -- output --------------------------------------------------------------------------------
    def _done_so_far(self) -> str:
        parts = [f"{self.steps:,} steps"] if self.steps else []
        parts += [f"{self.runs:,} networks trained"] if self.runs else []
        return ", ".join(parts)

    def _line(self, text: str) -> None:
        if self.enabled and self.bar is None:
            print(f"{self.prefix}: [{self.index}/{self.total}] {self.name}{text}",
                  file=self.stream, flush=True)  # fmt: skip

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.bar is None and self.enabled and now - self.t_shown >= self.heartbeat:
            self.t_shown = now
            stage = f" ({self.stage_name})" if self.stage_name else ""
            self._line(f"{stage}: {self._done_so_far()} so far, {now - self.t_start:.0f} s")
        self._refresh()

    def _refresh(self, force: bool = False) -> None:
        if self.bar is None:
            return
        now = time.perf_counter()
        if not force and now - self.t_shown < 0.5:
            return
        self.t_shown = now
        text = ", ".join(x for x in (self.name, self.stage_name, self._done_so_far()) if x)
        self.bar.set_postfix_str(text, refresh=True)
