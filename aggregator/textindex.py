"""A full-text index beside the database (tantivy), kept in step from the change log.

Why: the stores' own full-text search ranks inside the database, and its cost grows with the
store: a two-word query over a million articles on PostgreSQL took 56-177 ms (p50) — the GIN
index reads both words' whole posting lists, and ranking reads each candidate's stored tsvector —,
against 2 ms wanted. An inverted index with term frequencies ranks the top hits by BM25 itself,
and holds what a hit shows, so a search reads nothing from the database (3.4-4.4 ms at 1M).
It is a cache, never the record: the database stays the truth,
the index is rebuilt from it at any time (``aggregator index sync --rebuild``), and when it is
missing, far behind or broken, search answers from the database as before.

Kept in step by applying the change log after the index's cursor (``sync``). Applying a stretch
of changes twice gives the same index (each changed article is deleted by id and added again in
its current state), so the cursor is saved after tantivy's commit and a process killed between
the two re-applies the stretch. One process writes at a time (a flock of ours); readers take the
folder's cursor and see commits as they land. A search first catches up when the index is a little behind
(``CATCH_UP``), so results include what the crawl wrote a moment ago.

The core imports no Scrapy and no store module at run time: the store hands its feed over as
records (aggregator.store.records.IndexFeed).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, overload

from aggregator.errors import SearchIndexError
from aggregator.query import Query, Term, parse
from aggregator.tags import fold_tag

if TYPE_CHECKING:
    from aggregator.search import SearchQuery, SearchRow
    from aggregator.store.records import IndexFeed

log = logging.getLogger(__name__)

#: The text fields and their weights, as the stores' ranking has them (store/search.py).
BOOSTS = {"title": 10.0, "subtitle": 5.0, "text": 1.0, "tags_text": 3.0, "section": 2.0}
#: Changes read from the store per round trip while syncing.
CHUNK = 2_000
#: Documents added between two tantivy commits (a commit writes a segment and fsyncs it).
COMMIT_EVERY = 50_000
#: A search catches up first when the index is at most this many changes behind (a fraction of
#: a second of indexing); further behind, it answers from the database and says how to sync.
CATCH_UP = 5_000
#: Seconds between two syncs of a server's follower thread (TextIndex.follow).
FOLLOW_EVERY_S = 5.0
#: Bumped when the schema changes: an index of another version is rebuilt, not misread.
VERSION = 2
_META = "aggregator-index.json"
_LOCK = "aggregator-index.lock"


class IndexSource(Protocol):
    """What syncing needs of the store (aggregator.store.Store)."""

    url: str

    def last_change(self) -> int: ...

    def index_feed(self, after: int, limit: int) -> IndexFeed: ...


@dataclass
class SyncResult:
    indexed: int
    removed: int
    cursor: int
    seconds: float


def _schema() -> Any:
    import tantivy

    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("id", stored=True, indexed=True, fast=True)  # i64: tantivy-py deletes by an i64 term
    sb.add_integer_field("story", stored=True, indexed=False, fast=True)
    # What a hit shows is stored with it (title, text for the snippet, URL, source, date): a
    # search reads nothing from the database. Fetching ten rows from PostgreSQL took 0.9 ms at
    # a million articles, as long as tantivy took to find them.
    for name in BOOSTS:
        stored = name in ("title", "text")
        sb.add_text_field(name, stored=stored, tokenizer_name="en_stem", index_option="position")
    sb.add_text_field("url", stored=True, tokenizer_name="raw", index_option="basic")
    # Filters: exact values, folded as the store's filters compare them.
    for name in ("tag", "source", "section_key", "language"):
        sb.add_text_field(name, stored=name == "source", tokenizer_name="raw", index_option="basic")
    sb.add_date_field("published", stored=True, indexed=True, fast=True)
    return sb.build()


def database_label(url: str) -> str:
    """The database an index was built from, without its password: an index pointed at another
    database would answer with ids that mean other articles there."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - any unparsable URL is still a label
        return url


class TextIndex:
    """The index in ``path`` (made when missing), for the database at ``db_url``; ``rebuild``
    empties it first (its cursor back to 0).

    A folder is ours when it holds our marker file (written before tantivy writes anything);
    a folder holding anything else is refused, never emptied. Every write (sync, rebuild) holds
    an exclusive flock on a file of ours in the folder, so two processes never write at once
    and a rebuild never pulls files from under a sync. Each rebuild starts a new generation:
    a process that sees another generation's cursor takes it (even a lower one) and reloads.
    """

    def __init__(self, path: Path | str, db_url: str, *, rebuild: bool = False) -> None:
        try:
            import tantivy
        except ImportError as exc:
            raise SearchIndexError(
                str(path), "tantivy is not installed: pip install 'industry-news-aggregator[index]'"
            ) from exc
        self._tantivy = tantivy
        self.path = Path(path).expanduser()
        self.database = database_label(db_url)
        self.cursor = 0
        self.generation = ""
        #: Set by follow(): a thread keeps the index in step, searches need not sync themselves;
        #: ``_last`` is the change log's end at its last look.
        self.following = False
        self._last = 0
        self._warned: str | None = None
        self._lock = threading.Lock()
        self._schema = _schema()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            marked = (self.path / _META).exists()
            if not marked and any(self.path.iterdir()):
                raise SearchIndexError(str(self.path), "the folder is not empty and holds no search index")
            if marked and not rebuild:
                meta = self._read_meta()
                if meta is None or meta.get("version") != VERSION or meta.get("database") != self.database:
                    built = f"{meta.get('database')} (version {meta.get('version')})" if meta else "nothing"
                    raise SearchIndexError(
                        str(self.path),
                        f"built for {built}, not {self.database} (version {VERSION}):"
                        " run `aggregator index sync --rebuild`",
                    )
                self._index = tantivy.Index(self._schema, path=str(self.path), reuse=True)
                self.cursor, self.generation = int(meta["cursor"]), str(meta.get("generation", ""))
            else:
                with self._writing():
                    self._start_generation()
        except OSError as exc:
            raise SearchIndexError(str(self.path), exc.strerror or str(exc)) from exc
        except ValueError as exc:
            raise SearchIndexError(str(self.path), str(exc)) from exc
        self._stemmer = (
            tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
            .filter(tantivy.Filter.lowercase())
            .filter(tantivy.Filter.stemmer("english"))
            .build()
        )

    # --- keeping in step ------------------------------------------------------------------------
    @contextmanager
    def _writing(self) -> Iterator[None]:
        """The folder's write lock (flock on a file of ours), or SearchIndexError when another
        process holds it; the kernel releases it when a holder dies."""
        with open(self.path / _LOCK, "a+b") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise SearchIndexError(str(self.path), "another process is writing it") from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _start_generation(self) -> None:
        """An empty index of a new generation, cursor 0 (under the write lock): the marker is
        written first, then everything but it and the lock file is removed and tantivy starts
        afresh. Readers of the old generation keep their open files until they reload."""
        self.generation = uuid.uuid4().hex
        self._save_cursor(0)
        for child in self.path.iterdir():
            if child.name not in (_META, _LOCK) and child.is_file():
                child.unlink()
        self._index = self._tantivy.Index(self._schema, path=str(self.path), reuse=False)

    def _read_meta(self) -> dict[str, Any] | None:
        try:
            data = json.loads((self.path / _META).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise SearchIndexError(
                str(self.path), f"unreadable {_META} ({exc}): run `aggregator index sync --rebuild`"
            ) from exc
        if not isinstance(data, dict) or not isinstance(data.get("cursor"), int):
            raise SearchIndexError(
                str(self.path), f"unreadable {_META}: run `aggregator index sync --rebuild`"
            )
        return data

    def _adopt(self) -> None:
        """Take the cursor and generation the folder says (another process may have synced or
        rebuilt it) and see its commits."""
        meta = self._read_meta()
        if meta is None:
            raise SearchIndexError(str(self.path), f"{_META} is gone: run `aggregator index sync --rebuild`")
        cursor, generation = int(meta["cursor"]), str(meta.get("generation", ""))
        if (cursor, generation) != (self.cursor, self.generation):
            try:
                self._index.reload()
            except ValueError as exc:  # a rebuild is replacing the files right now
                raise SearchIndexError(str(self.path), f"cannot read it now ({exc})") from exc
            self.cursor, self.generation = cursor, generation

    def _replaced(self, last: int) -> SearchIndexError:
        return SearchIndexError(
            str(self.path),
            f"its cursor ({self.cursor}) is past the database's last change ({last}): the database"
            " was replaced; run `aggregator index sync --rebuild`",
        )

    def _save_cursor(self, cursor: int) -> None:
        """Written after tantivy's commit, atomically and durably: a crash leaves the old cursor,
        and the stretch after it is applied again (harmless)."""
        meta = {
            "version": VERSION,
            "database": self.database,
            "cursor": cursor,
            "generation": self.generation,
        }
        tmp = self.path / f".{_META}.{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as out:
            out.write(json.dumps(meta))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path / _META)
        self.cursor = cursor

    def sync(
        self,
        store: IndexSource,
        *,
        limit: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> SyncResult:
        """Apply the changes after the cursor (at most ``limit``); ``progress(done, total)``
        after each chunk. SearchIndexError when another process is writing the index."""
        started = time.perf_counter()
        with self._writing():
            self._adopt()
            target = store.last_change()
            if target < self.cursor:
                raise self._replaced(target)
            if limit is not None:
                target = min(target, self.cursor + limit)
            first = cursor = self.cursor
            indexed = removed = pending = 0
            if target <= cursor:
                return SyncResult(0, 0, cursor, time.perf_counter() - started)
            writer = self._writer()
            try:
                while cursor < target:
                    feed = store.index_feed(cursor, min(CHUNK, target - cursor))
                    if feed.cursor <= cursor:
                        break
                    for article_id in [e.article_id for e in feed.entries] + feed.gone:
                        writer.delete_documents_by_term("id", article_id)
                    for entry in feed.entries:
                        writer.add_document(self._document(entry))
                    indexed += len(feed.entries)
                    removed += len(feed.gone)
                    pending += len(feed.entries) + len(feed.gone)
                    cursor = feed.cursor
                    if pending >= COMMIT_EVERY:
                        writer.commit()
                        self._save_cursor(cursor)
                        pending = 0
                    if progress is not None:
                        progress(cursor - first, target - first)
                writer.commit()
                self._save_cursor(cursor)
            except BaseException:
                writer.rollback()  # what was added since the last commit; the cursor stays before it
                raise
            finally:
                writer.wait_merging_threads()  # frees tantivy's own writer lock
            self._index.reload()
        return SyncResult(indexed, removed, self.cursor, time.perf_counter() - started)

    def _writer(self) -> Any:
        try:
            return self._index.writer(heap_size=128_000_000, num_threads=1)
        except ValueError as exc:
            raise SearchIndexError(str(self.path), f"cannot write it ({exc})") from exc

    def _document(self, entry: Any) -> Any:
        doc = self._tantivy.Document(
            title=entry.title,
            subtitle=entry.subtitle,
            text=entry.text,
            tags_text=entry.tags_text,
            section=entry.section,
        )
        doc.add_integer("id", entry.article_id)
        doc.add_integer("story", entry.story_id if entry.story_id is not None else -1)
        doc.add_text("url", entry.canonical_url)
        for tag in entry.tags:
            doc.add_text("tag", tag)
        if entry.source:
            doc.add_text("source", entry.source)
        if entry.section:
            doc.add_text("section_key", entry.section.lower())
        if entry.language:
            doc.add_text("language", entry.language.lower())
        if entry.published is not None and _DATES[0] <= _naive_utc(entry.published) <= _DATES[1]:
            doc.add_date("published", entry.published)
        return doc

    def _warn(self, message: str) -> None:
        """One log line per distinct trouble, not one per search or per follower round."""
        if message != self._warned:
            log.warning("%s", message)
            self._warned = message

    def catch_up(self, store: IndexSource) -> bool:
        """Before a search: is the index fit to answer? It takes what another process synced or
        rebuilt, and applies what was written since when that is little (CATCH_UP) — itself,
        unless a follower thread does it (a sync on a request's path costs a commit and an
        fsync). False when it is too far behind, being rebuilt, or unusable: the caller searches
        the database, and one line says how to catch up."""
        if not self._lock.acquire(timeout=0.25):
            return False  # a follower's step is under way: the database answers this one
        try:
            self._adopt()
            # With a follower, its last look says how far behind (no query on a search's path).
            last = self._last if self.following else store.last_change()
            behind = last - self.cursor
            if behind < 0:
                raise self._replaced(last)
            if behind > CATCH_UP:
                self._warn(
                    f"search index {self.path} is {behind} changes behind the database; searching the"
                    " database until `aggregator index sync` catches it up"
                )
                return False
            if behind and not self.following:
                try:
                    self.sync(store)
                except SearchIndexError as exc:
                    if "another process" not in exc.reason:
                        raise
                    # Another process is syncing it: a little behind, the index still answers.
        except SearchIndexError as exc:
            self._warn(f"{exc}; searching the database")
            return False
        finally:
            self._lock.release()
        self._warned = None
        return True

    def follow(self, store: IndexSource, stop: threading.Event, every: float | None = None) -> None:
        """Sync every ``every`` seconds until ``stop`` is set: for a long-running server (the web
        app runs it in a thread), so the index never falls so far behind that searches leave
        it, however long nobody searches. Steps of CATCH_UP changes, so a search waits at most
        one step for the lock (and answers from the database if it cannot have it); a failed
        sync is one log line, and the next round retries."""
        self._last = store.last_change()
        self.following = True
        try:
            while not stop.wait(FOLLOW_EVERY_S if every is None else every):
                while not stop.is_set():
                    try:
                        with self._lock:
                            step = self.sync(store, limit=CATCH_UP)
                    except Exception as exc:  # noqa: BLE001 - the database or the index failing for now
                        self._warn(f"search index {self.path}: sync failed: {exc}")
                        break
                    if step.indexed + step.removed == 0:
                        break
                try:
                    self._last = store.last_change()
                except Exception as exc:  # noqa: BLE001 - the database failing for now
                    self._warn(f"search index {self.path}: cannot read the change log: {exc}")
        finally:
            self.following = False

    # --- searching ------------------------------------------------------------------------------
    def search(self, query: SearchQuery, limit: int) -> list[SearchRow]:
        """The best ``limit`` matches as rows, best first: BM25 over the weighted fields, ties
        newest first, each with what a hit shows (read from the index, not the database).

        Only the rows aggregator.search will use are read from the index's store (each read
        decompresses a block): the first of each of the first ``query.limit`` stories and the
        copies of those stories (their URLs are listed), not the rest of the ``limit`` it asks
        for so that copies collapse. InvalidQuery (aggregator.query) when there is nothing to
        look for."""
        from aggregator.search import SearchRow

        searcher = self._index.searcher()
        hits = searcher.search(self._query(query), limit, count=False).hits
        addresses = [address for _, address in hits]
        ids = searcher.fast_field_values("id", addresses)
        stories = searcher.fast_field_values("story", addresses)
        ranked = sorted(
            zip((float(score) for score, _ in hits), ids, stories, addresses, strict=True),
            key=lambda hit: (-hit[0], -(hit[1] or 0)),
        )
        rows = []
        for score, _, story, address in _shown(ranked, query.limit, all_copies=query.all_copies):
            values: dict[str, list[Any]] = searcher.doc(address).to_dict()

            def first(name: str, values: dict[str, list[Any]] = values) -> Any:
                found = values.get(name)
                return found[0] if found else None

            published = first("published")
            rows.append(
                SearchRow(
                    int(first("id")),
                    first("url") or "",
                    first("title") or "",
                    first("source"),
                    published.replace(tzinfo=UTC) if published is not None else None,
                    first("text") or "",
                    score,
                    None if story is None or story < 0 else int(story),
                )
            )
        return rows

    def newest(self, query: SearchQuery, limit: int) -> tuple[list[int], int]:
        """The ids of the newest ``limit`` matches (highest id first) and how many match: what
        the search page's facets count over (Store.facet_counts)."""
        result = self._index.searcher().search(self._query(query), limit, count=True, order_by_field="id")
        return [int(i) for i, _ in result.hits], int(result.count or 0)  # type: ignore[attr-defined]

    def _query(self, query: SearchQuery) -> Any:
        """The query's text and filters as one tantivy query; the filters do not score."""
        tantivy = self._tantivy
        compiled = self._compile(parse(query.text))
        filters = self._filters(query)
        if filters:
            compiled = tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, compiled)]
                + [(tantivy.Occur.Must, tantivy.Query.const_score_query(f, 0.0)) for f in filters]
            )
        return compiled

    def _compile(self, query: Query) -> Any:
        tantivy = self._tantivy
        Occur = tantivy.Occur
        clauses = []
        for clause in query.clauses:
            parts = [(Occur.MustNot if t.negated else Occur.Must, self._term(t)) for t in clause]
            clauses.append(tantivy.Query.boolean_query(parts))
        if len(clauses) == 1:
            return clauses[0]
        return tantivy.Query.boolean_query([(Occur.Should, c) for c in clauses])

    def _term(self, term: Term) -> Any:
        """One term over every text field, weighted. Words go through the fields' own analyzer
        (the query parser): "floating foundations" is the phrase of stems 'float foundat'. A
        lone prefix is a prefix of the word's stem in each field (the parser wants two words for
        a phrase prefix), as PostgreSQL stems ``turbines:*`` to 'turbin':*."""
        tantivy = self._tantivy
        if term.prefix and len(term.words) == 1:
            stems = self._stemmer.analyze(term.words[0])
            if len(stems) == 1:
                pattern = re.escape(stems[0]) + ".*"
                return tantivy.Query.boolean_query(
                    [
                        (
                            tantivy.Occur.Should,
                            tantivy.Query.boost_query(
                                tantivy.Query.regex_query(self._schema, name, pattern), boost
                            ),
                        )
                        for name, boost in BOOSTS.items()
                    ]
                )
        text = '"' + " ".join(term.words) + '"' + ("*" if term.prefix else "")
        try:
            return self._index.parse_query(text, list(BOOSTS), field_boosts=BOOSTS)
        except ValueError:
            # A word the analyzer drops entirely: match it nowhere, as a stop word would.
            return tantivy.Query.empty_query()

    def _filters(self, query: SearchQuery) -> list[Any]:
        tantivy = self._tantivy
        schema = self._schema
        out = []
        if query.tag:
            out.append(tantivy.Query.term_query(schema, "tag", fold_tag(query.tag)))
        if query.source:
            out.append(tantivy.Query.term_query(schema, "source", query.source))
        if query.section:
            out.append(tantivy.Query.term_query(schema, "section_key", query.section.lower()))
        if query.language:
            out.append(tantivy.Query.term_query(schema, "language", query.language.lower()))
        if query.since or query.until:
            out.append(
                tantivy.Query.range_query(
                    schema,
                    "published",
                    tantivy.FieldType.Date,
                    _naive_utc(query.since),
                    _naive_utc(query.until),
                    include_upper=query.until is None,
                )
            )
        return out


def _shown(ranked: list[Any], shown: int, *, all_copies: bool) -> list[Any]:
    """The ranked hits (score, id, story, address) a page of ``shown`` hits uses, as
    aggregator.search collapses them: the first hit of each of the first ``shown`` stories and
    the other copies of those stories; with ``all_copies`` the first ``shown`` hits."""
    if all_copies:
        return ranked[:shown]
    kept: set[Any] = set()
    out = []
    for position, hit in enumerate(ranked):
        story = hit[2] if hit[2] is not None and hit[2] >= 0 else ("alone", position)
        if story not in kept:
            if len(kept) == shown:
                continue
            kept.add(story)
        out.append(hit)
    return out


#: The dates tantivy can hold (about 1677-2262); a published date outside is not indexed as one.
_DATES = (datetime(1678, 1, 1), datetime(2262, 1, 1))


@overload
def _naive_utc(value: datetime) -> datetime: ...
@overload
def _naive_utc(value: None) -> None: ...
def _naive_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
