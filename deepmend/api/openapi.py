"""Print the API's OpenAPI schema as JSON (``python -m deepmend.api.openapi``).

The web app's TypeScript types (web/src/api.gen.ts) are generated from it by
``npm run gen:api`` (web/scripts/gen-api-types.sh); nothing is computed and no data is read.
"""

from __future__ import annotations

import json
import sys


def schema() -> dict:
    """The OpenAPI document of :func:`deepmend.api.app.create_app` (without serving anything)."""
    from deepmend.api.app import create_app

    return create_app(static_dir=None).openapi()


if __name__ == "__main__":
    json.dump(schema(), sys.stdout, indent=1, sort_keys=True, ensure_ascii=False)
    sys.stdout.write("\n")
