"""Industry-news aggregator: crawl publishers, extract clean articles, dedupe, store, search.

The public Python surface is small: :func:`extract_article` and the :class:`Article` record.
"""

from __future__ import annotations

import logging

from aggregator.extract import extract_article as extract_article
from aggregator.model import Article as Article

__all__ = ["Article", "extract_article"]
__version__ = "0.1.0"

logging.getLogger("aggregator").addHandler(logging.NullHandler())
