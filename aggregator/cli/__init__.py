"""The ``aggregator`` command line: one module per command group, no core logic of its own.

Exit codes: 0 success; 1 an error (one line on stderr, naming the input); 2 a usage error;
3 a crawl that finished but some sources failed (or a push the engine refused in part);
4 ``extract`` found no article text. ``--debug`` shows tracebacks instead of one-line errors.

Each command imports what it works with (the store, Scrapy, extraction, rich) when it runs, so
``aggregator --help`` loads click alone: 0.2 s instead of 2.3 s on a loaded 2-core machine
(tests/test_architecture.py checks what it loads).
"""

from __future__ import annotations

from aggregator.cli import crawl, demo, export, extract, fetch, index, schedule, search, serve, sources
from aggregator.cli._base import cli as cli
from aggregator.cli._base import main as main

for command in (
    extract.extract,
    fetch.fetch,
    sources.sources,
    crawl.crawl,
    crawl.worker,
    schedule.schedule,
    schedule.status,
    search.search,
    search.stories,
    search.feed,
    export.export,
    export.push,
    index.index,
    demo.demo,
    serve.serve,
):
    cli.add_command(command)

__all__ = ["cli", "main"]
