"""Fixtures of the hardening tests: the API app on a private cache dir (as tests/api does), a
small uploaded scene whose models fit in milliseconds (``small_upload``, shared with tests/api), and a case counter that the fuzz
tests report into (docs/RELIABILITY.md quotes the counts).

The app, its cache and the stand-in ground truth are shared with tests/api
(tests/conftest.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from api_helpers import SCENE

#: fuzz case counts (see _cases.py) are written at session end to $DEEPMEND_FUZZ_COUNTS (JSON)
#: when that variable is set, and printed in the terminal summary.
from _cases import CASES  # noqa: E402


def pytest_sessionfinish(session, exitstatus):
    out = os.environ.get("DEEPMEND_FUZZ_COUNTS")
    if out and CASES:
        old = json.loads(Path(out).read_text()) if Path(out).exists() else {}
        old.update(CASES)
        Path(out).write_text(json.dumps(dict(sorted(old.items())), indent=1))


def pytest_terminal_summary(terminalreporter):
    if CASES:
        terminalreporter.write_sep("-", "hardening: generated cases run")
        for k, v in sorted(CASES.items()):
            terminalreporter.write_line(f"{k}: {v}")
        terminalreporter.write_line(f"total: {sum(CASES.values())}")


@pytest.fixture(scope="session")
def lyon_site(client):
    r = client.get("/api/sites", params=SCENE)
    assert r.status_code == 200, r.text
    return r.json()["features"][0]["properties"]["site_id"]
