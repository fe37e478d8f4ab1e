"""The web app's TypeScript types are generated from the API's OpenAPI schema and kept current.

``web/src/api.gen.ts`` is what ``npm run gen:api`` (openapi-typescript on ``python -m
deepmend.api.openapi``) writes; this test regenerates it into a temporary file and fails when the
committed one differs (an endpoint or a response model changed without ``npm run gen:api``).
Needs the web app's dependencies (``make web``; ``make test`` installs them).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from deepmend.api.openapi import schema

WEB = Path(__file__).resolve().parents[2] / "web"
CLI = WEB / "node_modules" / "openapi-typescript" / "bin" / "cli.js"


def test_committed_api_types_match_the_schema(tmp_path):
    node = shutil.which("node")
    if node is None or not CLI.is_file():
        pytest.fail("node and web/node_modules are needed (make web): the API types cannot be checked")
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(schema(), indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    out = tmp_path / "api.gen.ts"
    subprocess.run([node, str(CLI), str(spec), "-o", str(out)], check=True, capture_output=True, cwd=WEB, timeout=120)
    committed = (WEB / "src" / "api.gen.ts").read_text()
    assert out.read_text() == committed, "web/src/api.gen.ts is stale: run `npm run gen:api` in web/"


def test_the_schema_describes_the_jobs_answer():
    s = schema()
    ref = s["paths"]["/api/jobs"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/JobsOut") and "fraction" in s["components"]["schemas"]["JobOut"]["properties"]
