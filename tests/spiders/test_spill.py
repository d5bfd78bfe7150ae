"""spiders/spill.py: the crawl's first requests wait in memory, the rest in its disk queues."""

from __future__ import annotations

from pathlib import Path

from scrapy import Request, Spider
from scrapy.utils.test import get_crawler

from aggregator.crawl import build_settings, use_frontier
from spiders.spill import SpillScheduler


def scheduler(tmp_path: Path, in_memory: int) -> SpillScheduler:
    settings = {
        "JOBDIR": str(tmp_path / "job"),
        "AGGREGATOR_MEMORY_QUEUE": in_memory,
        # Scrapy's default priority queue asks a running engine's downloader; this one does not.
        "SCHEDULER_PRIORITY_QUEUE": "scrapy.pqueues.ScrapyPriorityQueue",
    }
    crawler = get_crawler(Spider, settings)
    spider = Spider("spill")
    crawler.spider = spider
    found = SpillScheduler.from_crawler(crawler)
    found.open(spider)
    return found


def test_requests_beyond_the_memory_share_wait_on_disk_and_all_come_back(tmp_path: Path) -> None:
    queue = scheduler(tmp_path, in_memory=3)
    urls = [f"https://pub.example/{i}" for i in range(8)]
    for url in urls:
        assert queue.enqueue_request(Request(url))
    assert queue.dqs is not None
    assert queue.stats is not None
    assert (len(queue.mqs), len(queue.dqs)) == (3, 5)
    stats = queue.stats.get_stats()
    assert (stats["scheduler/enqueued/memory"], stats["scheduler/enqueued/disk"]) == (3, 5)
    popped = []
    while (request := queue.next_request()) is not None:
        popped.append(request.url)
    assert sorted(popped) == sorted(urls)
    assert set(popped[:3]) == set(urls[:3])  # memory first (Scrapy pops it last in, first out)
    # A redirect's target (priority raised) never waits on disk behind the others.
    queue.enqueue_request(Request("https://pub.example/a"))
    queue.enqueue_request(Request("https://pub.example/b"))
    queue.enqueue_request(Request("https://pub.example/c"))
    queue.enqueue_request(Request("https://pub.example/d"))  # memory holds 3: to disk
    queue.enqueue_request(Request("https://pub.example/moved", priority=2))
    assert queue.dqs is not None
    assert (len(queue.mqs), len(queue.dqs)) == (4, 1)
    moved = queue.next_request()
    assert moved is not None
    assert moved.url == "https://pub.example/moved"
    queue.close("finished")


def test_a_short_queue_never_touches_the_disk(tmp_path: Path) -> None:
    queue = scheduler(tmp_path, in_memory=2000)
    for i in range(50):
        queue.enqueue_request(Request(f"https://pub.example/{i}"))
    assert queue.dqs is not None
    assert (len(queue.mqs), len(queue.dqs)) == (50, 0)
    queue.close("finished")


def test_a_crawl_without_a_frontier_uses_it_unless_the_user_chose_a_scheduler_or_a_jobdir(
    tmp_path: Path,
) -> None:
    settings = build_settings(None, {}, store=False)
    use_frontier(settings)
    assert settings["SCHEDULER"] == "spiders.spill.SpillScheduler"
    assert Path(settings["JOBDIR"]).is_dir()
    Path(settings["JOBDIR"]).rmdir()
    own = build_settings(None, {"JOBDIR": str(tmp_path / "mine")}, store=False)
    use_frontier(own)
    assert own["SCHEDULER"] == "scrapy.core.scheduler.Scheduler"
