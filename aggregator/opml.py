"""Subscription lists: OPML import (nested outlines, categories as source tags) and OPML 2.0
export that other feed readers import, plus a TOML sources file.

OPML is parsed with defusedxml, which refuses entity declarations and external references.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError
from defusedxml.ElementTree import fromstring as safe_fromstring

from aggregator.errors import InputError

MAX_OPML_BYTES = 5 * 1024 * 1024


@dataclass
class SourceSpec:
    """A source as a subscription file describes it."""

    url: str
    name: str = ""
    kind: str = ""
    tags: list[str] = field(default_factory=list)
    interval_seconds: int | None = None


def parse_opml(data: bytes, origin: str) -> list[SourceSpec]:
    """Feeds of an OPML file; outline nesting and ``category`` attributes become tags."""
    if len(data) > MAX_OPML_BYTES:
        raise InputError(f"{origin}: OPML file over {MAX_OPML_BYTES} bytes")
    try:
        root = safe_fromstring(data)
    except DefusedXmlException as exc:
        raise InputError(f"{origin}: refused: the OPML declares entities or external references ({exc})") from exc
    except ParseError as exc:
        raise InputError(f"{origin}: not well-formed OPML ({exc})") from exc
    if root.tag.lower() != "opml":
        raise InputError(f"{origin}: not OPML (root element <{root.tag}>)")
    body = root.find("body")
    if body is None:
        raise InputError(f"{origin}: OPML without a <body>")
    specs: list[SourceSpec] = []

    def walk(outline: ET.Element, folders: list[str]) -> None:
        url = outline.get("xmlUrl") or outline.get("xmlurl") or ""
        title = outline.get("title") or outline.get("text") or ""
        categories = [c.strip().strip("/") for c in (outline.get("category") or "").split(",") if c.strip()]
        tags = [t for t in folders + [p for c in categories for p in c.split("/")] if t]
        if url:
            kind = "sitemap" if (outline.get("type") or "").lower() == "sitemap" else "feed"
            specs.append(SourceSpec(url=url.strip(), name=title.strip(), kind=kind, tags=list(dict.fromkeys(tags))))
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
        raise InputError(f"{origin}: not valid TOML ({exc})") from exc
    specs = []
    for i, item in enumerate(data.get("source", [])):
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            raise InputError(f"{origin}: [[source]] number {i + 1} has no url")
        interval = item.get("interval")
        specs.append(SourceSpec(url=item["url"], name=str(item.get("name", "")), kind=str(item.get("kind", "")),
                                tags=[str(t) for t in item.get("tags", [])],
                                interval_seconds=int(interval) if interval is not None else None))
    return specs


def to_opml(sources: list[tuple[str, str, str, list[str]]], *, title: str = "industry-news-aggregator") -> str:
    """OPML 2.0 of (name, kind, url, tags); tags become the ``category`` attribute."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    body = ET.SubElement(root, "body")
    for name, kind, url, tags in sources:
        attrs = {"text": name, "title": name, "type": "sitemap" if kind == "sitemap" else "rss", "xmlUrl": url}
        if kind not in ("feed", "sitemap"):
            attrs = {"text": name, "title": name, "type": "link", "url": url}
        if tags:
            attrs["category"] = ",".join(tags)
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
