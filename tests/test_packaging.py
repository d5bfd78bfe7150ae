"""What the wheel ships: every data file of the package, and only dependencies the code imports."""

from __future__ import annotations

import ast
import fnmatch
import re
import tomllib

from tests.conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
#: Distribution names whose import name differs.
IMPORT_NAMES = {
    "python-dateutil": "dateutil",
    "charset-normalizer": "charset_normalizer",
    "sgmllib3k": "sgmllib",
    "psycopg[binary]": "psycopg",
}
#: Dependencies imported by another library rather than by our code, and why they are declared.
INDIRECT = {
    "sgmllib3k": "feedparser's loose parser: without it an ill-formed feed loses entries",
    "psycopg[binary]": "SQLAlchemy's PostgreSQL driver, named in a database URL",
}


def test_every_data_file_is_package_data() -> None:
    """Files the package reads at run time must be in the wheel (data/*.json once was not)."""
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["aggregator"]
    package = ROOT / "aggregator"
    data = [
        p.relative_to(package).as_posix()
        for p in package.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    ]
    assert data
    assert [f for f in data if not any(fnmatch.fnmatch(f, pattern) for pattern in patterns)] == []


def imported_modules() -> set[str]:
    found: set[str] = set()
    for path in [*(ROOT / "aggregator").rglob("*.py"), *(ROOT / "spiders").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return found


def test_every_dependency_is_imported() -> None:
    """A declared dependency the code never imports is dead weight in every install."""
    project = PYPROJECT["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["postgres"]]
    names = [re.split(r"[<>=!~ ]", d)[0] for d in declared]
    imported = imported_modules()
    unused = [
        n
        for n in names
        if n not in INDIRECT and IMPORT_NAMES.get(n, n.replace("-", "_").lower()) not in imported
    ]
    assert unused == []
