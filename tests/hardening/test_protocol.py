"""HTTP protocol guards (deepmend/api/security.py): body size enforced while reading, Host
allow-list, no cross-origin uploads, security headers, HEAD, JSON errors from uvicorn's own
layer, slow request heads, and a connection that survives a 500.

Most run in-process (TestClient or the ASGI app called directly); the protocol-level ones run a
real uvicorn server (with deepmend's h11 protocol class) in a thread on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import select
import socket
import time

import pytest
from fastapi.testclient import TestClient

from deepmend.api.app import UPLOAD_FORM_OVERHEAD, create_app
from deepmend.api.security import APP_CSP
from deepmend.api.service import MAX_UPLOAD_BYTES

from api_helpers import serve_in_thread

MB = 1024 * 1024
LIMIT = MAX_UPLOAD_BYTES + UPLOAD_FORM_OVERHEAD


# --- body size enforced while reading -------------------------------------------------------
def _call_asgi(app, method: str, path: str, headers: list[tuple[bytes, bytes]], chunks):
    """Call the ASGI app directly; returns (status, headers, body, bytes the app pulled from the client)."""
    pulled = {"n": 0}
    out: dict = {"body": b""}
    it = iter(chunks)

    async def receive():
        try:
            chunk = next(it)
        except StopIteration:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled["n"] += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(msg):
        if msg["type"] == "http.response.start":
            out["status"], out["headers"] = msg["status"], dict(msg["headers"])
        elif msg["type"] == "http.response.body":
            out["body"] += msg.get("body", b"")

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"127.0.0.1:8000"), *headers], "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}

    async def main():
        async with app.router.lifespan_context(app):
            await app(scope, receive, send)

    asyncio.run(main())
    return out["status"], out["headers"], out["body"], pulled["n"]


def test_streamed_oversize_upload_is_refused_before_limit_plus_1mb_is_read(api_env):
    """A multipart upload streamed without Content-Length (150 MB offered in 64 KiB chunks):
    413 JSON, and the application pulled at most the limit + one chunk from the client."""
    app = create_app(static_dir=api_env / "none")
    boundary = b"XyZ"
    head = b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\nContent-Type: text/csv\r\n\r\nsite_id,lat,lon\n'
    chunk = b"S1,45.7,4.8\n" * 5461  # ≈ 64 KiB

    def body():
        yield head
        for _ in range(150 * MB // len(chunk)):
            yield chunk

    status, headers, out, pulled = _call_asgi(
        app, "POST", "/api/uploads", [(b"content-type", b"multipart/form-data; boundary=" + boundary),
                                      (b"transfer-encoding", b"chunked")], body())
    assert status == 413, out
    assert headers[b"content-type"] == b"application/json"
    assert "limit" in json.loads(out)["error"]
    assert pulled <= LIMIT + MB, f"{pulled / MB:.1f} MiB read for a {LIMIT / MB:.1f} MiB limit"
    assert pulled > MAX_UPLOAD_BYTES  # it did read up to the limit: a real cut, not a refusal by header


def test_content_length_over_limit_is_413_without_reading(api_env):
    app = create_app(static_dir=api_env / "none")
    status, _, out, pulled = _call_asgi(app, "POST", "/api/uploads", [(b"content-length", str(LIMIT + 1).encode())], [b"x" * 100])
    assert status == 413 and pulled == 0 and "limit" in json.loads(out)["error"]


# --- Host allow-list (DNS rebinding) --------------------------------------------------------
@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example", "localhost.evil.example:80", "10.0.0.1"])
def test_foreign_host_is_400_json(client, host):
    r = client.get("/api/catalog", headers={"Host": host})
    assert r.status_code == 400, host
    assert r.headers["content-type"] == "application/json" and "not allowed" in r.json()["error"]
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost", "LOCALHOST:1234", "[::1]:8000", "localhost."])
def test_local_hosts_are_allowed(client, host):
    assert client.get("/api/catalog", headers={"Host": host}).status_code == 200, host


def test_configured_host_is_allowed(api_env):
    with TestClient(create_app(static_dir=api_env / "none", allowed_hosts=["maps.lab.example"]), base_url="http://maps.lab.example") as c:
        assert c.get("/api/catalog").status_code == 200
        assert c.get("/api/catalog", headers={"Host": "other.example"}).status_code == 400


# --- no cross-origin uploads ----------------------------------------------------------------
CSV = b"site_id,lat,lon\nA,45.70,4.80\nB,45.75,4.85\nC,45.72,4.90\nD,45.78,4.82\n"


@pytest.mark.parametrize("headers", [{"Origin": "http://evil.example"}, {"Origin": "null"},
                                     {"Origin": "http://127.0.0.1:9999"}, {"Sec-Fetch-Site": "cross-site"}])
def test_cross_origin_multipart_upload_is_refused(client, headers):
    """What a foreign page's <form enctype=multipart/form-data> or fetch() sends: 403 JSON, nothing stored."""
    r = client.post("/api/uploads", headers=headers, files={"file": ("a.csv", CSV, "text/csv")})
    assert r.status_code == 403, r.text
    assert "cross-origin" in r.json()["error"]


@pytest.mark.parametrize("headers", [{}, {"Origin": "http://testserver"}, {"Sec-Fetch-Site": "same-origin"},
                                     {"Origin": "http://evil.example", "X-Requested-With": "x"}])
def test_same_origin_and_non_browser_uploads_are_accepted(client, headers):
    r = client.post("/api/uploads", headers=headers, files={"file": ("a.csv", CSV, "text/csv")})
    assert r.status_code == 200, r.text


# --- headers, HEAD, OpenAPI -----------------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/catalog", "/api/nope", "/api/sites?country=FR", "/", "/openapi.json"])
def test_nosniff_and_csp_on_every_answer(client, path):
    r = client.get(path)
    assert r.headers["x-content-type-options"] == "nosniff", path
    assert r.headers["content-security-policy"] == APP_CSP, path
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_docs_page_gets_its_own_csp(client):
    r = client.get("/docs")
    assert r.status_code == 200 and "cdn.jsdelivr.net" in r.headers["content-security-policy"]


def test_head_answers_where_get_exists(client):
    sites = client.get("/api/sites", params={"country": "FR", "city": "Lyon", "operator": "Orange"}).json()["features"]
    site = sites[0]["properties"]["site_id"]
    q = {"country": "FR", "city": "Lyon", "operator": "Orange", "site": site, "model": "voronoi"}
    for path, params, ctype in [("/api/catalog", None, "application/json"), ("/api/map.png", q, "image/png"),
                                ("/api/map", q, "application/json"), ("/", None, "text/html")]:
        get = client.get(path, params=params)
        head = client.head(path, params=params)
        assert head.status_code == 200 == get.status_code, (path, head.status_code)
        assert head.content == b"", path
        assert head.headers["content-type"].startswith(ctype), path
        assert head.headers["content-length"] == get.headers["content-length"], path
    r = client.head("/api/no-such-endpoint")
    assert r.status_code == 404 and r.content == b""


def test_openapi_lists_error_answers_with_their_schema(client):
    spec = client.get("/openapi.json").json()
    for path in ("/api/map", "/api/uploads", "/api/catalog"):
        op = next(iter(spec["paths"][path].values()))
        for code in ("400", "404", "413", "422", "500", "503"):
            ref = op["responses"][code]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/ErrorBody"), (path, code)
    for code in ("403", "408"):
        assert op["responses"][code]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert spec["components"]["schemas"]["ErrorBody"]["required"] == ["error"]


# --- a real server: uvicorn's own layer --------------------------------------------------------
def _raw(port: int, data: bytes, wait_s: float = 15.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as s:
        s.sendall(data)
        out = b""
        while True:
            try:
                b = s.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not b:
                break
            out += b
        return out


@pytest.fixture(scope="module")
def live(api_env):
    with serve_in_thread(create_app(static_dir=api_env / "none")) as port:
        yield port


def test_malformed_http_is_400_json(live):
    for junk in (b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n",
                 b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX: " + b"a" * 100_000):  # a head over h11's 16 KiB
        out = _raw(live, junk)
        head, _, body = out.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400"), out[:200]
        assert b"content-type: application/json" in head.lower()
        assert "malformed HTTP request" in json.loads(body)["error"]


def test_foreign_host_on_a_real_server_is_400_json(live):
    c = http.client.HTTPConnection("127.0.0.1", live, timeout=15)
    c.request("GET", "/api/catalog", headers={"Host": "rebind.evil.example"})
    r = c.getresponse()
    assert r.status == 400 and r.getheader("content-type") == "application/json"
    assert "not allowed" in json.loads(r.read())["error"]


def test_streamed_oversize_body_on_a_real_server_is_413(live):
    """Chunked upload (no Content-Length) of up to 150 MB: the server answers 413 JSON while the
    client is still sending; the client stops long before 150 MB."""
    s = socket.create_connection(("127.0.0.1", live), timeout=30)
    s.sendall(b"POST /api/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
              b"Content-Type: multipart/form-data; boundary=B\r\n\r\n")
    part = b'--B\r\nContent-Disposition: form-data; name="file"; filename="x.csv"\r\n\r\n'
    s.sendall(b"%x\r\n%s\r\n" % (len(part), part))
    chunk = b"a" * 65536
    sent, answer = 0, b""
    try:
        while sent < 150 * MB:
            try:
                s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            if select.select([s], [], [], 0)[0]:
                try:
                    answer += s.recv(65536)
                except ConnectionResetError:
                    pass
                break
        s.settimeout(15)
        try:
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                b = s.recv(65536)
                if not b:
                    break
                answer += b
        except (ConnectionResetError, TimeoutError):
            pass
    finally:
        s.close()
    assert sent < 150 * MB
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), answer[:300]
    assert "limit" in json.loads(body)["error"]


def test_slow_request_head_gets_408_and_is_closed(api_env):
    """A client that trickles its request head (slowloris) is answered 408 JSON and disconnected."""
    with serve_in_thread(create_app(static_dir=api_env / "none"), header_timeout_s=1.0) as port:
        s = socket.create_connection(("127.0.0.1", port), timeout=20)
        out = b""
        try:
            for b in b"GET /api/catalog HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"z" * 200:
                s.sendall(bytes([b]))
                time.sleep(0.05)
                s.setblocking(False)
                try:
                    out += s.recv(65536)
                except BlockingIOError:
                    pass
                except ConnectionResetError:
                    break
                s.setblocking(True)
                if out:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        s.settimeout(20)
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                out += b
        except (ConnectionResetError, TimeoutError):
            pass
        s.close()
        head, _, body = out.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408"), out[:200]
        assert "not complete" in json.loads(body)["error"]


def test_connection_survives_a_500(api_env, api_service):
    """After a 500 the same keep-alive connection answers the next request (uvicorn closes it
    when an exception escapes after the answer; the guard keeps it from escaping)."""
    svc = api_service(cache_root=api_env / "svc500")

    def broken():
        raise RuntimeError("boom")

    svc.catalog = broken
    with serve_in_thread(create_app(static_dir=api_env / "none", service=svc)) as port:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        c.request("GET", "/api/catalog")
        r = c.getresponse()
        assert r.status == 500 and "internal error" in json.loads(r.read())["error"]
        assert r.getheader("x-content-type-options") == "nosniff"
        sock = c.sock
        c.request("GET", "/api/no-such")
        r2 = c.getresponse()
        assert r2.status == 404 and json.loads(r2.read())["error"]
        assert c.sock is sock  # the same connection: not closed after the 500
