"""Where the built-in templates are, for an installed wheel and a source checkout alike.

The project keeps ``templates/`` at its top level; the wheel carries it into the package as
``publisher/templates`` (``force-include`` in pyproject.toml). ``importlib.resources`` finds
that copy in an installed package; in a checkout (or an editable install) the package folder
has none, and the top-level folder beside it is the same content.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent / "templates"


def templates(kind: str) -> Path:
    """The folder of built-in templates of one kind: ``email`` or ``feeds``."""
    packaged = files("publisher").joinpath("templates", kind)
    if packaged.is_dir():
        return Path(str(packaged))
    return _CHECKOUT / kind
