"""Segment's own Python library (segment-analytics-python) against a real hub-server.

Starts `hub-server serve` on a free port with a fresh SQLite database, creates a workspace,
and points analytics-python's Client at it (host=...). Each test sends identify, track,
page, screen, group and alias through the library (asynchronous consumer thread; flush()
waits until the batch is answered), then reads the workspace's event stream as a signed-in
device (GET /v1/events/pull) and checks that each call is stored once with its fields
intact. The library's own upload function then sends the very batch it sent again (a
retry): nothing new may be stored.

Run by tests/segment/run.sh (which installs the library in a venv); prints
"N passed, M failed".
"""

import base64
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request

from segment.analytics import Client
from segment.analytics import request as segment_request

SERVER_BIN = os.environ.get("HUB_SERVER_BIN", "target/debug/hub-server")
PASSWORD = "a long enough password"
EMAIL = "owner@acme.test"


class HubServer:
    """A hub-server process on a free port with its own SQLite database."""

    def __init__(self):
        self.dir = tempfile.TemporaryDirectory(prefix="hub-segment-")
        self.db = "sqlite://" + os.path.join(self.dir.name, "server.db")
        created = subprocess.run(
            [SERVER_BIN, "workspace", "create", "Acme", "--owner-email", EMAIL,
             "--password-stdin", "--json", "--database-url", self.db],
            input=PASSWORD + "\n", capture_output=True, text=True, check=True)
        self.write_key = json.loads(created.stdout)["write_key"]
        self.log = open(os.path.join(self.dir.name, "server.log"), "w+")
        self.proc = subprocess.Popen(
            [SERVER_BIN, "serve", "--bind", "127.0.0.1:0", "--database-url", self.db],
            stdout=self.log, stderr=self.log, text=True,
            env={**os.environ, "RUST_LOG": "hub_server=info"})
        self.base = self._wait_for_address()
        self.token = self._login()

    def _wait_for_address(self):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("hub-server exited:\n" + self._log_text())
            match = re.search(r"listening on (http://[0-9.:]+)", self._log_text())
            if match:
                return match.group(1)
            time.sleep(0.05)
        raise RuntimeError("hub-server did not start listening:\n" + self._log_text())

    def _log_text(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def _request(self, method, path, body=None, headers=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
        with urllib.request.urlopen(req, timeout=30) as res:
            return json.loads(res.read())

    def _login(self):
        answer = self._request("POST", "/v1/auth/login",
                               {"email": EMAIL, "password": PASSWORD, "device_name": "test"})
        return answer["token"]

    def stream(self):
        """Every event of the workspace, in stream order."""
        events, cursor = [], 0
        while True:
            page = self._request("GET", f"/v1/events/pull?cursor={cursor}&limit=1000",
                                 headers={"Authorization": "Bearer " + self.token})
            events.extend(e["event"] for e in page["events"])
            seqs = [e["seq"] for e in page["events"]]
            assert seqs == sorted(seqs), "stream out of order"
            cursor = page["next_cursor"]
            if not page["has_more"]:
                return events

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        self.dir.cleanup()


class Recorder:
    """Records every batch the library uploads (the kwargs of segment's request.post)."""

    def __init__(self):
        self.batches = []
        self.lock = threading.Lock()
        self.original = segment_request.post

    def __enter__(self):
        def post(*args, **kwargs):
            with self.lock:
                self.batches.append(json.loads(json.dumps(kwargs, default=str)))
            return self.original(*args, **kwargs)
        # The consumer thread calls `post` through the module it imported.
        import segment.analytics.consumer as consumer
        self.consumer = consumer
        consumer.post = post
        return self

    def __exit__(self, *exc):
        self.consumer.post = self.original


def send_all_six(client, tag):
    """The six calls, with fields of every kind; returns what was sent, by call."""
    at = datetime.datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=datetime.timezone.utc)
    client.identify(f"user-{tag}", {"email": f"{tag}@example.com", "plan": "pro", "seats": 3},
                    anonymous_id=f"anon-{tag}", timestamp=at,
                    context={"ip": "203.0.113.7", "locale": "de-DE"})
    client.track(f"user-{tag}", "Order Completed",
                 {"revenue": 19.99, "currency": "EUR", "products": [{"sku": "A-1", "qty": 2}]},
                 timestamp=at + datetime.timedelta(seconds=1))
    client.page(anonymous_id=f"anon-{tag}", category="Docs", name="Pricing",
                properties={"path": "/pricing", "url": "https://acme.test/pricing"})
    client.screen(f"user-{tag}", "App", "Home", {"variant": "b"})
    client.group(f"user-{tag}", f"company-{tag}", {"name": "Acme GmbH", "employees": 42})
    client.alias(f"anon-{tag}", f"user-{tag}")


def check_six(events, tag):
    mine = [e for e in events
            if e["user_id"] == f"user-{tag}" or e["anonymous_id"] == f"anon-{tag}"]
    by_type = {}
    for e in mine:
        by_type.setdefault(e["type"], []).append(e)
    assert sorted(by_type) == ["alias", "group", "identify", "page", "screen", "track"], \
        sorted(by_type)
    for kind, stored in by_type.items():
        assert len(stored) == 1, f"{kind} stored {len(stored)} times"
    ids = [e["message_id"] for e in mine]
    assert len(set(ids)) == 6

    identify = by_type["identify"][0]
    assert identify["body"]["traits"] == {"email": f"{tag}@example.com", "plan": "pro",
                                          "seats": 3}
    assert identify["anonymous_id"] == f"anon-{tag}"
    assert identify["timestamp"].startswith("2024-05-01T10:00:00.123"), identify["timestamp"]
    # Stored with its host part cut off (docs/privacy.md).
    assert identify["body"]["context"]["ip"] == "203.0.113.0"
    assert identify["body"]["context"]["library"]["name"] == "analytics-python"
    assert "writeKey" not in identify["body"]

    track = by_type["track"][0]
    assert track["name"] == "Order Completed"
    assert track["body"]["properties"] == {
        "revenue": 19.99, "currency": "EUR", "products": [{"sku": "A-1", "qty": 2}]}

    page = by_type["page"][0]
    assert page["name"] == "Pricing"
    assert page["user_id"] is None
    assert page["body"]["category"] == "Docs"
    assert page["body"]["properties"]["path"] == "/pricing"

    screen = by_type["screen"][0]
    assert screen["name"] == "Home"
    assert screen["body"]["properties"] == {"variant": "b"}

    group = by_type["group"][0]
    assert group["body"]["groupId"] == f"company-{tag}"
    assert group["body"]["traits"] == {"name": "Acme GmbH", "employees": 42}

    alias = by_type["alias"][0]
    assert alias["body"]["previousId"] == f"anon-{tag}"
    assert alias["user_id"] == f"user-{tag}"

    for e in mine:
        # The library sets messageId, timestamp and a batch sentAt; the server keeps them.
        assert e["body"]["messageId"] == e["message_id"]
        assert e["body"]["type"] == e["type"]
        assert "receivedAt" in e["body"]
    return ids


def run_client(server, tag, gzip):
    errors = []
    client = Client(server.write_key, host=server.base, gzip=gzip, max_retries=1,
                    on_error=lambda e, batch: errors.append(repr(e)), upload_size=100)
    with Recorder() as recorder:
        send_all_six(client, tag)
        client.flush()  # blocks until the queue is empty and the batch answered
        client.join()
    assert errors == [], errors
    batches = [b for b in recorder.batches if b.get("batch")]
    assert batches, "the library sent nothing"
    assert sum(len(b["batch"]) for b in batches) == 6
    return batches


def test_six_calls_stored_once_with_their_fields(server):
    run_client(server, "plain", gzip=False)
    check_six(server.stream(), "plain")


def test_gzipped_uploads(server):
    run_client(server, "gz", gzip=True)
    check_six(server.stream(), "gz")


def test_replaying_the_batch_stores_nothing_new(server):
    batches = run_client(server, "replay", gzip=True)
    before = server.stream()
    ids = check_six(before, "replay")
    for batch in batches:
        # The library's own upload function, with the very batch it sent (a retry).
        res = segment_request.post(server.write_key, host=server.base, gzip=False,
                                   batch=batch["batch"])
        assert res.status_code == 200
        answer = res.json()
        assert answer["success"] is True
        assert answer["stored"] == 0 and answer["duplicate"] == len(batch["batch"]), answer
    after = server.stream()
    assert len(after) == len(before)
    assert check_six(after, "replay") == ids


def test_a_wrong_write_key_is_refused(server):
    errors = []
    client = Client("not-the-key", host=server.base, max_retries=0,
                    on_error=lambda e, batch: errors.append(e))
    before = len(server.stream())
    client.track("someone", "Should Not Land")
    client.flush()
    client.join()
    assert len(errors) == 1 and getattr(errors[0], "status", None) == 401, errors
    assert len(server.stream()) == before


def main():
    tests = [v for k, v in sorted(globals().items()) if k.startswith("test_")]
    # Keep the order of definition.
    tests.sort(key=lambda f: f.__code__.co_firstlineno)
    server = HubServer()
    passed = failed = 0
    try:
        for test in tests:
            try:
                test(server)
                print(f"ok      {test.__name__}")
                passed += 1
            except Exception:
                print(f"FAILED  {test.__name__}")
                traceback.print_exc()
                failed += 1
    finally:
        if failed:
            print("--- hub-server log ---")
            print(server._log_text())
        server.stop()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
