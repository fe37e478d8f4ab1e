#!/bin/sh
# TypeScript types of the HTTP API, generated from the FastAPI app's OpenAPI schema (never copied by hand):
#   npm run gen:api            (PYTHON=/path/to/python to use another interpreter than ../.venv/bin/python)
# tests/api/test_openapi_types.py fails when src/api.gen.ts is stale.
set -e
cd "$(dirname "$0")/.."
PY="${PYTHON:-../.venv/bin/python}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
PYTHONPATH="$(cd .. && pwd)${PYTHONPATH:+:$PYTHONPATH}" "$PY" -m deepmend.api.openapi > "$tmp/openapi.json"
node node_modules/openapi-typescript/bin/cli.js "$tmp/openapi.json" -o src/api.gen.ts
