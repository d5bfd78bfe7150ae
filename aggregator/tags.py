"""How a tag is stored: trimmed, case-folded and mapped to its synonym (rules as data).

A module of its own, light on imports, because both normalization (every crawled article) and
the store (a ``--tag`` filter) fold tags; the synonyms are ``aggregator/data/tag_synonyms.toml``.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources


def package_data(name: str) -> str:
    """A text file of ``aggregator/data``."""
    return resources.files("aggregator").joinpath("data", name).read_text("utf-8")


@cache
def tag_synonyms() -> dict[str, str]:
    """variant (case-folded) -> canonical tag."""
    mapping: dict[str, str] = {}
    for canonical, variants in tomllib.loads(package_data("tag_synonyms.toml")).items():
        mapping[canonical.casefold()] = canonical
        for variant in variants:
            mapping[variant.casefold()] = canonical
    return mapping


def fold_tag(tag: str) -> str:
    """The stored form of a tag: trimmed, spaces collapsed, case-folded, synonyms merged."""
    folded = " ".join(tag.replace("_", " ").split()).strip(" #,;.").casefold()
    return tag_synonyms().get(folded, folded)
