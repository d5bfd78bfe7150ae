"""Aggregated output feeds (the classic planet function): Atom 1.0 and JSON Feed 1.1."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from aggregator.model import Article

ATOM_NS = "http://www.w3.org/2005/Atom"


def planet_title(
    *, tag: str | None = None, source: str | None = None, query: str | None = None
) -> tuple[str, str]:
    """(title, Atom id) of a feed of the articles with this tag, from this source, matching this query."""
    what = " ".join(f"{k} {v}" for k, v in (("tag", tag), ("source", source), ("query", query)) if v)
    title = f"Industry news: {what}" if what else "Industry news"
    return title, f"urn:aggregator:{what or 'all'}".replace(" ", ":")


def _when(article: Article, now: datetime) -> datetime:
    return article.updated or article.published or now


def atom(articles: list[Article], *, title: str, feed_id: str, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    ET.register_namespace("", ATOM_NS)
    root = ET.Element(f"{{{ATOM_NS}}}feed")
    ET.SubElement(root, f"{{{ATOM_NS}}}title").text = title
    ET.SubElement(root, f"{{{ATOM_NS}}}id").text = feed_id
    newest = max((_when(a, now) for a in articles), default=now)
    ET.SubElement(root, f"{{{ATOM_NS}}}updated").text = newest.isoformat()
    ET.SubElement(
        ET.SubElement(root, f"{{{ATOM_NS}}}author"), f"{{{ATOM_NS}}}name"
    ).text = "industry-news-aggregator"
    for a in articles:
        entry = ET.SubElement(root, f"{{{ATOM_NS}}}entry")
        ET.SubElement(entry, f"{{{ATOM_NS}}}title").text = a.title or a.canonical_url
        ET.SubElement(entry, f"{{{ATOM_NS}}}id").text = a.canonical_url
        ET.SubElement(entry, f"{{{ATOM_NS}}}link", href=a.canonical_url, rel="alternate")
        ET.SubElement(entry, f"{{{ATOM_NS}}}updated").text = _when(a, now).isoformat()
        if a.published:
            ET.SubElement(entry, f"{{{ATOM_NS}}}published").text = a.published.isoformat()
        for name in a.authors:
            ET.SubElement(ET.SubElement(entry, f"{{{ATOM_NS}}}author"), f"{{{ATOM_NS}}}name").text = name
        for tag in a.tags:
            ET.SubElement(entry, f"{{{ATOM_NS}}}category", term=tag)
        if a.subtitle:
            ET.SubElement(entry, f"{{{ATOM_NS}}}summary").text = a.subtitle
        ET.SubElement(entry, f"{{{ATOM_NS}}}content", type="text").text = a.text
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def jsonfeed(articles: list[Article], *, title: str, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    items = []
    for a in articles:
        item: dict[str, object] = {
            "id": a.canonical_url,
            "url": a.canonical_url,
            "title": a.title,
            "content_text": a.text,
            "date_published": (a.published or now).isoformat(),
        }
        if a.updated:
            item["date_modified"] = a.updated.isoformat()
        if a.subtitle:
            item["summary"] = a.subtitle
        if a.authors:
            item["authors"] = [{"name": n} for n in a.authors]
        if a.tags:
            item["tags"] = list(a.tags)
        if a.image_url:
            item["image"] = a.image_url
        items.append(item)
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": title, "items": items}
    return json.dumps(feed, ensure_ascii=False, indent=2) + "\n"
