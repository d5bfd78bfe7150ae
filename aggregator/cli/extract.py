"""``aggregator extract``: the Article of a saved page, no network, no database."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from aggregator.cli._base import EXIT_NO_TEXT, note
from aggregator.errors import NotHTML, UnreadableFile


@click.command()
@click.argument("path", metavar="PATH|-")
@click.option("--url", default=None, help="The page's address (resolves links, picks site rules).")
@click.option("--compact", is_flag=True, help="One line of JSON instead of indented JSON.")
@click.option("--text", "as_text", is_flag=True, help="Plain text instead of JSON: the dek, then the body.")
def extract(path: str, url: str | None, compact: bool, as_text: bool) -> None:
    """Print the Article extracted from a saved page (PATH, or - for standard input) as JSON,
    or with --text as the plain text a reader reads below the headline (dek, then body).

    Exits 4 when the page has no article text (the record is still printed), 1 when the file is
    not a web page at all (JSON, CSS, a feed, a PDF...).
    """
    from aggregator.extract import extract_article
    from aggregator.extract.decode import sniff_non_html

    if path == "-":
        data = sys.stdin.buffer.read()
        url = url or "file:///dev/stdin"
    else:
        file = Path(path)
        try:
            data = file.read_bytes()
        except IsADirectoryError as exc:
            raise UnreadableFile(path, "it is a directory") from exc
        except OSError as exc:
            raise UnreadableFile(path, exc.strerror or str(exc)) from exc
        url = url or file.resolve().as_uri()
    detected = sniff_non_html(data)
    if detected is not None:
        raise NotHTML(path, detected)
    article = extract_article(data, url)
    if as_text:
        if article.text:
            click.echo(article.reading_text())
    else:
        click.echo(json.dumps(article.to_dict(), ensure_ascii=False, indent=None if compact else 2))
    if not article.text:
        note(f"aggregator: {path}: no article text found ({article.page_type} page)")
        sys.exit(EXIT_NO_TEXT)
