"""The peer spiders of benchmarks/crawl.py, each run in its own process.

Usage: python benchmarks/crawl_peers.py bare|naive SITEMAP_URL [NAME=VALUE ...]
Prints one JSON line: pages fetched and seconds from first request to close.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import trafilatura
from scrapy import Request, Spider
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response
from scrapy.utils.sitemap import Sitemap


class BareSpider(Spider):
    """Fetches every page the sitemap lists and does nothing with it: Scrapy's own speed."""

    name = "bare"

    def __init__(self, sitemap: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_urls = [sitemap]

    def parse(self, response: Response) -> Iterator[Request]:
        for entry in Sitemap(response.body):
            yield Request(entry["loc"], callback=self.page)

    def page(self, response: Response) -> None:
        return None


class NaiveSpider(BareSpider):
    """What people write first: trafilatura in the callback, nothing stored."""

    name = "naive"

    def page(self, response: Response) -> None:
        trafilatura.extract(response.text, url=response.url)


def main() -> None:
    kind, sitemap, *pairs = sys.argv[1:]
    settings = {"LOG_LEVEL": "ERROR", "ROBOTSTXT_OBEY": False, "TELNETCONSOLE_ENABLED": False}
    settings.update(dict(p.split("=", 1) for p in pairs))
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(BareSpider if kind == "bare" else NaiveSpider)
    process.crawl(crawler, sitemap=sitemap)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    print(
        json.dumps(
            {
                "pages": stats.get("response_received_count", 0) - 1,
                "seconds": stats.get("elapsed_time_seconds", 0.0),
            }
        )
    )


if __name__ == "__main__":
    main()
