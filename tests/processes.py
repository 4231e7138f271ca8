"""Running a piece of Python in a fresh interpreter, for tests whose measurement depends on the
process (its devices, its heap): the helper those tests share."""

import json
import subprocess
import sys


def last_json_line(code: str, *, env: dict[str, str] | None = None, timeout: float = 300):
    """Run ``code`` with this interpreter in a new process and return its last line of standard
    output, read as JSON. The process must exit 0; if it does not, the assertion shows the end
    of its standard error."""
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert lines, f"the process printed nothing; its standard error ends: {proc.stderr[-3000:]}"
    return json.loads(lines[-1])
