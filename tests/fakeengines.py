"""Loopback stand-ins for OpenSearch and Meilisearch, for push tests.

No such engine can run on our machines, so these implement the documented request/response
formats the push client relies on: OpenSearch ``POST /_bulk`` (NDJSON actions; a reply with
``errors`` and one ``items`` entry per action with its status), and Meilisearch ``POST
/indexes/{uid}/documents``, ``POST /indexes/{uid}/documents/delete-batch`` (202 with a
``taskUid``) and ``GET /tasks/{uid}``. They can refuse chosen documents and answer 429 first.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class EngineServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.docs: dict[str, dict[str, Any]] = {}
        self.refuse: set[str] = set()
        self.throttle = 0
        self.requests = 0
        self.tasks: dict[int, dict[str, Any]] = {}
        self.fail_tasks = False
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: EngineServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        srv = self.server
        srv.requests += 1
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if srv.throttle > 0:
            srv.throttle -= 1
            self._reply(429, {"error": "too many requests"}, {"Retry-After": "0"})
            return
        if srv.kind == "opensearch" and self.path == "/_bulk":
            self._bulk(body.decode())
        elif srv.kind == "meilisearch" and self.path.endswith("/documents/delete-batch"):
            for did in json.loads(body):
                srv.docs.pop(str(did), None)
            self._task()
        elif srv.kind == "meilisearch" and "/documents" in self.path:
            if not srv.fail_tasks:
                for doc in json.loads(body):
                    srv.docs[str(doc["id"])] = doc
            self._task()
        else:
            self._reply(404, {"error": f"no route {self.path}"})

    def do_GET(self) -> None:
        if self.path.startswith("/tasks/"):
            task = self.server.tasks.get(int(self.path.rsplit("/", 1)[1]))
            self._reply(200 if task else 404, task or {})
        else:
            self._reply(404, {})

    def _task(self) -> None:
        uid = len(self.server.tasks) + 1
        status = "failed" if self.server.fail_tasks else "succeeded"
        self.server.tasks[uid] = {
            "uid": uid,
            "status": status,
            "error": {"message": "invalid document"} if self.server.fail_tasks else None,
        }
        self._reply(202, {"taskUid": uid, "status": "enqueued"})

    def _bulk(self, body: str) -> None:
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        items, i, errors = [], 0, False
        while i < len(lines):
            op, meta = next(iter(lines[i].items()))
            did = meta["_id"]
            if op == "index":
                doc = lines[i + 1]
                i += 2
                if did in self.server.refuse:
                    errors = True
                    items.append(
                        {
                            "index": {
                                "_id": did,
                                "status": 400,
                                "error": {"type": "mapper_parsing_exception", "reason": "bad field"},
                            }
                        }
                    )
                else:
                    self.server.docs[did] = doc
                    items.append({"index": {"_id": did, "status": 201, "result": "created"}})
            else:
                i += 1
                found = self.server.docs.pop(did, None) is not None
                items.append({"delete": {"_id": did, "status": 200 if found else 404}})
        self._reply(200, {"took": 1, "errors": errors, "items": items})


@contextmanager
def engine(kind: str) -> Iterator[EngineServer]:
    server = EngineServer(kind)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
