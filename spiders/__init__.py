"""Scrapy spiders, one module per way of discovering articles.

``feed``, ``sitemap`` and ``page`` crawl URLs given with ``-a url=...``; ``sources`` crawls the
sources stored in the database (``aggregator crawl`` runs it).
"""
