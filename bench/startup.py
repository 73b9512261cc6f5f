"""Benchmark: how long a command takes to start (what every cron-style run pays).

Not a test. Run it with ``.venv/bin/python bench/startup.py``.

Times, as subprocesses (the real CLI), best of ``--runs``: the bare interpreter (the
baseline: nothing can start faster), ``publisher --help`` (imports only what the command
tree needs), and ``publisher subscribers list`` on a small project (a command that reads the
config and opens the database). The last line is ``bench startup: <ms> ms`` for ``--help``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from command import PUBLISHER, run  # noqa: E402


def best_of(command: list[str], runs: int, cwd: Path) -> float:
    """The fastest of ``runs`` runs, in milliseconds (the least disturbed by other work)."""
    return min(run(command, cwd)[0] for _ in range(runs)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    try:
        shutil.copytree(ROOT / "content", folder / "content")
        shutil.copy(ROOT / "config.toml", folder / "config.toml")
        run([*PUBLISHER, "subscribers", "add", "ann@example.com"], folder)
        bare = best_of([sys.executable, "-c", "pass"], args.runs, folder)
        print(f"baseline, the interpreter alone: {bare:.0f} ms")
        listing = best_of([*PUBLISHER, "subscribers", "list"], args.runs, folder)
        print(
            f"publisher subscribers list (reads the config, opens the database): {listing:.0f} ms"
        )
        helping = best_of([*PUBLISHER, "--help"], args.runs, folder)
        print(f"publisher --help: {helping:.0f} ms (target 300 ms)")
        print(f"bench startup: {helping:.0f} ms")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
