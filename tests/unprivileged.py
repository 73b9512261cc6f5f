"""Run ``publisher`` as a real process whose file permissions count.

Tests of unwritable outboxes and read-only databases need a user that permissions stop. CI and
this machine run as root, which no mode bit stops, so as root the command runs as ``nobody``
(``setpriv``) in a project folder that ``nobody`` owns; as anyone else it runs as that user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import ROOT, write_config

NOBODY = 65534


def is_root() -> bool:
    return os.geteuid() == 0


def give_away(path: Path) -> None:
    """Make ``path`` (recursively) belong to the user the command runs as."""
    if not is_root():
        return
    for folder, dirs, files in os.walk(path):
        for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
            os.lchown(name, NOBODY, NOBODY)


@pytest.fixture
def own_project() -> Iterator[Path]:
    """A copy of the sample project in a folder the unprivileged user can reach and owns."""
    base = Path(tempfile.mkdtemp(prefix="publisher-perm-"))
    base.chmod(0o755)  # /tmp/pytest-of-root is closed to other users; this folder is not
    try:
        shutil.copytree(ROOT / "content", base / "content")
        shutil.copytree(ROOT / "media", base / "media")
        write_config(base)
        give_away(base)
        yield base
    finally:
        for folder, dirs, _ in os.walk(base):  # a test may have left folders closed
            for name in dirs:
                os.chmod(os.path.join(folder, name), 0o755)
        shutil.rmtree(base, ignore_errors=True)


def run_publisher(
    project: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``publisher ARGS --config project/config.toml`` as a process; output captured as text."""
    command = [sys.executable, "-m", "publisher", *args, "--config", str(project / "config.toml")]
    if is_root():
        command = [
            "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command
        ]  # fmt: skip
    return subprocess.run(
        command,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)},
        check=False,
    )
