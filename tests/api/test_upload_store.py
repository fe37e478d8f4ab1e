"""The upload store (deepmend/api/upload_store.py): least recently used, a quota per client, and
no client can evict another client's upload in use."""

from __future__ import annotations

import time

import pytest

from deepmend.api.upload_store import StoreFullError, UploadFiles


def _put(store: UploadFiles, tmp_path, uid: str, client: str, size: int = 10) -> list[str]:
    src = tmp_path / f"src-{uid}-{client}"
    src.write_bytes(b"x" * size)
    out = store.put(uid, src, client)
    time.sleep(0.01)  # distinct use times
    return out


def ids(k: int) -> str:
    return f"{k:016x}"


def make(tmp_path, **kw) -> UploadFiles:
    args = dict(max_count=10, max_bytes=10_000, per_client_count=3, per_client_bytes=10_000, in_use_s=3600)
    return UploadFiles(tmp_path / "store", **{**args, **kw})


def test_a_client_over_its_quota_loses_its_own_least_recently_used(tmp_path):
    s = make(tmp_path)
    for k in range(3):
        _put(s, tmp_path, ids(k), "A")
    _put(s, tmp_path, ids(100), "B")
    s.touch(ids(0))
    assert _put(s, tmp_path, ids(3), "A") == [ids(1)]  # A's LRU (0 was used again), never B's
    assert set(s.ids()) == {ids(0), ids(2), ids(3), ids(100)}
    assert ids(1) not in s and ids(100) in s


def test_many_small_uploads_cannot_evict_another_clients_upload_in_use(tmp_path):
    """The attack of issue 18: 200 tiny uploads from one client. The other client's upload stays."""
    s = make(tmp_path, per_client_count=200)
    _put(s, tmp_path, ids(999), "victim")
    refused = 0
    for k in range(200):
        try:
            _put(s, tmp_path, ids(k), "attacker")
        except StoreFullError:
            refused += 1
    assert ids(999) in s and "victim" in s.owners(ids(999))
    assert len(s.ids()) <= 10
    assert refused == 0  # the attacker evicts its own uploads: it is never refused either


def test_store_full_of_others_uploads_in_use_refuses_with_503_error(tmp_path):
    s = make(tmp_path, max_count=3, per_client_count=3)
    for k, c in enumerate("ABC"):
        _put(s, tmp_path, ids(k), c)
    with pytest.raises(StoreFullError, match="full"):
        _put(s, tmp_path, ids(9), "D")
    assert set(s.ids()) == {ids(0), ids(1), ids(2)} and ids(9) not in s
    assert not list(tmp_path.glob("store/*9.csv"))
    s.in_use_s = 0  # once the others are no longer in use, the least recently used goes
    assert _put(s, tmp_path, ids(9), "D") == [ids(0)]


def test_shared_file_survives_one_owner_releasing_it(tmp_path):
    s = make(tmp_path, per_client_count=1)
    _put(s, tmp_path, ids(5), "A")
    _put(s, tmp_path, ids(5), "B")  # same content, same id
    assert _put(s, tmp_path, ids(6), "A") == []  # A released 5, B still holds it
    assert ids(5) in s and s.owners(ids(5)) == {"B"}


def test_byte_quota_and_restart(tmp_path):
    s = make(tmp_path, per_client_bytes=250)
    for k in range(3):
        _put(s, tmp_path, ids(k), "A", size=100)
    assert ids(0) not in s  # 300 bytes > 250: the oldest of A's went
    again = make(tmp_path)  # a restart: files found on disk are kept, unowned
    assert set(again.ids()) == {ids(1), ids(2)}
    assert again.owners(ids(1)) == set()


def test_api_clients_are_namespaced_by_address(api_env, tmp_path, monkeypatch, api_service):
    """Over HTTP: a client's uploads beyond its quota evict its own, never another address's."""
    from fastapi.testclient import TestClient

    from deepmend.api.app import create_app
    from api_helpers import small_csv

    monkeypatch.setenv("DEEPMEND_API_UPLOADS_PER_CLIENT", "2")
    svc = api_service(cache_root=tmp_path / "cache")
    app = create_app(static_dir=tmp_path / "none", service=svc)
    with TestClient(app, client=("192.0.2.1", 1000)) as alice, TestClient(app, client=("192.0.2.2", 1000)) as mallory:
        mine = alice.post("/api/uploads", files={"file": ("a.csv", small_csv(0).encode(), "text/csv")}).json()["upload_id"]
        theirs = [mallory.post("/api/uploads", files={"file": ("m.csv", small_csv(k).encode(), "text/csv")}).json()["upload_id"]
                  for k in range(1, 8)]
        assert svc.uploads.files.owners(mine) == {"192.0.2.1"}
        assert alice.get("/api/sites", params={"country": "upload", "city": mine, "operator": "all"}).status_code == 200
        assert sorted(svc.uploads.files.ids()) == sorted([mine, *theirs[-2:]])
