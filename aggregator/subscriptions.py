"""Sources as people add them: one URL (its kind and name guessed), or a subscription list.

Subscription lists: OPML import (nested outlines, categories as source tags) and OPML 2.0 export
that other feed readers import, plus a TOML sources file (``[[source]]`` tables) both ways.
OPML is parsed with defusedxml, which refuses entity declarations and external references.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError
from defusedxml.ElementTree import fromstring as safe_fromstring

from aggregator.errors import InvalidSubscriptions, SourceExists
from aggregator.model import SourceKind

if TYPE_CHECKING:
    from aggregator.store import SourceInfo, Store

MAX_OPML_BYTES = 5 * 1024 * 1024
#: Our own OPML attributes (``aggregator:delay``, ``aggregator:concurrency`` on an outline), in a
#: namespace of their own so that other readers ignore them, as OPML 2.0 allows.
OPML_NS = "https://github.com/industry-news-aggregator/aggregator/opml"
ET.register_namespace("aggregator", OPML_NS)


def _politeness(
    origin: str, where: str, delay: object, concurrency: object
) -> tuple[float | None, int | None]:
    """A source's own delay (seconds, >= 0) and concurrency (>= 1) as a file gives them."""
    try:
        seconds = None if delay in (None, "") else float(str(delay))
        slots = None if concurrency in (None, "") else int(str(concurrency))
    except ValueError:
        raise InvalidSubscriptions(
            origin, f"{where}: delay must be a number, concurrency an integer"
        ) from None
    if seconds is not None and not seconds >= 0:
        raise InvalidSubscriptions(origin, f"{where}: delay must be 0 or more seconds")
    if slots is not None and slots < 1:
        raise InvalidSubscriptions(origin, f"{where}: concurrency must be at least 1")
    return seconds, slots


@dataclass(frozen=True)
class SourceSpec:
    """A source as a subscription file or a discovery describes it (empty: not said)."""

    url: str
    name: str = ""
    kind: SourceKind | None = None
    tags: list[str] = field(default_factory=list)
    interval_seconds: int | None = None
    #: Politeness of its own (``sources add --delay/--concurrency``), carried by both file formats.
    delay: float | None = None
    concurrency: int | None = None


def guess_kind(url: str) -> SourceKind:
    """A source kind from the URL's shape (for files that do not say; ``--kind`` overrides it)."""
    path = urlsplit(url).path.lower()
    if "sitemap" in path:
        return SourceKind.SITEMAP
    name = path.rsplit("/", 1)[-1]
    if name.endswith((".rss", ".atom", ".rdf")) or any(w in path for w in ("feed", "rss", "atom")):
        return SourceKind.FEED
    if name.endswith(".xml") or (name.endswith(".json") and "feed" in name):
        return SourceKind.FEED
    return SourceKind.PAGE


def default_name(url: str) -> str:
    """A source name from its URL: host and path."""
    parts = urlsplit(url)
    path = parts.path.strip("/").replace("/", "-")
    return f"{parts.netloc}{'/' + path if path else ''}"


def unique_name(name: str, taken: set[str]) -> str:
    """``name``, or ``name (2)``, ``name (3)``... whichever is not taken."""
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name} ({n})", n + 1
    return candidate


@dataclass(frozen=True)
class Added:
    source: SourceInfo


@dataclass(frozen=True)
class Known:
    url: str


def add_sources(
    store: Store,
    specs: Iterable[SourceSpec],
    *,
    now: datetime,
    interval: int,
    delay: float | None = None,
    concurrency: int | None = None,
    keep_names: bool = False,
) -> list[Added | Known]:
    """Add each spec whose URL is not a source yet: one result per spec, in order.

    A name is made unique (``name (2)``), unless ``keep_names``: then a spec's own name (one
    the user chose) must be free, else SourceNameTaken.
    """
    taken = store.source_names()
    results: list[Added | Known] = []
    for spec in specs:
        name = (
            spec.name if keep_names and spec.name else unique_name(spec.name or default_name(spec.url), taken)
        )
        try:
            info = store.add_source(
                name,
                spec.kind or guess_kind(spec.url),
                spec.url,
                now=now,
                interval_seconds=spec.interval_seconds or interval,
                tags=spec.tags,
                delay=spec.delay if spec.delay is not None else delay,
                concurrency=spec.concurrency if spec.concurrency is not None else concurrency,
            )
        except SourceExists:
            results.append(Known(spec.url))
            continue
        taken.add(info.name)
        results.append(Added(info))
    return results


def parse_opml(data: bytes, origin: str) -> list[SourceSpec]:
    """Feeds of an OPML file; outline nesting and ``category`` attributes become tags."""
    if len(data) > MAX_OPML_BYTES:
        raise InvalidSubscriptions(origin, f"OPML file over {MAX_OPML_BYTES} bytes")
    try:
        root = safe_fromstring(data)
    except DefusedXmlException as exc:
        raise InvalidSubscriptions(
            origin, f"refused: the OPML declares entities or external references ({exc})"
        ) from exc
    except ParseError as exc:
        raise InvalidSubscriptions(origin, f"not well-formed OPML ({exc})") from exc
    except LookupError as exc:  # <?xml encoding="T"?>: expat asks Python for a codec it lacks
        raise InvalidSubscriptions(origin, f"OPML in an unknown encoding ({exc})") from exc
    if root.tag.lower() != "opml":
        raise InvalidSubscriptions(origin, f"not OPML (root element <{root.tag}>)")
    body = root.find("body")
    if body is None:
        raise InvalidSubscriptions(origin, "OPML without a <body>")
    specs: list[SourceSpec] = []

    def walk(outline: ET.Element, folders: list[str]) -> None:
        url = outline.get("xmlUrl") or outline.get("xmlurl") or ""
        title = outline.get("title") or outline.get("text") or ""
        categories = [c.strip().strip("/") for c in (outline.get("category") or "").split(",") if c.strip()]
        tags = [t for t in folders + [p for c in categories for p in c.split("/")] if t]
        if url:
            kind = SourceKind.SITEMAP if (outline.get("type") or "").lower() == "sitemap" else SourceKind.FEED
            delay, concurrency = _politeness(
                origin,
                f"outline {url.strip()}",
                outline.get(f"{{{OPML_NS}}}delay"),
                outline.get(f"{{{OPML_NS}}}concurrency"),
            )
            specs.append(
                SourceSpec(
                    url=url.strip(),
                    name=title.strip(),
                    kind=kind,
                    tags=list(dict.fromkeys(tags)),
                    delay=delay,
                    concurrency=concurrency,
                )
            )
        children = outline.findall("outline")
        if children:
            folder = [title.strip()] if not url and title.strip() else []
            for child in children:
                walk(child, folders + folder)

    for outline in body.findall("outline"):
        walk(outline, [])
    return specs


def parse_sources_toml(text: str, origin: str) -> list[SourceSpec]:
    """A TOML sources file: ``[[source]]`` tables with url, and optional name, kind, tags, interval."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidSubscriptions(origin, f"not valid TOML ({exc})") from exc
    specs = []
    for i, item in enumerate(data.get("source", [])):
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            raise InvalidSubscriptions(origin, f"[[source]] number {i + 1} has no url")
        interval = item.get("interval")
        kind = str(item.get("kind", ""))
        if kind and kind not in tuple(SourceKind):
            raise InvalidSubscriptions(origin, f"[[source]] number {i + 1}: unknown kind {kind!r}")
        delay, concurrency = _politeness(
            origin, f"[[source]] number {i + 1}", item.get("delay"), item.get("concurrency")
        )
        specs.append(
            SourceSpec(
                url=item["url"],
                name=str(item.get("name", "")),
                kind=SourceKind(kind) if kind else None,
                tags=[str(t) for t in item.get("tags", [])],
                interval_seconds=int(interval) if interval is not None else None,
                delay=delay,
                concurrency=concurrency,
            )
        )
    return specs


def _toml_string(value: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's."""
    return json.dumps(value, ensure_ascii=False)


def to_sources_toml(sources: Iterable[SourceInfo]) -> str:
    """A TOML sources file (what parse_sources_toml reads) of stored sources."""
    return "".join(
        f"[[source]]\nname = {_toml_string(s.name)}\nkind = {_toml_string(s.kind)}\n"
        f"url = {_toml_string(s.url)}\n"
        f"interval = {s.interval_seconds}\ntags = [{', '.join(_toml_string(t) for t in s.tags)}]\n"
        + (f"delay = {float(s.delay)!r}\n" if s.delay is not None else "")
        + (f"concurrency = {int(s.concurrency)}\n" if s.concurrency is not None else "")
        + "\n"
        for s in sources
    )


def to_opml(sources: Iterable[SourceInfo], *, title: str = "industry-news-aggregator") -> str:
    """OPML 2.0 of stored sources; tags become the ``category`` attribute."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    body = ET.SubElement(root, "body")
    for source in sources:
        name, kind, url, tags = source.name, source.kind, source.url, source.tags
        attrs = {
            "text": name,
            "title": name,
            "type": "sitemap" if kind == SourceKind.SITEMAP else "rss",
            "xmlUrl": url,
        }
        if kind not in (SourceKind.FEED, SourceKind.SITEMAP):
            attrs = {"text": name, "title": name, "type": "link", "url": url}
        if tags:
            attrs["category"] = ",".join(tags)
        if source.delay is not None:
            attrs[f"{{{OPML_NS}}}delay"] = repr(float(source.delay))
        if source.concurrency is not None:
            attrs[f"{{{OPML_NS}}}concurrency"] = str(source.concurrency)
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
