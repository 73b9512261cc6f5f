"""The wheel is what operators install: build it, install it into a fresh venv, run it.

A checkout finds the templates beside the package; an installed wheel must carry its own
copy. This test proves the installed package renders a digest and writes the feed
stylesheet from an empty folder, with nothing of the checkout on its path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from .conftest import ROOT, SEED, write_config

pytestmark = pytest.mark.slow


def run(*args: str | Path, cwd: Path | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PUBLISHER_", "PYTHON"))}
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


def test_installed_wheel_renders_a_digest_and_the_feed_stylesheet(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, ROOT)
    [wheel] = dist.glob("publisher-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    run(bin_dir / "pip", "install", "-q", wheel)

    site = tmp_path / "site"  # an empty folder: no checkout, no templates beside it
    (site / "content").mkdir(parents=True)
    shutil.copy(ROOT / "content" / SEED, site / "content" / SEED)
    config = write_config(site)
    where = run(
        bin_dir / "python",
        "-c",
        "import publisher.resources as r; print(r.templates('email'))",
        cwd=site,
    )
    assert Path(where.strip()).is_relative_to(env_dir), where  # the wheel's own copy

    run(
        bin_dir / "publisher", "subscribers", "add", "ann@example.com", "--config", config, cwd=site
    )
    out = run(bin_dir / "publisher", "run", "--once", "--config", config, cwd=site)
    assert "1 sent" in out, out

    [message] = (site / "outbox" / "new").iterdir()
    assert b"US Under Secretary John Bass" in message.read_bytes().replace(b"=\n", b"")
    # The stylesheet from the wheel, with the way back to this site's feed index filled in.
    template = (ROOT / "templates" / "feeds" / "feed.xsl").read_bytes()
    assert b"{{index_url}}" in template
    assert (site / "feeds" / "feed.xsl").read_bytes() == template.replace(
        b"{{index_url}}", b"/feeds/index.html"
    )
    assert list((site / "archive").glob("*/*.html")), "the archive page was not rendered"
