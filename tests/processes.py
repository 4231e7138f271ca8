"""Running a piece of Python in a fresh interpreter, for tests whose measurement depends on the
process (its devices, its heap), and reading the JSON line such a script prints last: the
helpers those tests share."""

import json
import subprocess
import sys


def last_json(stdout: str, stderr: str = ""):
    """The last line of a script's standard output, read as JSON (the script prints its result
    last, after whatever else it prints). ``stderr`` is shown if there is no line."""
    lines = stdout.strip().splitlines()
    assert lines, f"the script printed nothing; its standard error ends: {stderr[-3000:]}"
    return json.loads(lines[-1])


def last_json_line(code: str, *, env: dict[str, str] | None = None, timeout: float = 300):
    """Run ``code`` with this interpreter in a new process and return :func:`last_json` of its
    output. The process must exit 0; if it does not, the assertion shows the end of its
    standard error."""
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return last_json(proc.stdout, proc.stderr)
