"""The picture in docs/architecture.md stays true: no import crosses the allowed directions."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from .conftest import ROOT

PACKAGE = ROOT / "publisher"
DOC = ROOT / "docs" / "architecture.md"


def allowed_imports() -> dict[str, set[str]]:
    """component -> what it may import, read from the table under the ``imports`` marker."""
    text = DOC.read_text(encoding="utf-8").split("<!-- imports:", 1)[1]
    rules: dict[str, set[str]] = {}
    for line in text.splitlines()[1:]:
        if not line.startswith("|"):
            if rules:
                break
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        match = re.fullmatch(r"`([\w.]+)`", cells[0])
        if match:
            rules[match[1]] = {c.strip() for c in cells[1].split(",") if c.strip()}
    return rules


def component(dotted: str) -> str:
    """``publisher.digest.plan`` -> ``digest``; ``publisher`` itself -> ``__init__``."""
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports_of(path: Path, root: Path = ROOT) -> set[str]:
    """The publisher components one module imports (relative imports resolved)."""
    package = list(path.relative_to(root).parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if not target.startswith("publisher"):
                continue
            if target == "publisher":  # ``from .. import x``: x is a component (or __version__)
                for alias in node.names:
                    found.add(
                        alias.name
                        if (PACKAGE / alias.name).exists()
                        or (PACKAGE / f"{alias.name}.py").exists()
                        else "__init__"
                    )
            else:
                found.add(component(target))
        elif isinstance(node, ast.Import):
            found |= {component(a.name) for a in node.names if a.name.startswith("publisher.")}
    return found


def test_every_component_is_in_the_document() -> None:
    rules = allowed_imports()
    present = {p.stem for p in PACKAGE.glob("*.py")} | {
        p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()
    }
    assert present == set(rules), (
        f"in publisher/ but not in docs/architecture.md: {sorted(present - set(rules))}; "
        f"in the document but gone: {sorted(set(rules) - present)}"
    )


def test_no_import_crosses_the_allowed_directions() -> None:
    rules = allowed_imports()
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:
            continue  # Alembic scripts are loaded by the store, not imported
        rel = path.relative_to(PACKAGE)
        own = rel.parts[0].removesuffix(".py")
        for target in sorted(imports_of(path) - {own}):
            if target not in rules.get(own, set()):
                wrong.append(f"publisher/{rel.as_posix()} imports {target}")
    assert not wrong, "imports the architecture does not allow:\n" + "\n".join(wrong)


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The rule is live: a feeds module importing digest is caught."""
    module = tmp_path / "publisher" / "feeds" / "probe.py"
    module.parent.mkdir(parents=True)
    module.write_text("from ..digest import plan\nfrom ..store.protocols import FeedStore\n")
    assert imports_of(module, tmp_path) == {"digest", "store"}
    assert "digest" not in allowed_imports()["feeds"]
