"""Requests the API tests (tests/api, tests/hardening) share: the bundled scene, uploads, error checks.

Imported by name (``from api_helpers import upload_scene``): ``tests/`` is on ``sys.path``
once pytest has loaded ``tests/conftest.py`` (as for ``synthetic``). The app, its
services and the uploaded small scene are fixtures in ``tests/conftest.py``.
"""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager

#: The bundled scene every API test asks about.
SCENE = {"country": "FR", "city": "Lyon", "operator": "Orange"}

#: Four sites in Lyon: the smallest upload whose models fit in milliseconds.
FOUR_SITES = "site_id,lat,lon\nA,45.76,4.84\nB,45.70,4.90\nC,45.80,4.95\nD,45.72,4.78\n"

#: 12 sites on a jittered grid near Lyon (≈ 1.5 km apart), two operators: fits and maps take milliseconds.
SMALL_CSV = "site_id,lat,lon,operator\n" + "\n".join(
    f"H{k},{45.70 + 0.014 * (k // 4) + 0.001 * (k % 3):.5f},{4.80 + 0.019 * (k % 4) + 0.0007 * (k % 5):.5f},{'A' if k % 2 else 'B'}"
    for k in range(12)) + "\n"


def small_csv(k: int) -> str:
    """12 sites on a grid near Lyon, shifted by ``k``: a distinct, valid upload that fits in milliseconds."""
    return "site_id,lat,lon\n" + "".join(
        f"K{k}_{i},{45.70 + 0.002 * k + 0.014 * (i // 4) + 0.001 * (i % 3):.5f},{4.80 + 0.019 * (i % 4) + 0.0007 * (i % 5):.5f}\n"
        for i in range(12))


def upload(client, content: bytes | str, name: str = "sites.csv", **kw):
    """``POST /api/uploads`` of ``content`` as the file ``name`` (the response; ``kw`` go to ``client.post``)."""
    data = content.encode() if isinstance(content, str) else content
    return client.post("/api/uploads", files={"file": (name, data, "text/csv")}, **kw)


def upload_scene(client, content: bytes | str, name: str = "sites.csv") -> dict:
    """Upload ``content`` (must answer 200) and return its scene's query parameters (country, city, operator)."""
    r = upload(client, content, name)
    assert r.status_code == 200, r.text
    return {"country": "upload", "city": r.json()["upload_id"], "operator": "all"}


def check_error(r, status: int | tuple[int, ...], *words: str) -> str:
    """Assert ``r`` is a JSON error with one of ``status``, naming every word, leaking no path; return its message."""
    statuses = status if isinstance(status, tuple) else (status,)
    assert r.status_code in statuses, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    msg = r.json()["error"]
    assert isinstance(msg, str) and msg
    for w in words:
        assert w.lower() in msg.lower(), (w, msg)
    assert "Traceback" not in msg and "/work/" not in msg and "/tmp/" not in msg
    return msg


@contextmanager
def serve_in_thread(app, header_timeout_s: float | None = None):
    """A real uvicorn server (the h11 protocol class of ``deepmend serve``) for ``app`` on a free
    port of 127.0.0.1, in a thread; yields the port and stops the server on exit."""
    import uvicorn

    from deepmend.api.security import json_h11_protocol

    proto = json_h11_protocol()
    if header_timeout_s is not None:
        proto = type("ShortHeadTimeout", (proto,), {"header_timeout_s": header_timeout_s})
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, http=proto, log_level="warning", timeout_keep_alive=30, lifespan="on"))
    t = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    t.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        t.join(15)
        sock.close()
