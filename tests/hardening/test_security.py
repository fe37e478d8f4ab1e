"""Security: no endpoint reads a path a client supplies; upload limits answer 413; CORS is
closed to foreign origins by default; nothing unpickles data; the server binds 127.0.0.1."""

from __future__ import annotations

import ast
import os
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api_helpers import SCENE

PKG = Path(__file__).resolve().parents[2] / "deepmend"

# --- recording every file the process opens (audit hooks: builtins.open, io.open, os.open,
# os.listdir/scandir, including C extensions that go through Python's io) -------------------
_RECORD: list[str] | None = None
_LOCK = threading.Lock()


def _audit(event: str, args) -> None:
    if _RECORD is None or event not in ("open", "os.listdir", "os.scandir"):
        return
    p = args[0] if args else None
    if isinstance(p, (str, bytes, os.PathLike)):
        with _LOCK:
            if _RECORD is not None:
                _RECORD.append(os.fsdecode(p))


sys.addaudithook(_audit)  # a no-op except inside record_opens()


@contextmanager
def record_opens():
    global _RECORD
    _RECORD = []
    try:
        yield _RECORD
    finally:
        _RECORD = None


@pytest.fixture(scope="module")
def secret(tmp_path_factory):
    """A file outside the cache that no request may read, and its relative path from the cache."""
    d = tmp_path_factory.mktemp("outside")
    f = d / "secret.csv"
    f.write_text("site_id,lat,lon\nX1,45.7,4.8\nX2,45.8,4.9\nX3,45.75,4.95\n")
    return f


def traversal_values(secret: Path, cache_root: Path) -> list[str]:
    rel = os.path.relpath(secret, cache_root / "uploads")
    return [
        "../../../../../../etc/passwd", "/etc/passwd", "..\\..\\..\\windows\\win.ini", "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "....//....//etc/passwd", "..%252f..%252fetc%252fpasswd", str(secret), rel, rel.removesuffix(".csv"), "file://" + str(secret),
        "../uploads/../../" + secret.name, "/proc/self/environ", "~/.ssh/id_rsa", "secret.csv\x00.png", str(secret.parent),
    ]


ENDPOINTS = {
    "/api/sites": ("country", "city", "operator"),
    "/api/region": ("country", "city"),
    "/api/map": ("country", "city", "operator", "site", "model", "alpha"),
    "/api/map.png": ("country", "city", "operator", "site", "model"),
    "/api/map.npy": ("country", "city", "operator", "site", "model"),
    "/api/map.tif": ("country", "city", "operator", "site", "model"),
    "/api/metrics": ("country", "city", "operator", "site", "model"),
    "/api/features": ("country", "city", "operator", "site"),
    "/api/feature.png": ("country", "city", "operator", "site", "name"),
}


def test_path_traversal_in_every_parameter(client, service, lyon_site, small_upload, secret):
    """Each parameter of each endpoint gets each traversal value (the others valid, on the Lyon
    scene and on an upload scene with country=upload): 4xx, and no file outside the cache, the
    bundled data and the installed code is opened — in particular not the target."""
    from deepmend.config import data_dir

    values = traversal_values(secret, service.cache_root)
    with record_opens() as probe:  # the recorder sees opens in this thread and in the app's threads
        (secret.parent / "probe.txt").write_text("x")
        t = threading.Thread(target=lambda: open(secret.parent / "probe.txt").close())
        t.start()
        t.join()
    assert [os.path.basename(p) for p in probe].count("probe.txt") == 2
    allowed_roots = [str(service.cache_root.resolve()), str(data_dir().resolve()), str(Path(sys.prefix).resolve()), str(PKG.resolve()),
                     str(Path(sys.base_prefix).resolve()), "/usr/share/", "/usr/lib/", "/proc/self/", "/dev/", "/sys/"]
    n = 0
    service.clear_memory()  # the upload scene is rebuilt under the recorder: it must see that read
    with record_opens() as opened:
        for path, params in ENDPOINTS.items():
            for base in ({**SCENE, "site": lyon_site}, {**small_upload, "site": "H3"}):
                base = {**base, "model": "voronoi", "name": "d1"}
                for p in params:
                    for v in values:
                        q = {k: base[k] for k in ("country", "city", "operator", "site", "model", "name") if k in params or k in ("country", "city")}
                        q[p] = v
                        r = client.get(path, params=q)
                        n += 1
                        assert 400 <= r.status_code < 500, (path, p, v, r.status_code, r.text[:200])
                        assert set(r.json()) == {"error"}
                        assert "root:" not in r.text and "X1,45.7" not in r.text
    files = sorted(set(opened))
    assert any(f.endswith(f"uploads/{small_upload['city']}.csv") for f in files), files  # reads in the app's threads are seen
    tmp_roots = [os.path.realpath(d) for d in ("/tmp", os.environ.get("TMPDIR", "/tmp"))]
    outside = [f for f in files if not any(os.path.realpath(f).startswith(r) for r in allowed_roots + tmp_roots)]
    assert outside == [], outside
    touched = [f for f in files if os.path.realpath(f) in (str(secret), str(secret.parent), "/etc/passwd")
               or "passwd" in f or "win.ini" in f or "id_rsa" in f or "environ" in f]
    assert touched == [], touched
    # the only upload read is the one the tests made: nothing else under uploads/
    uploads = [f for f in files if "/uploads/" in f and not f.endswith(f"{small_upload['city']}.csv")]
    assert uploads == [], uploads
    print(f"path traversal: {n} requests, {len(files)} distinct files opened, none outside the allowed roots")


def test_upload_names_and_ids_never_become_paths(client, service, secret):
    """The client's file name is only shown (sanitised), never used: the upload is stored by hash."""
    name = "../../" + secret.name
    content = b"site_id,lat,lon\nA,45.70,4.80\nB,45.72,4.85\nC,45.75,4.82\n"
    before = secret.read_bytes()
    with record_opens() as opened:
        r = client.post("/api/uploads", files={"file": (name, content, "text/csv")})
    assert r.status_code == 200, r.text
    assert secret.read_bytes() == before
    written = {os.path.realpath(f) for f in opened}
    assert all(f.startswith(os.path.realpath(service.cache_root)) or f.startswith(os.path.realpath(sys.prefix)) or "/usr/" in f for f in written), written
    bad = client.post("/api/uploads", files={"file": (name, b"not,a\ncsv", "text/csv")})
    assert bad.status_code == 400 and ".." not in bad.json()["error"] and "/" not in bad.json()["error"].split(":")[0]


def test_static_web_app_does_not_serve_files_outside_its_directory(tmp_path, api_env, api_service):
    from deepmend.api.app import create_app

    web = tmp_path / "web"
    web.mkdir()
    (web / "index.html").write_text("<html>app</html>")
    (tmp_path / "secret.txt").write_text("TOP SECRET")
    with TestClient(create_app(static_dir=web, service=api_service()), raise_server_exceptions=False) as c:
        assert c.get("/").status_code == 200
        for p in ("/../secret.txt", "/..%2fsecret.txt", "/%2e%2e/secret.txt", "/%2e%2e%2fsecret.txt", "//secret.txt", "/..\\secret.txt"):
            r = c.get(p)
            assert "TOP SECRET" not in r.text and r.status_code < 500, (p, r.status_code)


# --- upload limits ----------------------------------------------------------------------
def test_upload_over_size_limit_is_413(client):
    from deepmend.api.service import MAX_UPLOAD_BYTES

    r = client.post("/api/uploads", files={"file": ("big.csv", b"site_id,lat,lon\n" + b"x" * (MAX_UPLOAD_BYTES + 1), "text/csv")})
    assert r.status_code == 413 and "MB" in r.json()["error"]


def test_upload_over_size_limit_without_content_length_is_413(service):
    """A body streamed without Content-Length is cut at the limit + 1 byte by the handler, then refused."""
    from deepmend.api.service import MAX_UPLOAD_BYTES, TooLargeError

    with pytest.raises(TooLargeError, match="MB"):
        service.upload(b"a" * (MAX_UPLOAD_BYTES + 1), "stream.csv")


def test_upload_over_row_limit_is_413(client):
    from deepmend.api.service import MAX_UPLOAD_ROWS

    rows = "site_id,lat,lon\n" + "".join(f"R{k},45.{k % 1000:03d},4.8\n" for k in range(MAX_UPLOAD_ROWS + 1))
    r = client.post("/api/uploads", files={"file": ("rows.csv", rows.encode(), "text/csv")})
    assert r.status_code == 413 and str(MAX_UPLOAD_ROWS) in r.json()["error"]


# --- CORS ---------------------------------------------------------------------------------
def test_cors_closed_to_foreign_origins_by_default(api_env, monkeypatch, api_service):
    from deepmend.api.app import create_app

    monkeypatch.delenv("DEEPMEND_CORS_ORIGINS", raising=False)
    with TestClient(create_app(static_dir=api_env / "none", service=api_service()), raise_server_exceptions=False) as c:
        for origin in ("http://evil.example", "null", "http://127.0.0.1.evil.example", "http://localhost:5173"):
            r = c.get("/api/catalog", headers={"Origin": origin})
            assert r.status_code == 200 and "access-control-allow-origin" not in r.headers, origin
            pre = c.options("/api/catalog", headers={"Origin": origin, "Access-Control-Request-Method": "GET"})
            assert "access-control-allow-origin" not in pre.headers, origin
            up = c.post("/api/uploads", headers={"Origin": origin}, files={"file": ("a.csv", b"x", "text/csv")})
            assert "access-control-allow-origin" not in up.headers


def test_cors_configured_origin_only(api_env, monkeypatch, api_service):
    from deepmend.api.app import create_app

    monkeypatch.setenv("DEEPMEND_CORS_ORIGINS", "http://localhost:5173")
    with TestClient(create_app(static_dir=api_env / "none", service=api_service())) as c:
        assert c.get("/api/catalog", headers={"Origin": "http://localhost:5173"}).headers["access-control-allow-origin"] == "http://localhost:5173"
        assert "access-control-allow-origin" not in c.get("/api/catalog", headers={"Origin": "http://evil.example"}).headers


# --- no deserialisation of code -----------------------------------------------------------
UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal", "jsonpickle"}


def _unsafe_calls(tree: ast.AST, src: str) -> list[str]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [f"import {a.name}" for a in node.names if a.name.split(".")[0] in UNSAFE_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in UNSAFE_MODULES:
            out.append(f"from {node.module} import …")
        elif isinstance(node, ast.Call):
            f = node.func
            name = ast.unparse(f)
            kw = {k.arg: k.value for k in node.keywords}
            if name in ("torch.load",) and not (isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True):
                out.append(f"line {node.lineno}: torch.load without weights_only=True")
            if name in ("np.load", "numpy.load") and "allow_pickle" in kw and not (isinstance(kw["allow_pickle"], ast.Constant) and kw["allow_pickle"].value is False):
                out.append(f"line {node.lineno}: np.load with allow_pickle={ast.unparse(kw['allow_pickle'])}")
            if name.endswith("read_pickle") or name.endswith(".loads") and name.split(".")[0] in UNSAFE_MODULES:
                out.append(f"line {node.lineno}: {name}")
            if name in ("eval", "exec"):
                out.append(f"line {node.lineno}: {name}()")
    return out


def test_no_pickle_or_unsafe_loading_anywhere_in_the_package():
    files = sorted(PKG.rglob("*.py"))
    assert len(files) > 30
    problems = {}
    for f in files:
        src = f.read_text(encoding="utf-8")
        found = _unsafe_calls(ast.parse(src, filename=str(f)), src)
        if "allow_pickle=True" in src:
            found.append("allow_pickle=True")
        if found:
            problems[str(f.relative_to(PKG.parent))] = found
    assert problems == {}, problems


def test_the_unsafe_call_scanner_finds_what_it_should():
    bad = "import pickle\nimport numpy as np\nnp.load(p, allow_pickle=True)\ntorch.load(p)\ntorch.load(p, weights_only=False)\npd.read_pickle(p)\n"
    assert len(_unsafe_calls(ast.parse(bad), bad)) == 5
    ok = "np.load(p)\nnp.load(p, allow_pickle=False)\ntorch.load(p, weights_only=True)\n"
    assert _unsafe_calls(ast.parse(ok), ok) == []


# --- bind address -------------------------------------------------------------------------
def test_serve_binds_localhost_by_default(monkeypatch):
    from click.testing import CliRunner

    from deepmend.api import lifecycle
    from deepmend.api.cli import serve
    from deepmend.cli import cli

    host_opt = next(p for p in serve.params if p.name == "host")
    assert host_opt.default == "127.0.0.1"
    assert cli.get_command(None, "serve") is serve
    seen = {}
    monkeypatch.setattr(lifecycle, "serve", lambda app, host, port, log_level: seen.update(host=host))
    res = CliRunner().invoke(cli, ["serve", "--port", "0"])
    assert res.exit_code == 0, res.output
    assert seen["host"] == "127.0.0.1"
