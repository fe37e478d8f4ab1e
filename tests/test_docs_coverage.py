"""Docs coverage of the public API: numpy-style docstrings on every public function, class and method.

:data:`PUBLIC` is every module of ``deepmend/`` (globbed, so a new module is covered the day it is
added) except the ``cli.py`` ones: a command's docstring is its ``--help`` text, and its errors are
the CLI's one-line ``error:`` and exit code 2 (docs/ARCHITECTURE.md). For each, read with :mod:`ast`:

* every public function, class and method (name without a leading ``_``, ``__init__``
  excepted: the class documents its parameters) has a docstring; click commands
  (``@click.command``) are left out like the ``cli.py`` modules: their docstring is their
  ``--help`` text;
* a function or method that raises a named exception itself (``raise X(...)``) has a
  numpy ``Raises`` section (what the caller must handle is written down);
* a class whose ``__init__`` takes parameters documents them in a ``Parameters`` section
  (or in ``__init__``'s docstring), unless it is a plain dataclass-like record;
* in the numerics modules of :data:`NUMERICS`, public functions have a ``Parameters`` section
  (when they take an argument) and a ``Returns`` (or ``Yields``) section (unless annotated
  ``-> None`` or returning nothing), and the module or the function names its published
  source (a citation "(Author 2020)", "et al.", or METHOD.md §).

Made to fail on purpose: deleting the docstring of ``deepmend.engine.executors.Executor`` (a
module the old hand-written list left out), the ``Raises`` section of
``deepmend.metrics.emd.emd_km`` and the ``Returns`` section of ``deepmend.groundtruth.pathloss.uma``
(numerics) made :func:`test_public_api_is_documented` fail naming all three; earlier, deleting the
``Raises`` section of ``deepmend.registry.model_class`` and the docstring of
``deepmend.resources.once`` was reported by name too. The checks of the rules themselves run on a
small module written to a temporary directory (:func:`test_the_check_finds_what_is_missing`);
disabling the click-command and ``-> None`` rules, or naming a missing module in an exception
list, made the three tests fail.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Every module of deepmend/ except the commands (``cli.py``: a command's docstring is its ``--help`` text and its
# errors are the CLI's one-line ``error:`` and exit code 2, docs/ARCHITECTURE.md). Globbed, so a new module is covered
# the day it is added.
EXCLUDED = ("cli.py",)
PUBLIC = tuple(
    sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "deepmend").rglob("*.py") if p.name not in EXCLUDED)
)
# The numerics: public functions need ``Parameters`` and ``Returns`` and the module or the function names the published
# source of its formulas (a citation or METHOD.md §). Whole packages plus the numerics modules of mixed packages.
NUMERICS_PACKAGES = ("deepmend/grid/", "deepmend/metrics/", "deepmend/models/", "deepmend/groundtruth/", "deepmend/train/")
NUMERICS_MODULES = (
    "deepmend/scene.py",
    "deepmend/render.py",
    "deepmend/engine/tiles.py",
    "deepmend/geolocate/estimators.py",
    "deepmend/geolocate/density.py",
    "deepmend/geolocate/priors.py",
    "deepmend/geolocate/maps.py",
)
# Modules of those packages that hold no formula (file layout, storage, the dataset index): checked as PUBLIC only.
NOT_NUMERICS = (
    "deepmend/grid/map_dir.py",
    "deepmend/groundtruth/storage.py",
    "deepmend/groundtruth/dataset.py",
    "deepmend/groundtruth/reader.py",
    "deepmend/groundtruth/common.py",  # digests and cache keys: no formula
)
NUMERICS = tuple(
    rel
    for rel in PUBLIC
    if rel in NUMERICS_MODULES or (rel.startswith(NUMERICS_PACKAGES) and rel not in NOT_NUMERICS)
)
SOURCE = re.compile(r"(METHOD\.md|\(\w[\w &.,-]* \d{4}\)|et al\.|\d{4}\)|standard definition)")


def _raises_named(fn: ast.AST) -> bool:
    """True when the body raises a named exception itself (not a bare re-raise), outside nested defs."""
    stack = list(ast.iter_child_nodes(fn))
    while stack:
        n = stack.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(n, ast.Raise) and n.exc is not None:
            target = n.exc.func if isinstance(n.exc, ast.Call) else n.exc
            if isinstance(target, ast.Name) and target.id[:1].isupper():
                return True
            if isinstance(target, ast.Attribute) and target.attr[:1].isupper():
                return True
        stack.extend(ast.iter_child_nodes(n))
    return False


def _is_command(fn: ast.AST) -> bool:
    """A click command outside a ``cli.py`` (``@click.command``): its docstring is its ``--help`` text."""
    for d in fn.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        if isinstance(target, ast.Attribute) and target.attr in ("command", "group"):
            return True
    return False


def _takes_arguments(fn: ast.AST) -> bool:
    """True when the function has a parameter (a numpy ``Parameters`` section then documents it)."""
    a = fn.args
    return bool(a.posonlyargs or a.args or a.kwonlyargs or a.vararg or a.kwarg)


def _returns_value(fn: ast.AST) -> bool:
    """True unless the function is annotated ``-> None`` or never returns or yields a value."""
    if isinstance(fn.returns, ast.Constant) and fn.returns.value is None:
        return False
    stack = list(ast.iter_child_nodes(fn))
    while stack:
        n = stack.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(n, (ast.Yield, ast.YieldFrom)) or (isinstance(n, ast.Return) and n.value is not None):
            return True
        stack.extend(ast.iter_child_nodes(n))
    return False


def _section(doc: str, name: str) -> bool:
    return re.search(rf"^\s*{name}\s*\n\s*-{{3,}}", doc, flags=re.M) is not None


def problems(rel: str) -> list[str]:
    path = ROOT / rel
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module_doc = ast.get_docstring(tree) or ""
    out = []
    if not module_doc:
        out.append(f"{rel}: no module docstring")

    def check_fn(fn, owner: str = "") -> None:
        name = f"{rel}:{owner}{fn.name}"
        doc = ast.get_docstring(fn) or ""
        if fn.name.startswith("_") or _is_command(fn):
            return
        if not doc:
            out.append(f"{name}: no docstring")
            return
        if _raises_named(fn) and not _section(doc, "Raises"):
            out.append(f"{name}: raises but has no 'Raises' section")
        if rel in NUMERICS and not owner:
            for sec, needed in (("Parameters", _takes_arguments(fn)), ("Returns", _returns_value(fn))):
                if needed and not (_section(doc, sec) or (sec == "Returns" and _section(doc, "Yields"))):
                    out.append(f"{name}: no '{sec}' section")
            if not (SOURCE.search(doc) or SOURCE.search(module_doc)):
                out.append(f"{name}: names no published source")

    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            check_fn(node)
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            doc = ast.get_docstring(node) or ""
            if not doc:
                out.append(f"{rel}:{node.name}: no docstring")
            init = next((n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
            if init is not None:
                args = [a.arg for a in init.args.args[1:] + init.args.kwonlyargs]
                init_doc = ast.get_docstring(init) or ""
                if args and not (_section(doc, "Parameters") or _section(init_doc, "Parameters")):
                    out.append(f"{rel}:{node.name}: __init__ takes {args} but no 'Parameters' section documents them")
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and not item.name.startswith("_"):
                    # one-line accessors/delegations of a documented class are documented by their name and the class
                    if len(item.body) == 1 and isinstance(item.body[0], (ast.Return, ast.Expr, ast.Assign)) and not ast.get_docstring(item):
                        continue
                    check_fn(item, node.name + ".")
    return out


def test_public_api_is_documented():
    found = [p for rel in PUBLIC for p in problems(rel)]
    assert not found, "undocumented public API:\n" + "\n".join(found)


def test_every_module_but_the_commands_is_covered():
    on_disk = {p.relative_to(ROOT).as_posix() for p in (ROOT / "deepmend").rglob("*.py")}
    assert set(PUBLIC) == {r for r in on_disk if not r.endswith("/cli.py")}
    assert set(NUMERICS_MODULES) | set(NOT_NUMERICS) <= on_disk, "an exception names a module that no longer exists"
    for core in ("deepmend/metrics/ks.py", "deepmend/models/probabilistic.py", "deepmend/groundtruth/pathloss.py", "deepmend/grid/lattice.py"):
        assert core in NUMERICS


MODULE = '''"""Mod."""
import click


def f(x):
    """Doc."""
    if x:
        raise ValueError("x")
    return 1


def g():
    return 2


def h(x) -> None:
    """Doc without sections."""


def k():
    """Doc, no argument, returns nothing."""


@click.command()
def cmd(x):
    return x
'''


def _problems_of(tmp_path, numerics: bool) -> list[str]:
    (tmp_path / "m.py").write_text(MODULE)
    global ROOT, NUMERICS
    old = ROOT, NUMERICS
    ROOT, NUMERICS = tmp_path, (("m.py",) if numerics else ())
    try:
        return problems("m.py")
    finally:
        ROOT, NUMERICS = old


def test_the_check_finds_what_is_missing(tmp_path):
    found = _problems_of(tmp_path, numerics=False)
    assert sorted(found) == ["m.py:f: raises but has no 'Raises' section", "m.py:g: no docstring"]
    found = set(_problems_of(tmp_path, numerics=True))
    assert {"m.py:f: no 'Parameters' section", "m.py:f: no 'Returns' section", "m.py:f: names no published source",
            "m.py:h: no 'Parameters' section"} <= found
    assert not any(p.startswith(("m.py:h: no 'Returns'", "m.py:k: no", "m.py:cmd")) for p in found)
