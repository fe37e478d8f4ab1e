"""HTTP protocol guards of the API, as one ASGI middleware outside FastAPI's own stack.

:class:`Guard` wraps the whole application (outside Starlette's ``ServerErrorMiddleware``), so
it sees every request and every answer, errors included:

* **Host allow-list** (against DNS rebinding): a request whose ``Host`` is not 127.0.0.1,
  localhost, [::1] or a configured host (``deepmend serve --allow-host``,
  ``DEEPMEND_ALLOWED_HOSTS``) answers 400 JSON. A page of ``evil.example`` whose name was
  re-pointed at 127.0.0.1 sends ``Host: evil.example`` and is refused.
* **No cross-origin state changes**: a POST/PUT/PATCH/DELETE that a browser marks as coming
  from another origin (``Origin`` not this host nor a CORS-allowed origin, ``Origin: null``,
  or ``Sec-Fetch-Site: cross-site/same-site``) answers 403 JSON, unless it carries
  ``X-Requested-With`` (a custom header that a foreign page can only send after a CORS
  preflight, which is refused unless the origin is configured). Clients that are not
  browsers (curl, scripts) send neither header and are not affected.
* **Body size enforced while reading**: ``Content-Length`` over the limit answers 413 before
  anything is read; a body without it (chunked) is counted as the application reads it and
  the read stops at the limit: at most one chunk beyond the limit is ever handed on.
* **Security headers** on every answer: ``X-Content-Type-Options: nosniff``,
  ``Referrer-Policy: no-referrer``, ``X-Frame-Options: DENY`` and a Content-Security-Policy
  (:data:`APP_CSP`; the interactive docs get :data:`DOCS_CSP`, which also allows the CDN
  their HTML loads Swagger UI / ReDoc from).
* **HEAD wherever GET exists**: answered as the GET, without the body (headers kept).
* **An exception after the answer was sent** (Starlette's error middleware sends the JSON 500
  and then re-raises) is logged and swallowed, so uvicorn keeps the connection open for the
  client's next request instead of closing it without warning. An exception before any
  answer becomes a JSON 500.

:class:`JsonH11Protocol` covers what happens before a request reaches ASGI: uvicorn's own
answer to malformed HTTP (plain text) becomes JSON, and a client that does not send its
complete request head within :data:`HEADER_TIMEOUT_S` gets a JSON 408 and is disconnected
(slow-header / "slowloris" connections).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from urllib.parse import urlsplit

log = logging.getLogger("deepmend.api")

#: Hosts always accepted in ``Host`` (port ignored).
DEFAULT_ALLOWED_HOSTS = ("127.0.0.1", "localhost", "[::1]")
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Seconds a client has to send a complete request head (request line + headers).
HEADER_TIMEOUT_S = 10.0

#: The web app: scripts, workers and styles from this origin only (the app loads MapLibre's
#: worker from its own file: web/src/map/maplibre.ts); images also from ``blob:``/``data:``
#: (MapLibre decodes tiles and icons through them); inline ``style`` attributes are allowed
#: (React and MapLibre position elements with them). Checked in headless Chromium:
#: tests/e2e/test_e2e_app.py::test_csp_lets_the_app_work_and_its_upload_pass.
APP_CSP = ("default-src 'self'; script-src 'self'; worker-src 'self'; "
           "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
           "connect-src 'self' data: blob:; object-src 'none'; base-uri 'none'; form-action 'self'; "
           "frame-ancestors 'none'")
#: FastAPI's /docs and /redoc pages load their script from a CDN and start it inline.
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
            "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; font-src 'self' https://fonts.gstatic.com; "
            "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
DOCS_PATHS = ("/docs", "/redoc")

SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY")]


class BodyTooLarge(Exception):
    """Raised into the application when the request body passes the limit (answered 413)."""


def env_list(name: str) -> list[str]:
    """The comma-separated values of environment variable ``name``, stripped, empty ones dropped."""
    return [v.strip() for v in os.environ.get(name, "").split(",") if v.strip()]


def normalise_host(value: str) -> str:
    """``Host`` header value → the host part, lower case, without port or trailing dot.

    ``[::1]:8000`` → ``[::1]``; ``Localhost.:8000`` → ``localhost``; ``::1`` → ``[::1]``.
    """
    v = value.strip().lower()
    if v.startswith("["):
        end = v.find("]")
        return v[: end + 1] if end > 0 else v
    if v.count(":") > 1:  # a bare IPv6 address
        return f"[{v}]"
    return v.split(":", 1)[0].rstrip(".")


def json_body(status: int, message: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Headers and body of a JSON error answer ``{"error": message}`` sent by the guard itself.

    ``status`` is the HTTP status the caller sends with them; it is not part of the body.
    """
    body = json.dumps({"error": message}).encode()
    return [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())], body


class Guard:
    """The ASGI middleware described in the module docstring.

    Parameters
    ----------
    app
        The ASGI application (FastAPI's full middleware stack).
    allowed_hosts
        Extra host names/addresses accepted in ``Host`` (``"*"`` accepts any) besides
        :data:`DEFAULT_ALLOWED_HOSTS`.
    allowed_origins
        Origins allowed by CORS: their state-changing requests are accepted too.
    max_body_bytes
        Largest request body accepted (413 beyond it).
    """

    def __init__(self, app, *, allowed_hosts: Iterable[str] = (), allowed_origins: Iterable[str] = (),
                 max_body_bytes: int) -> None:
        self.app = app
        extra = [normalise_host(h) if h != "*" else "*" for h in allowed_hosts]
        self.allowed_hosts = frozenset(DEFAULT_ALLOWED_HOSTS) | frozenset(extra)
        self.allowed_origins = frozenset(o.rstrip("/").lower() for o in allowed_origins)
        self.max_body_bytes = int(max_body_bytes)

    # --- checks -------------------------------------------------------------------------
    def host_allowed(self, host: str | None) -> bool:
        """Whether the ``Host`` header names an allowed host (``*`` allows any; no header: refused)."""
        if "*" in self.allowed_hosts:
            return True
        return host is not None and normalise_host(host) in self.allowed_hosts

    def cross_origin(self, headers: dict[bytes, bytes], host: str) -> str | None:
        """Why a state-changing request looks like it comes from another origin (None: it does not)."""
        if b"x-requested-with" in headers:
            return None
        origin = headers.get(b"origin")
        if origin is not None:
            o = origin.decode("latin-1").strip().rstrip("/").lower()
            if o in self.allowed_origins:
                return None
            if o == "null" or urlsplit(o).netloc != host.strip().lower():
                return f"origin {o!r}"
            return None
        site = headers.get(b"sec-fetch-site", b"").decode("latin-1").lower()
        if site in ("cross-site", "same-site"):
            return f"Sec-Fetch-Site: {site}"
        return None

    # --- ASGI ---------------------------------------------------------------------------
    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        path = scope.get("path", "")
        csp = (DOCS_CSP if path in DOCS_PATHS or path.startswith("/docs/") else APP_CSP).encode()
        extra = [*SECURITY_HEADERS, (b"content-security-policy", csp)]

        async def answer(status: int, message: str, more: list[tuple[bytes, bytes]] = ()) -> None:
            hs, body = json_body(status, message)
            await send({"type": "http.response.start", "status": status, "headers": hs + extra + list(more)})
            await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

        raw_host = headers.get(b"host")
        host = raw_host.decode("latin-1") if raw_host is not None else None
        if not self.host_allowed(host):
            await answer(400, f"host {host!r} is not allowed: this server answers to {', '.join(sorted(self.allowed_hosts))} "
                              "(start it with --allow-host NAME to add one)")
            return
        method = scope["method"]
        if method in STATE_CHANGING:
            why = self.cross_origin(headers, host or "")
            if why is not None:
                await answer(403, f"cross-origin {method} refused ({why}): send the request from this server's own "
                                  "page, or with the header X-Requested-With")
                return
        length = headers.get(b"content-length")
        if length is not None and length.strip().isdigit() and int(length) > self.max_body_bytes:
            await answer(413, f"request body is {int(length) / 1e6:.1f} MB, the limit is {self.max_body_bytes / 1e6:.1f} MB",
                         [(b"connection", b"close")])
            return

        state = {"received": 0, "too_large": False, "started": False, "complete": False}
        head = method == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}

        async def guarded_receive():
            if state["too_large"]:
                raise BodyTooLarge
            msg = await receive()
            if msg["type"] == "http.request":
                state["received"] += len(msg.get("body", b""))
                if state["received"] > self.max_body_bytes:
                    state["too_large"] = True
                    raise BodyTooLarge
            return msg

        async def guarded_send(msg) -> None:
            if state["too_large"] and not state["started"]:
                return  # the application's answer to the cut body is replaced by the 413 below
            if msg["type"] == "http.response.start":
                state["started"] = True
                msg = {**msg, "headers": [*msg.get("headers", []), *extra]}
            elif msg["type"] == "http.response.body":
                if not msg.get("more_body", False):
                    state["complete"] = True
                if head:
                    msg = {**msg, "body": b""}
            await send(msg)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except Exception as exc:
            if state["too_large"] and not state["started"]:
                pass  # answered below
            elif state["complete"]:
                # Starlette's ServerErrorMiddleware has sent the JSON 500 and re-raises for the
                # server's log (done by our handler already): keep the connection usable.
                log.debug("exception after a complete answer on %s %s: %r", method, path, exc)
                return
            elif not state["started"]:
                log.exception("internal error on %s %s", method, path)
                await answer(500, f"internal error ({type(exc).__name__}); this is a bug, please report it")
                return
            else:
                raise
        except BaseException:  # cancelled (the server is shutting down): say so if nothing was sent yet
            if not state["started"]:
                await answer(503, "the server is shutting down; retry in a moment", [(b"retry-after", b"5"), (b"connection", b"close")])
            raise
        if state["too_large"] and not state["started"]:
            await answer(413, f"request body is over the limit of {self.max_body_bytes / 1e6:.1f} MB "
                              f"(refused after {state['received'] / 1e6:.1f} MB were read)", [(b"connection", b"close")])


def _h11_protocol():
    """:class:`JsonH11Protocol`, built lazily (uvicorn is only needed to serve)."""
    import asyncio

    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class JsonH11Protocol(H11Protocol):
        """uvicorn's h11 protocol with JSON 400s and a deadline for the request head."""

        header_timeout_s = HEADER_TIMEOUT_S

        def connection_made(self, transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._head_timer: asyncio.TimerHandle | None = None
            self._arm_head_timer()

        def _arm_head_timer(self) -> None:
            if getattr(self, "_head_timer", None) is None:
                self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_timeout)

        def _disarm_head_timer(self) -> None:
            if getattr(self, "_head_timer", None) is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def data_received(self, data: bytes) -> None:
            if self.conn.their_state is h11.IDLE:
                self._arm_head_timer()  # first bytes of a new request on a kept-alive connection
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:
                self._disarm_head_timer()  # the head is complete (the body has its own pace)

        def on_response_complete(self) -> None:
            self._disarm_head_timer()
            super().on_response_complete()

        def connection_lost(self, exc) -> None:
            self._disarm_head_timer()
            super().connection_lost(exc)

        def _head_timeout(self) -> None:
            self._head_timer = None
            if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
                return
            hs, body = json_body(408, f"request head not complete within {self.header_timeout_s:g} s")
            head = b"HTTP/1.1 408 Request Timeout\r\n" + b"".join(k + b": " + v + b"\r\n" for k, v in hs + [(b"connection", b"close")])
            self.transport.write(head + b"\r\n" + body)
            self.transport.close()

        def send_400_response(self, msg: str) -> None:
            hs, body = json_body(400, f"malformed HTTP request: {msg}")
            event = h11.Response(status_code=400, headers=hs + [(b"connection", b"close")], reason=b"Bad Request")
            try:
                self.transport.write(self.conn.send(event))
                self.transport.write(self.conn.send(h11.Data(data=body)))
                self.transport.write(self.conn.send(h11.EndOfMessage()))
            except h11.LocalProtocolError:  # h11 cannot answer in its current state: say it raw
                head = b"HTTP/1.1 400 Bad Request\r\n" + b"".join(k + b": " + v + b"\r\n" for k, v in hs + [(b"connection", b"close")])
                self.transport.write(head + b"\r\n" + body)
            self.transport.close()

    return JsonH11Protocol


def json_h11_protocol():
    """The uvicorn ``http`` protocol class to serve with (see :class:`Guard` for the ASGI side)."""
    return _h11_protocol()


def install_guard(app, *, allowed_hosts: Iterable[str], allowed_origins: Iterable[str], max_body_bytes: int) -> None:
    """Wrap ``app``'s whole middleware stack (built on its first request) in a :class:`Guard`.

    Outside Starlette's ``ServerErrorMiddleware`` on purpose: the guard must see the 500s that
    middleware answers, and add its headers to them.
    """
    build = app.build_middleware_stack
    hosts, origins = list(allowed_hosts), list(allowed_origins)
    app.build_middleware_stack = lambda: Guard(build(), allowed_hosts=hosts, allowed_origins=origins, max_body_bytes=max_body_bytes)


# --- OpenAPI: the error answers every endpoint can give, with their JSON schema -------------------
def error_responses() -> dict:
    """``responses=`` for the whole app: the error answers any request can get (the guards above
    answer them before any route), with the ``{"error": str}`` body of
    :class:`deepmend.api.schemas.ErrorBody`. Routes add or refine their own (``schemas.ERRORS``)."""
    from deepmend.api.schemas import ErrorBody

    said = {
        400: "Malformed request, Host not allowed, or bad input (the message names it)",
        403: "Cross-origin state-changing request refused",
        404: "No such resource",
        408: "The request head did not arrive in time",
        413: "Request body over its size limit",
        422: "A parameter is malformed or missing (the message names it)",
        500: "Internal error (a bug: please report it)",
        503: "Busy or shutting down: retry after the Retry-After header's delay",
    }
    return {code: {"model": ErrorBody, "description": text} for code, text in said.items()}
