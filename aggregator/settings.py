"""Scrapy settings for the aggregator's spiders (``scrapy.cfg`` points here).

Polite by default: robots.txt obeyed, AutoThrottle on, a few requests per domain at a time, an
identifying User-Agent. Every value can be overridden with ``-s NAME=VALUE`` on ``aggregator
crawl`` / ``scrapy crawl``, exactly as Scrapy does.
"""

from __future__ import annotations

import os

from aggregator import __version__
from aggregator.config import DEFAULT_BATCH_SIZE, default_db_url

BOT_NAME = "aggregator"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

#: Where articles are stored (an SQLAlchemy URL); AGGREGATOR_DB in the environment sets it too.
AGGREGATOR_DB = default_db_url()
#: A page where site owners can learn who crawls them; it goes into the User-Agent.
AGGREGATOR_CONTACT_URL = "https://github.com/industry-news-aggregator/aggregator"
#: Articles written per database transaction (see aggregator.config.DEFAULT_BATCH_SIZE).
AGGREGATOR_BATCH_SIZE = DEFAULT_BATCH_SIZE
#: Write batches in a process of their own (off the download loop); False writes them inline.
AGGREGATOR_STORE_WORKER = True
#: Worker processes that extract pages while Scrapy keeps downloading (0: extract inline).
AGGREGATOR_EXTRACT_WORKERS = os.cpu_count() or 1

#: Fetch private, loopback and link-local addresses too (aggregator.netguard); also the
#: environment's AGGREGATOR_ALLOW_PRIVATE=1 and the CLI's --allow-private.
AGGREGATOR_ALLOW_PRIVATE = False

#: The SSRF guard runs first, before robots.txt (100) fetches anything for a request; robots.txt
#: is Scrapy's middleware, except that an unreadable one allows nothing (RFC 9309).
DOWNLOADER_MIDDLEWARES = {
    "aggregator.middlewares.PrivateAddressGuard": 50,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "aggregator.middlewares.RobotsTxt": 100,
}
#: Seconds a host whose robots.txt could not be read (5xx, timeout, refused) is left alone
#: before robots.txt is asked again; its pages meanwhile are page errors (RFC 9309).
AGGREGATOR_ROBOTS_RETRY_AFTER = 300.0
#: Seconds a robots.txt read is trusted before it is read again (RFC 9309: at most a day); a
#: worker runs for months, and Scrapy alone kept the first copy for the life of the process.
AGGREGATOR_ROBOTS_MAX_AGE = 86400.0

#: The shared frontier (issue #14): a redis:// URL makes every crawl process using it share one
#: request queue and seen-URL filter (scrapy-redis); "" keeps the frontier in this process, on
#: disk (Scrapy's JOBDIR queues). AGGREGATOR_FRONTIER in the environment sets it too.
AGGREGATOR_FRONTIER = os.environ.get("AGGREGATOR_FRONTIER", "")
#: Prefix of the frontier's Redis keys: crawls with different prefixes do not share work.
AGGREGATOR_FRONTIER_PREFIX = os.environ.get("AGGREGATOR_FRONTIER_PREFIX", "aggregator")
#: Seconds a source may stay unfinished in the frontier before it is handed out again (its
#: worker died); see aggregator.frontier.
AGGREGATOR_FRONTIER_LEASE = 3600
#: A worker stops once the frontier had nothing for it for this many seconds (0: never).
AGGREGATOR_WORKER_IDLE_EXIT = 0
#: Without a shared frontier, keep the crawl's pending requests in Scrapy's disk queues (a
#: JOBDIR of its own per crawl) instead of memory: a 100k-URL sitemap would take ~0.5 GB.
AGGREGATOR_DISK_QUEUE = True
#: ...but the first this many waiting requests stay in memory (a few MB): a crawl whose queue
#: stays short pays no pickling and no disk (spiders/spill.py).
AGGREGATOR_MEMORY_QUEUE = 2000

USER_AGENT = f"industry-news-aggregator/{__version__} (+{AGGREGATOR_CONTACT_URL})"
ROBOTSTXT_OBEY = True
ROBOTSTXT_PARSER = "scrapy.robotstxt.ProtegoRobotParser"

CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0

DOWNLOAD_TIMEOUT = 30
#: Huge or endless responses are cut off rather than read into memory.
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
RETRY_ENABLED = True
RETRY_TIMES = 2
REDIRECT_MAX_TIMES = 5
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False

#: Items of one response processed at once. Scrapy starts this many asyncio tasks for every
#: response whose callback yields; an article page yields one item and our pipelines are
#: synchronous, so Scrapy's default of 100 only cost a third of the download loop's time.
CONCURRENT_ITEMS = 4

ITEM_PIPELINES = {
    "aggregator.pipelines.NormalizePipeline": 100,
    "aggregator.pipelines.SessionPipeline": 300,
}

LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"
