"""Where data and cache are found, and what a user is told when data are missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepmend import config
from deepmend.cli import main
from deepmend.errors import InputError

SHARED = (config.REPO_DIR.parent / "shared" / "data").resolve()


@pytest.fixture
def fresh_catalog(monkeypatch):
    from deepmend.data import catalog

    catalog.clear_caches()
    yield
    catalog.clear_caches()


def test_data_dir_search_order(monkeypatch, tmp_path):
    monkeypatch.delenv("DEEPMEND_DATA_DIR", raising=False)
    if SHARED.is_dir():
        assert config.data_dir() == SHARED  # a source checkout beside ../shared/data
    monkeypatch.setattr(config, "REPO_DIR", tmp_path / "site-packages")  # as installed: no pyproject.toml
    assert config.data_dir() == config.EMBEDDED_DATA_DIR
    monkeypatch.setenv("DEEPMEND_DATA_DIR", str(tmp_path))
    assert config.data_dir() == tmp_path.resolve()
    other = tmp_path / "other"
    other.mkdir()
    config.set_data_dir(other)  # --data-dir
    assert config.data_dir() == other.resolve()


def test_embedded_default_offers_lyon_only(monkeypatch, fresh_catalog, capsys):
    monkeypatch.setenv("DEEPMEND_DATA_DIR", str(config.EMBEDDED_DATA_DIR))
    assert main(["catalog", "--json"]) == 0
    import json

    cat = json.loads(capsys.readouterr().out)
    assert [c["code"] for c in cat["countries"]] == ["FR"]
    (lyon,) = cat["countries"][0]["cities"]
    assert lyon["name"] == "Lyon" and {o["name"] for o in lyon["operators"]} == {"Orange", "SFR", "Bouygues", "Free"}
    size = sum(p.stat().st_size for p in config.EMBEDDED_DATA_DIR.rglob("*") if p.is_file())
    assert size < 600_000
    assert "Licence Ouverte" in (config.EMBEDDED_DATA_DIR / "SOURCES.md").read_text()


def test_missing_data_says_where_and_how(monkeypatch, tmp_path, fresh_catalog, capsys):
    monkeypatch.setenv("DEEPMEND_DATA_DIR", str(tmp_path / "nowhere"))
    assert main(["catalog"]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "nowhere") in err and "DEEPMEND_DATA_DIR" in err and "--data-dir" in err
    assert main(["--data-dir", str(tmp_path / "nowhere"), "catalog"]) == 2
    monkeypatch.setenv("DEEPMEND_DATA_DIR", str(tmp_path))
    with pytest.raises(InputError, match=r"fr_city_4g_sites_2022.csv.*DEEPMEND_DATA_DIR"):
        config.data_file("fr_city_4g_sites_2022.csv")


def test_cache_dir_is_the_user_cache_unless_overridden(monkeypatch, tmp_path):
    monkeypatch.delenv("DEEPMEND_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert config.cache_dir() == tmp_path / "xdg" / "deepmend"
    monkeypatch.setenv("DEEPMEND_CACHE_DIR", str(tmp_path / "mine"))
    assert config.cache_dir() == tmp_path / "mine" and Path(tmp_path / "mine").is_dir()
