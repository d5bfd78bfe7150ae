"""What the wheel ships: every data file of the package, and only dependencies the code imports."""

from __future__ import annotations

import ast
import fnmatch
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

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


@pytest.mark.slow
def test_the_built_wheel_holds_every_file_of_the_package(tmp_path: Path) -> None:
    """Build the wheel as a user would (``pip wheel --no-deps``, from a copy of the sources, with
    the machine's own pip configuration: no network here) and compare its files with ours."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("aggregator", "spiders"):
        shutil.copytree(ROOT / package, source / package, ignore=ignore)
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(tmp_path / "out"),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    [wheel] = (tmp_path / "out").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = {n for n in archive.namelist() if n.startswith(("aggregator/", "spiders/"))}
    ours = {
        p.relative_to(source).as_posix()
        for package in ("aggregator", "spiders")
        for p in (source / package).rglob("*")
        if p.is_file()
    }
    assert sorted(ours - shipped) == []
    assert sorted(shipped - ours) == []
    assert {"aggregator/data/opensearch-index-template.json", "aggregator/web/templates/base.html"} <= shipped
