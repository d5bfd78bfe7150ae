"""Coverage-guided fuzzing of the parsers with atheris: not part of the test suite.

tests/test_fuzz.py runs hypothesis over the same targets on every test run; this harness is for
long runs on a machine with atheris installed (``pip install atheris``)::

    python tests/fuzz_atheris.py feeds -atheris_runs=100000
    python tests/fuzz_atheris.py extract fixtures/pages   # a corpus directory seeds it

Targets: extract, feeds, sitemaps, opml, toml, urls. Each may raise only its documented error.
"""

from __future__ import annotations

import sys
from collections.abc import Callable


def _targets() -> dict[str, Callable[[bytes], object]]:
    from aggregator import extract_article
    from aggregator.errors import InvalidSubscriptions, SourceError
    from aggregator.feeds import parse_feed
    from aggregator.normalize import canonical_url
    from aggregator.sitemaps import parse_sitemap
    from aggregator.subscriptions import parse_opml, parse_sources_toml

    def allowing(error: type[Exception], fn: Callable[[bytes], object]) -> Callable[[bytes], object]:
        def run(data: bytes) -> object:
            try:
                return fn(data)
            except error:
                return None

        return run

    return {
        "extract": lambda data: extract_article(data, "https://fuzz.example/a.html"),
        "feeds": allowing(SourceError, lambda data: parse_feed(data, "https://fuzz.example/feed")),
        "sitemaps": allowing(SourceError, lambda data: parse_sitemap(data, "https://fuzz.example/s.xml")),
        "opml": allowing(InvalidSubscriptions, lambda data: parse_opml(data, "fuzz.opml")),
        "toml": allowing(
            InvalidSubscriptions,
            lambda data: parse_sources_toml(data.decode("utf-8", "replace"), "fuzz.toml"),
        ),
        "urls": lambda data: canonical_url(data.decode("utf-8", "replace")),
    }


def main() -> None:
    import atheris  # an optional tool: imported only when this harness runs

    targets = _targets()
    if len(sys.argv) < 2 or sys.argv[1] not in targets:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(targets)}}} [libFuzzer options] [corpus dir]")
    target = targets[sys.argv.pop(1)]
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
