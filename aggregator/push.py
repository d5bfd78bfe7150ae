"""Push changes to an external search engine: OpenSearch/Elasticsearch ``_bulk`` or Meilisearch.

Each target keeps a cursor in the database. A push sends what changed after it, in bounded
batches, retrying 429s and 5xx with exponential backoff (honouring Retry-After), reports every
document the engine refused, and moves the cursor only through the last change before the first
refused or unsent document, so nothing is skipped: the next push starts there again (re-sending a
document is harmless, upserts and deletes are idempotent).
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from aggregator.errors import AggregatorError
from aggregator.export import INDEX_NAME, Document, ExportFormat, changed_documents, render
from aggregator.store.records import ChangeAction

if TYPE_CHECKING:
    from aggregator.store import Store


class Engine(StrEnum):
    OPENSEARCH = "opensearch"
    MEILISEARCH = "meilisearch"


MAX_ATTEMPTS = 6
MAX_BACKOFF_S = 30.0
#: Seconds one request may take, retries included: a dead engine is reported in this time, not
#: after minutes of backoff. A refused connection is not retried at all (nothing listens there).
REQUEST_DEADLINE_S = 20.0
TASK_POLLS = 100


class PushError(AggregatorError):
    """The engine could not be reached or kept refusing after retries."""

    def __init__(self, request: str, reason: str) -> None:
        super().__init__(f"{request}: {reason}")
        self.request = request
        self.reason = reason


@dataclass
class PushResult:
    sent: int = 0
    acknowledged: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    cursor: int = 0
    error: str | None = None


@dataclass
class Http:
    """A tiny JSON-over-HTTP client with retries; ``sleep`` is injectable for tests."""

    base: str
    timeout: float = 10.0
    sleep: Callable[[float], None] = time.sleep
    deadline_s: float = REQUEST_DEADLINE_S

    def request(self, method: str, path: str, body: bytes | None, content_type: str) -> Any:
        url = self.base.rstrip("/") + path
        delay = 0.5
        give_up_at = time.monotonic() + self.deadline_s
        for attempt in range(1, MAX_ATTEMPTS + 1):
            req = urllib.request.Request(
                url, data=body, method=method, headers={"Content-Type": content_type}
            )
            remaining = give_up_at - time.monotonic()
            try:
                with urllib.request.urlopen(req, timeout=max(0.1, min(self.timeout, remaining))) as resp:
                    payload = resp.read()
                    return json.loads(payload) if payload else {}
            except urllib.error.HTTPError as exc:
                if exc.code not in (429, 502, 503, 504) or attempt == MAX_ATTEMPTS:
                    detail = exc.read()[:300].decode("utf-8", "replace")
                    raise PushError(f"{method} {url}", f"HTTP {exc.code} {detail}") from exc
                retry_after = exc.headers.get("Retry-After")
                wait = float(retry_after) if retry_after and retry_after.isdigit() else delay
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                reason = getattr(exc, "reason", exc)
                if attempt == MAX_ATTEMPTS or isinstance(reason, ConnectionRefusedError):
                    raise PushError(f"{method} {url}", _network_reason(reason)) from exc
                wait = delay
            if time.monotonic() + min(wait, MAX_BACKOFF_S) >= give_up_at:
                raise PushError(f"{method} {url}", f"no answer within {self.deadline_s:.0f} s")
            self.sleep(min(wait, MAX_BACKOFF_S))
            delay = min(delay * 2, MAX_BACKOFF_S)
        raise PushError(f"{method} {url}", "gave up")  # pragma: no cover - the loop always returns or raises


def _network_reason(reason: object) -> str:
    """What went wrong on the network, in words (``[Errno 111] Connection refused`` ->
    ``connection refused``)."""
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused (is the engine running?)"
    if isinstance(reason, TimeoutError | socket.timeout):
        return "timed out"
    return str(reason)


def _opensearch_batch(http: Http, batch: list[Document], index: str) -> list[tuple[int, str]]:
    """Send one _bulk request; return (position, reason) of each refused document."""
    body = "".join(render(ExportFormat.OPENSEARCH, doc, index=index) for doc in batch)
    reply = http.request("POST", "/_bulk", body.encode("utf-8"), "application/x-ndjson")
    refused = []
    items = reply.get("items", [])
    for position, item in enumerate(items):
        op, result = next(iter(item.items()))
        status = int(result.get("status", 500))
        if 200 <= status < 300 or (op == "delete" and status == 404):
            continue
        error = result.get("error", {})
        reason = error.get("reason", str(error)) if isinstance(error, dict) else str(error)
        refused.append((position, f"HTTP {status}: {reason}"))
    if len(items) < len(batch):
        refused.append((len(items), "no reply for this document"))
    return refused


def _meili_wait(http: Http, reply: Any) -> str | None:
    """Wait for a Meilisearch task; its error message, or None when it succeeded."""
    uid = reply.get("taskUid", reply.get("uid"))
    if uid is None:
        return "no task id in the reply"
    for _ in range(TASK_POLLS):
        task = http.request("GET", f"/tasks/{uid}", None, "application/json")
        status = task.get("status")
        if status == "succeeded":
            return None
        if status in ("failed", "canceled"):
            return str((task.get("error") or {}).get("message", status))
        http.sleep(0.2)
    return f"task {uid} did not finish"


def _meilisearch_batch(http: Http, batch: list[Document], index: str) -> list[tuple[int, str]]:
    """Upserts and deletes of one batch; Meilisearch tasks succeed or fail whole."""
    upserts = [(i, d.document) for i, d in enumerate(batch) if d.action == ChangeAction.UPSERT and d.document]
    deletes = [(i, d.doc_id) for i, d in enumerate(batch) if d.action == ChangeAction.DELETE]
    refused: list[tuple[int, str]] = []
    if upserts:
        reply = http.request(
            "POST",
            f"/indexes/{index}/documents?primaryKey=id",
            json.dumps([d for _, d in upserts]).encode("utf-8"),
            "application/json",
        )
        error = _meili_wait(http, reply)
        if error:
            refused += [(i, error) for i, _ in upserts]
    if deletes:
        reply = http.request(
            "POST",
            f"/indexes/{index}/documents/delete-batch",
            json.dumps([d for _, d in deletes]).encode("utf-8"),
            "application/json",
        )
        error = _meili_wait(http, reply)
        if error:
            refused += [(i, error) for i, _ in deletes]
    return sorted(refused)


def push(
    store: Store,
    kind: Engine,
    url: str,
    *,
    index: str = INDEX_NAME,
    batch_size: int = 500,
    name: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> PushResult:
    """Send everything that changed since this target's cursor; see the module docstring."""
    target = name or f"{kind}:{url.rstrip('/')}/{index}"
    start = store.push_cursor(target, str(kind), url)
    changes, newest = changed_documents(store, start)
    http = Http(url, sleep=sleep)
    send = _opensearch_batch if kind == Engine.OPENSEARCH else _meilisearch_batch
    result = PushResult(cursor=start)
    batch: list[Document] = []
    pending = list(changes)
    try:
        for offset in range(0, len(pending), batch_size):
            batch = pending[offset : offset + batch_size]
            refused = send(http, batch, index)
            result.sent += len(batch)
            for position, reason in refused:
                result.failures.append((batch[position].doc_id, reason))
            first_bad = refused[0][0] if refused else len(batch)
            result.acknowledged += first_bad
            if first_bad:
                result.cursor = batch[first_bad - 1].seq
            if refused:
                break
        else:
            result.cursor = newest
    except PushError as exc:
        result.error = str(exc)
    store.record_push(
        target,
        result.cursor,
        error=result.error or (f"{len(result.failures)} document(s) refused" if result.failures else None),
        now=datetime.now(UTC),
    )
    return result
