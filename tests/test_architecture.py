"""The architecture is a test: which modules may use Scrapy, which way imports point, and what
the command line loads before it does any work.

Every module of ``aggregator`` and ``spiders`` is found by walking the source tree, so a new
module is checked without anyone adding it to a list.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from tests.conftest import PAGES, ROOT

PACKAGES = ("aggregator", "spiders")
#: The only modules that may import Scrapy or Twisted: settings, the item pipelines, the
#: downloader middlewares, the crawl runner, and the spiders.
GLUE = {"aggregator.settings", "aggregator.pipelines", "aggregator.middlewares", "aggregator.crawl"}
FRAMEWORK = {"scrapy", "twisted"}
#: Alembic runs the migrations itself (importing them outside a migration fails by design), and
#: importing a __main__ runs the program.
NOT_IMPORTABLE = (
    "aggregator.store.migrations.env",
    "aggregator.store.migrations.versions.",
    "aggregator.__main__",
    "aggregator.cli.__main__",
)
#: What the command line must not load before a command needs it.
HEAVY = {"sqlalchemy", "alembic", "numpy", "datasketch", "extruct", "scrapy", "twisted", "rich", "ftfy"}


@cache
def modules() -> dict[str, Path]:
    """Every module of the two packages, by dotted name."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def is_glue(module: str) -> bool:
    return module in GLUE or module.split(".")[0] == "spiders"


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")[: -node.level + (1 if modules()[module].name == "__init__.py" else 0) or None]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports(module: str, *, top_level_only: bool = False) -> set[str]:
    """The modules ``module`` imports: all of them, or only those its import runs (top-level
    statements, not under ``if TYPE_CHECKING:``)."""
    tree = ast.parse(modules()[module].read_text("utf-8"))
    nodes: list[ast.AST] = []
    if top_level_only:
        for stmt in tree.body:
            if isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test):
                continue
            nodes.extend(
                ast.walk(stmt)
                if not isinstance(stmt, ast.FunctionDef | ast.ClassDef)
                else [n for n in ast.walk(stmt) if n is stmt or _in_class_body(stmt, n)]
            )
    else:
        nodes = list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, node)
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                found.add(submodule if submodule in modules() else source)
    return found


def _in_class_body(cls: ast.AST, node: ast.AST) -> bool:
    """Statements a class body runs at import (its methods' bodies run later)."""
    return isinstance(cls, ast.ClassDef) and any(
        node is s for s in cls.body if not isinstance(s, ast.FunctionDef)
    )


def test_every_module_is_found() -> None:
    found = modules()
    assert {
        "aggregator",
        "aggregator.session",
        "aggregator.cli._base",
        "aggregator.store.sources",
        "spiders.sources",
    } <= set(found)
    assert len(found) > 60


def test_only_the_glue_imports_scrapy() -> None:
    offenders = {
        m: sorted(i for i in imports(m) if i.split(".")[0] in FRAMEWORK) for m in modules() if not is_glue(m)
    }
    assert {m: found for m, found in offenders.items() if found} == {}


def test_spiders_depend_on_aggregator_never_the_reverse() -> None:
    offenders = {
        m: sorted(i for i in imports(m) if i.split(".")[0] == "spiders")
        for m in modules()
        if m.split(".")[0] == "aggregator"
    }
    assert {m: found for m, found in offenders.items() if found} == {}


def test_no_import_cycles() -> None:
    """Tarjan's strongly connected components over the imports each module runs when imported."""
    graph = {
        m: sorted(i for i in imports(m, top_level_only=True) if i in modules() and i != m) for m in modules()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    assert cycles == []


def _loaded_after(code: str) -> list[str]:
    """Top-level packages in sys.modules after running ``code`` in a fresh interpreter."""
    script = (
        f"import sys, json\n{code}\n"
        "sys.stderr.write(json.dumps(sorted({n.split('.')[0] for n in sys.modules})))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return list(json.loads(proc.stderr.splitlines()[-1]))


def test_the_core_never_loads_scrapy() -> None:
    """Imported one at a time, no module outside the glue brings Scrapy or Twisted along."""
    core = [m for m in modules() if not is_glue(m) and not m.startswith(NOT_IMPORTABLE)]
    code = (
        "import importlib\nfor m in " + repr(core) + ":\n    importlib.import_module(m)\n"
        "    hit = sorted(n for n in sys.modules if n.split('.')[0] in ('scrapy', 'twisted'))\n"
        "    if hit:\n        sys.exit(f'{m} loads {hit[0]}')"
    )
    proc = subprocess.run(
        [sys.executable, "-c", f"import sys\n{code}"], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert (proc.returncode, proc.stderr) == (0, "")


@pytest.mark.parametrize("argv", [["--help"], ["sources", "--help"], ["crawl", "--help"]])
def test_help_loads_nothing_heavy(argv: list[str]) -> None:
    loaded = _loaded_after(
        f"from aggregator.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass"
    )
    assert sorted(HEAVY & set(loaded)) == []


def test_extract_loads_no_store_and_no_scrapy() -> None:
    page = PAGES / "industrywire-japan-space-policy.html"
    loaded = _loaded_after(f"from aggregator.cli import main\nmain(['extract', {str(page)!r}, '--compact'])")
    assert "extruct" in loaded  # extraction's own
    assert sorted({"sqlalchemy", "alembic", "numpy", "scrapy", "twisted", "rich"} & set(loaded)) == []


def test_python_dash_m_aggregator_runs_the_cli() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "aggregator", "--version"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert proc.stdout.startswith("aggregator, version ")
