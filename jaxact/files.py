"""Writing result files safely: nothing lost, nothing clobbered.

Every file jaxact writes goes through this module:

* :func:`atomic_write` replaces a file all or nothing (a temporary file in the same folder,
  ``fsync``, ``rename``); a figure is rendered in memory and written the same way
  (:func:`save_figure_atomically`).
* :func:`append_lines` appends to a JSON-lines file and checks that every byte went out; a
  short write is undone, so the file always ends on a whole line.
* :func:`claim_output_dir` refuses, before any work, a folder holding files jaxact did not write
  (or another kind of run), names that clash with jaxact's own, unwritable folders and
  anything that is not a plain folder; :func:`check_output_file` does the same for one file.
* :func:`hold_output` keeps one writer per output: a second process is refused with one line.

A failed write is a :class:`WriteFailed` (an ``OSError``) whose message names the file and
says that what was written before is intact; a refused output is an :class:`OutputRefused`
(a ``ValueError``).
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import stat
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

try:  # POSIX; elsewhere (Windows) one writer per output is not enforced
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "MARKER",
    "SCHEMA_VERSION",
    "OutputBusy",
    "OutputRefused",
    "WriteFailed",
    "append_lines",
    "atomic_write",
    "check_parent",
    "check_output_file",
    "claim_output_dir",
    "file_mode",
    "hold_output",
    "mark_output_dir",
    "save_figure_atomically",
]

#: The version of every results file's layout (study results, sweep records, bench results).
#: A file of another version is recomputed (study, sweep) or replaced (bench) with a warning.
SCHEMA_VERSION = 1

#: The file that marks a folder as a jaxact run's output: ``{"kind": ..., "schema": ...}``.
MARKER = ".jaxact-run"


class OutputRefused(ValueError):
    """An output jaxact will not write to (a user's files, a clash, a non-regular file)."""


class OutputBusy(OutputRefused):
    """Another process is writing the same output."""


class WriteFailed(OSError):
    """A write that did not complete (disk full, a file-size limit, an I/O error). What was
    written before it is intact. ``errno`` is the system's; the message names the file."""

    def __str__(self) -> str:
        return str(self.strerror)


def file_mode() -> int:
    """The mode a new file gets from ``open``: ``0o666`` less the process's umask.

    Returns:
      The permission bits, e.g. ``0o644`` under the common umask ``0o022``.

    >>> import os
    >>> from jaxact.files import file_mode
    >>> old = os.umask(0o022)
    >>> oct(file_mode())
    '0o644'
    >>> _ = os.umask(old)
    """
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _failed(path: Path, err: OSError, what: str = "") -> WriteFailed:
    reason = err.strerror or str(err) or type(err).__name__
    return WriteFailed(err.errno or errno.EIO,
                       f"could not write {path}: {reason}{what}; files written before are "
                       "intact")  # fmt: skip


def _write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is out; a write that makes no progress is ENOSPC."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        if n <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[n:]


def atomic_write(path: str | Path, data: str | bytes) -> None:
    """Replace ``path`` with ``data``, all or nothing: a temporary file, fsync, rename.

    The file gets the permissions any new file gets (the umask's, as ``open`` gives), not the
    temporary file's private ``0600``.

    Args:
      path: the file to write (its folder is created if missing).
      data: the whole content (``str`` is written as UTF-8).

    Returns:
      None; either ``path`` holds ``data`` or it is unchanged.

    Raises:
      TypeError: ``data`` is neither ``str`` nor ``bytes``.
      WriteFailed: the disk is full, a size limit was hit, or another I/O error; ``path`` is
        unchanged and no temporary file is left.

    >>> import pathlib, tempfile
    >>> from jaxact.files import atomic_write
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "sub" / "results.json"
    >>> atomic_write(p, "{}")
    >>> p.read_text(), [q.name for q in p.parent.iterdir()]  # no temporary file left
    ('{}', ['results.json'])
    """
    if isinstance(data, str):
        data = data.encode()
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"atomic_write: data must be str or bytes, got {type(data).__name__}.")
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise _failed(path, err) from None
    try:
        try:
            _write_all(fd, bytes(data))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise _failed(path, err) from None
        raise


def save_figure_atomically(fig, path: str | Path, **savefig) -> Path:
    """Render a matplotlib figure in memory, then :func:`atomic_write` it: a figure file is
    whole or absent, never truncated. The format comes from ``path``'s suffix unless
    ``savefig`` names one.

    Args:
      fig: the matplotlib figure (left open: the caller closes it).
      path: the file to write.
      **savefig: passed to ``fig.savefig`` (``dpi``, ``bbox_inches``, ``format``).

    Returns:
      ``path`` as a :class:`~pathlib.Path`.

    Raises:
      WriteFailed: as :func:`atomic_write`; no partial figure is left.

    >>> import pathlib, tempfile
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from jaxact.files import save_figure_atomically
    >>> fig = plt.figure()
    >>> p = save_figure_atomically(fig, pathlib.Path(tempfile.mkdtemp()) / "f.png", dpi=50)
    >>> p.read_bytes()[:4]
    b'\\x89PNG'
    >>> plt.close(fig)
    """
    path = Path(path)
    buf = io.BytesIO()
    savefig.setdefault("format", path.suffix.lstrip(".").lower() or None)
    fig.savefig(buf, **savefig)
    atomic_write(path, buf.getvalue())
    return path


def append_lines(path: str | Path, lines: list[str]) -> None:
    """Append whole lines (``\\n`` added) to ``path``, checked to the last byte.

    One ``write`` of everything on an ``O_APPEND`` file, continued until every byte is out; if
    the disk fills (or a size limit is hit) part way, the file is cut back to its old length,
    so it never ends in a torn line.

    Args:
      path: the JSON-lines file (created, with its folder, if missing).
      lines: the lines, without their newlines.

    Returns:
      None; ``path`` ends with every line, or holds exactly what it held before.

    Raises:
      WriteFailed: the lines could not all be written; ``path`` holds what it held before.

    >>> import pathlib, tempfile
    >>> from jaxact.files import append_lines
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "r.jsonl"
    >>> append_lines(p, ['{"a": 1}']); append_lines(p, ['{"a": 2}'])
    >>> p.read_text().splitlines()
    ['{"a": 1}', '{"a": 2}']
    """
    if not lines:
        return
    path = Path(path)
    data = "".join(line + "\n" for line in lines).encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)  # less the umask
    except OSError as err:
        raise _failed(path, err) from None
    try:
        start = os.fstat(fd).st_size
        try:
            _write_all(fd, data)
        except BaseException as err:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            if isinstance(err, OSError):
                raise _failed(path, err, f" ({len(lines)} record(s) not appended)") from None
            raise
    finally:
        os.close(fd)


def _kind_of(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISDIR, "a directory"), (stat.S_ISREG, "a file")):  # fmt: skip
        if test(mode):
            return name
    return "not a regular file"


def check_parent(label: str, path: str | Path) -> None:
    """Check that the folder of ``path`` exists or can be made: its nearest existing ancestor
    is a writable folder (missing folders are created when the file is written).

    Args:
      label: how messages name the path (``"--plot"``).
      path: the file or folder to be written.

    Returns:
      None.

    Raises:
      OutputRefused: an ancestor is a file, or the nearest existing one cannot be written.

    >>> from jaxact.files import check_parent
    >>> check_parent("--plot", "/proc/version/x.png")
    Traceback (most recent call last):
    ...
    jaxact.files.OutputRefused: --plot /proc/version/x.png: /proc/version is not a directory
    """
    p = Path(path).absolute()
    for up in p.parents:
        if up.exists():
            if not up.is_dir():
                raise OutputRefused(f"{label} {path}: {up} is not a directory")
            if not os.access(up, os.W_OK | os.X_OK):
                raise OutputRefused(f"{label} {path}: cannot write in {up}")
            return


def check_output_file(path: str | Path, label: str = "out") -> Path:
    """Check, before any work, that ``path`` can be a jaxact output file: absent (and creatable)
    or a writable regular file - never a FIFO, a device or a folder.

    Args:
      path: the file.
      label: how messages name it (``"--out"`` on the command line).

    Returns:
      ``path`` as a :class:`~pathlib.Path`.

    Raises:
      OutputRefused: an empty path, a non-regular file, a file or folder that cannot be written.

    >>> from jaxact.files import check_output_file
    >>> check_output_file("/dev/zero", "--out")
    Traceback (most recent call last):
    ...
    jaxact.files.OutputRefused: --out /dev/zero is a character device, not a regular file
    """
    if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        raise OutputRefused(f"{label} must name a file, got {path!r}")
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        check_parent(label, path)
        return path
    if not stat.S_ISREG(st.st_mode):
        raise OutputRefused(f"{label} {path} is {_kind_of(st.st_mode)}, not a regular file")
    if not os.access(path, os.R_OK | os.W_OK):
        raise OutputRefused(f"{label} {path}: cannot read and write it")
    return path


def _read_marker(out: Path) -> dict | None:
    try:
        data = json.loads((out / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def claim_output_dir(path: str | Path, kind: str, layout: Mapping[str, str] | None = None, *,
                     force: bool = False, label: str = "out") -> Path:  # fmt: skip
    """Check, before any work, that jaxact may write a ``kind`` run into the folder ``path``.

    Accepted: a folder that does not exist yet (its parent writable), an empty folder, or a
    folder marked (:data:`MARKER`) by an earlier jaxact run of the same kind. Refused unless
    ``force``: a folder holding files jaxact did not write, or another kind of run's output.
    Always refused: an empty path, something other than a folder, a folder that cannot be
    written, and a name in ``layout`` that exists as the other type (a file called
    ``figures`` where jaxact writes a folder).

    Args:
      path: the output folder.
      kind: the run kind recorded in the marker (``"study"``, ``"bench"``).
      layout: the names jaxact writes in the folder: ``{"results": "dir", "report.md":
        "file", ...}``.
      force: write into a folder of someone else's files (same-named files are replaced,
        others left alone).
      label: how messages name the folder (``"--out"`` on the command line).

    Returns:
      ``path`` as a :class:`~pathlib.Path` (nothing is created: see :func:`mark_output_dir`).

    Raises:
      OutputRefused: the folder is refused; the message says why and what to do.

    >>> import pathlib, tempfile
    >>> from jaxact.files import claim_output_dir
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "notes.txt").write_text("mine")
    >>> claim_output_dir(d, "study", label="--out")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    jaxact.files.OutputRefused: --out ... holds files jaxact did not write (notes.txt); ...
    """
    if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        raise OutputRefused(f"{label} must name a folder, got {path!r}")
    out = Path(path)
    if not out.exists():
        if out.is_symlink():
            raise OutputRefused(f"{label} {out} is a broken symbolic link")
        check_parent(label, out)
        return out
    if not out.is_dir():
        raise OutputRefused(f"{label} {out} is {_kind_of(out.stat().st_mode)}, not a folder")
    if not os.access(out, os.R_OK | os.W_OK | os.X_OK):
        raise OutputRefused(f"{label} {out}: cannot write in {out.absolute()}")
    entries = sorted(p.name for p in out.iterdir() if p.name != MARKER)
    marker = _read_marker(out)
    if entries and not force:
        if marker is None:
            shown = ", ".join(entries[:4]) + (f" and {len(entries) - 4} more" if len(entries) > 4
                                              else "")  # fmt: skip
            raise OutputRefused(f"{label} {out} holds files jaxact did not write ({shown}); "
                                "choose a new or empty folder, or add --force (force=True) to "
                                "write into it")  # fmt: skip
        if marker.get("kind") != kind:
            raise OutputRefused(f"{label} {out} holds a jaxact {marker.get('kind')!r} run, not "
                                f"a {kind!r} run; choose another folder, or add --force "
                                "(force=True)")  # fmt: skip
    for name, want in (layout or {}).items():
        p = out / name
        if p.exists() or p.is_symlink():
            is_dir = p.is_dir()
            if (want == "dir") != is_dir:
                have, need = ("a folder", "a file") if is_dir else ("a file", "a folder")
                raise OutputRefused(f"{label} {out}: {name} is {have}, where jaxact writes "
                                    f"{need}; move it away")  # fmt: skip
            if not os.access(p, os.W_OK | (os.X_OK if is_dir else 0)):
                raise OutputRefused(f"{label} {out}: cannot write {p}")
    return out


def mark_output_dir(path: str | Path, kind: str) -> None:
    """Create the folder if needed and mark it as a jaxact ``kind`` run's output.

    The marker (:data:`MARKER`) is what :func:`claim_output_dir` looks for: a later run of the
    same kind may write there, anything else is refused without ``force``.

    Args:
      path: the output folder.
      kind: the run kind (``"study"``, ``"bench"``).

    Returns:
      None.

    >>> import json, pathlib, tempfile
    >>> from jaxact.files import MARKER, mark_output_dir
    >>> d = pathlib.Path(tempfile.mkdtemp()) / "run"
    >>> mark_output_dir(d, "study")
    >>> json.loads((d / MARKER).read_text())
    {'kind': 'study', 'schema': 1}
    """
    out = Path(path)
    marker = _read_marker(out) if out.is_dir() else None
    if marker != {"kind": kind, "schema": SCHEMA_VERSION}:
        atomic_write(out / MARKER, json.dumps({"kind": kind, "schema": SCHEMA_VERSION}) + "\n")


@contextlib.contextmanager
def hold_output(path: str | Path, label: str = "out") -> Iterator[None]:
    """One writer per output: an exclusive ``flock`` on the folder (or file) while the block
    runs. A file is created if missing; a folder must exist.

    The lock goes with the process: a killed run leaves no stale lock behind.

    Args:
      path: the output folder or file.
      label: how messages name it (``"--out"``).

    Returns:
      A context manager; the lock is held inside the ``with`` block.

    Raises:
      OutputBusy: another process holds it (at once, without waiting).

    >>> import pathlib, tempfile
    >>> from jaxact.files import hold_output
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with hold_output(d, "--out"):
    ...     with hold_output(d, "--out"):  # a second writer, even in the same process
    ...         pass  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    jaxact.files.OutputBusy: --out ...: another jaxact process is writing there; ...
    """
    p = Path(path)
    if fcntl is None:  # pragma: no cover
        yield
        return
    if p.is_dir():
        fd = os.open(p, os.O_RDONLY)
    else:
        try:
            fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as err:
            raise _failed(p, err) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputBusy(f"{label} {p}: another jaxact process is writing there; wait for "
                             "it to finish or choose another output") from None  # fmt: skip
        yield
    finally:
        os.close(fd)  # releases the lock
