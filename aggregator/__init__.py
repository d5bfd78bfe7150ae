"""Industry-news aggregator: crawl publishers, extract clean articles, dedupe, store, search.

The public Python surface is small: :func:`extract_article` and the :class:`Article` record.
``extract_article`` is imported on first use (PEP 562): extraction loads lxml, extruct and their
data, which the command line's ``--help`` and its other commands do not need.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aggregator.model import Article as Article

if TYPE_CHECKING:
    from aggregator.extract import extract_article as extract_article

__all__ = ["Article", "extract_article"]
__version__ = "0.1.0"

logging.getLogger("aggregator").addHandler(logging.NullHandler())


def __getattr__(name: str) -> Any:
    if name == "extract_article":
        from aggregator.extract import extract_article

        return extract_article
    raise AttributeError(f"module 'aggregator' has no attribute {name!r}")
