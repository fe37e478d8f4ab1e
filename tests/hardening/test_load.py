"""A tiny version of benchmarks/bench_load.py (5 clients × 5 s against a real `deepmend serve`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_load.py"


@pytest.mark.slow
def test_small_load_zero_errors_bounded_memory_localhost(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_load", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    res = mod.main(["--clients", "5", "--duration", "5", "--max-requests", "2000", "--cache-mb", "8", "--json", str(tmp_path / "load.json")])
    assert res["listen"] == ["127.0.0.1"], res["listen"]  # started without --host
    assert res["errors"] == 0, res["error_samples"]
    assert res["server_alive"] and res["requests"] > 20 and res["maps_uncached"] > 5
    assert res["map_cache_mb"] <= 8, "the on-disk map cache is evicted down to its limit"
    assert res["rss_mb_peak"] < 2048
