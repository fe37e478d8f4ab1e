"""One import direction (docs/ARCHITECTURE.md): no upward and no circular import between deepmend's parts.

Every ``import``/``from … import`` of every module is read with :mod:`ast` — including
imports inside functions, the usual way to hide a cycle — as well as
``__import__("deepmend.…")`` and ``importlib.import_module("deepmend.…")`` calls.

Made to fail once: adding ``from deepmend.registry import MODELS`` inside a function of
``deepmend/models/teacher.py`` failed ``test_no_upward_import`` (models → registry), and
an ``import deepmend.evaluation`` inside ``deepmend/train/cli.py``'s function together
with one of train in evaluation failed ``test_no_cycle_within_a_layer``.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "deepmend"

#: The layers, lowest first: a part may import its own layer's parts (without cycles) and lower ones.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("__init__", "errors", "config", "log", "resources", "io", "scene_spec"),
    ("data",),
    ("grid",),
    ("scene",),
    ("metrics", "render", "cli_options"),
    ("models",),
    ("groundtruth",),
    ("registry",),
    ("train", "evaluation"),
    ("engine", "geolocate"),
    ("api",),
    ("cli",),
)
LAYER = {part: k for k, parts in enumerate(LAYERS) for part in parts}

#: Known cycles owned by another change in flight; each entry must name who removes it.
#: (engine ↔ geolocate was split by the geolocation work: geolocate imports engine, never the reverse.)
PENDING_CYCLES: set[frozenset[str]] = set()


def part_of(path: Path) -> str:
    """The top-level part of deepmend a file belongs to (a subpackage or a top-level module)."""
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_modules(path: Path, module: str | None = None) -> list[tuple[str, int]]:
    """(absolute module name, line) of every deepmend import in a file, at any depth.

    ``module`` is the file's dotted name (default: from its place in the package).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = (module or module_name(path)).split(".")
    is_pkg = path.name == "__init__.py"
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here if is_pkg else here[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append((mod, node.lineno))
            out += [(f"{mod}.{a.name}", node.lineno) for a in node.names if mod == "deepmend"]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            if name in ("__import__", "import_module"):
                out.append((node.args[0].value, node.lineno))
    return [(m, ln) for m, ln in out if m == "deepmend" or m.startswith("deepmend.")]


def edges() -> dict[tuple[str, str], list[str]]:
    """(importing part, imported part) → ["file:line", …] for imports across parts."""
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(PACKAGE.rglob("*.py")):
        src = part_of(path)
        for mod, line in imported_modules(path):
            parts = mod.split(".")
            dst = parts[1] if len(parts) > 1 else "__init__"
            if dst != src:
                found[(src, dst)].append(f"{path.relative_to(PACKAGE.parent)}:{line}")
    return found


def test_every_part_has_a_layer():
    parts = {part_of(p) for p in PACKAGE.rglob("*.py")}
    missing = sorted(parts - set(LAYER))
    assert not missing, f"place these parts of deepmend in LAYERS (and docs/ARCHITECTURE.md): {missing}"


def test_no_upward_import():
    bad = [f"{a} (layer {LAYER[a]}) imports {b} (layer {LAYER[b]}) at {', '.join(where)}"
           for (a, b), where in sorted(edges().items()) if a in LAYER and b in LAYER and LAYER[b] > LAYER[a]]
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_no_cycle_within_a_layer():
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in edges():
        graph[a].add(b)
    cycles = []
    for a in sorted(graph):
        for b in sorted(graph[a]):
            if a < b and a in graph.get(b, ()) and frozenset({a, b}) not in PENDING_CYCLES:
                cycles.append(f"{a} ↔ {b}")
    # longer cycles: a part reaching itself through others
    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for n in graph.get(start, ()):
            if n == goal:
                return True
            if n not in seen:
                seen.add(n)
                if reaches(n, goal, seen):
                    return True
        return False

    for a in sorted(graph):
        if reaches(a, a, set()) and not any(a in c for c in PENDING_CYCLES):
            cycles.append(f"{a} is part of an import cycle")
    assert not cycles, "import cycles:\n" + "\n".join(sorted(set(cycles)))


def test_the_check_sees_function_level_and_relative_imports(tmp_path):
    """The parser itself: an import hidden in a function, a relative one and __import__ are all seen."""
    f = tmp_path / "probe.py"
    f.write_text("def f():\n    from deepmend.registry import MODELS\n    from ..api import app\n    __import__('deepmend.cli')\n")
    mods = sorted(m for m, _ in imported_modules(f, "deepmend.models.probe"))
    assert mods == ["deepmend.api", "deepmend.cli", "deepmend.registry"]
