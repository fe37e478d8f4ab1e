"""Counter of generated fuzz cases (name of a property → cases run), reported by conftest.py."""

from __future__ import annotations

import collections

CASES: collections.Counter = collections.Counter()


def count(name: str) -> None:
    CASES[name] += 1
