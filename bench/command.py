"""Running the real command line from a benchmark: one place that starts, times and measures it.

Each run gets the caller's environment minus every ``PUBLISHER_*`` variable, so a setting
exported in the shell cannot change what a benchmark measures.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

PUBLISHER = [sys.executable, "-m", "publisher"]


def run(command: list[str], cwd: Path | None = None) -> tuple[float, float, str]:
    """(seconds, peak MiB of that child, its output) of ``command``; it must exit 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
    started = time.perf_counter()
    child = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert child.stdout is not None
    output = child.stdout.read().decode()
    _, status, usage = os.wait4(child.pid, 0)
    took = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    assert child.returncode == 0, output
    return took, usage.ru_maxrss / 1024, output
