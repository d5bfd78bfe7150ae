"""The committed fixture site is exactly what fixtures/build_site.py renders."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tests.conftest import FIXTURES, SITE


def test_site_is_up_to_date(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("build_site", FIXTURES / "build_site.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.build(tmp_path / "site")
    built = {
        p.relative_to(tmp_path / "site"): p.read_bytes()
        for p in (tmp_path / "site").rglob("*")
        if p.is_file()
    }
    committed = {p.relative_to(SITE): p.read_bytes() for p in SITE.rglob("*") if p.is_file()}
    assert built.keys() == committed.keys()
    stale = [str(k) for k in built if built[k] != committed[k]]
    assert stale == [], "run: python fixtures/build_site.py"
    assert (FIXTURES / "pages" / "industrywire-japan-space-policy.html").read_bytes() == committed[
        Path("aerospace/2020/06/japan-space-policy.html")
    ]
