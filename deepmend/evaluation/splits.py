"""Train/test splits of catalog scenes, by city (and operator).

A model that has seen a city's geography (its ground truth, its deployment's density
pattern) must not be scored on that city: the split is checked here, once, and an
overlap is an :class:`InputError`, never a warning. The default rule is strict: no city
(accents, case and the data-set suffix " (2018)" folded) may appear on both sides, even
with another operator. ``cross_operator=True`` relaxes it to a split *by operator*: a
city may appear on both sides only with different operators (the report says so).
"""

from __future__ import annotations

from dataclasses import dataclass

from deepmend.errors import InputError
from deepmend.scene_spec import SceneSpec, city_key, fold


_fold = fold


def resolve(country: str, city: str, operator: str) -> SceneSpec:
    """Canonical catalog names (accent/case-insensitive: 'FR/Orleans/orange' → 'FR/Orléans/Orange').

    The catalog's one resolver (:func:`deepmend.data.catalog.resolve`), as a :class:`SceneSpec`.

    Parameters
    ----------
    country, city, operator : str
        Names as typed.

    Returns
    -------
    SceneSpec

    Raises
    ------
    InputError
        If a name is not in the catalog (from the catalog's resolver).
    """
    from deepmend.data.catalog import resolve as resolve_names

    return SceneSpec(*resolve_names(country, city, operator))


def parse_specs(text: str, option: str = "--test", check_catalog: bool = True) -> list[SceneSpec]:
    """'FR/Lyon/Orange,FR/Nantes/Orange' → specs (resolved against the catalog).

    Parameters
    ----------
    text : str
        Comma-separated ``COUNTRY/CITY/OPERATOR`` scenes.
    option : str, default "--test"
        The option named in errors.
    check_catalog : bool, default True
        Resolve each name against the catalog (False: keep them as typed).

    Returns
    -------
    list of SceneSpec
        In the order given.

    Raises
    ------
    InputError
        If a part is not three non-empty names, a scene is listed twice, none is given, or
        (``check_catalog``) a name is not in the catalog.
    """
    out: list[SceneSpec] = []
    for part in (p.strip() for p in str(text).split(",") if p.strip()):
        bits = [b.strip() for b in part.split("/")]
        if len(bits) != 3 or not all(bits):
            raise InputError("scenes are COUNTRY/CITY/OPERATOR separated by commas, e.g. FR/Nantes/Orange", column=option, value=part)
        spec = resolve(*bits) if check_catalog else SceneSpec(*bits)
        if spec in out:
            raise InputError("scene listed twice", column=option, value=spec.key)
        out.append(spec)
    if not out:
        raise InputError("no scenes given", column=option, value=text)
    return out


@dataclass(frozen=True)
class Split:
    """Training and test scenes, checked on construction (:func:`check_split`).

    Parameters
    ----------
    train, test : tuple of SceneSpec
        The two sides.
    cross_operator : bool, default False
        Split by operator rather than by city (see the module docstring).

    Raises
    ------
    InputError
        If the split is empty on the test side or leaks a city (or a scene) into the test side.
    """
    train: tuple[SceneSpec, ...]
    test: tuple[SceneSpec, ...]
    cross_operator: bool = False

    def __post_init__(self) -> None:
        check_split(self.train, self.test, self.cross_operator)

    def describe(self) -> str:
        """One line for reports: both sides and the rule the split was checked with."""
        rule = "by operator (a city may appear on both sides with different operators)" if self.cross_operator else "by city (no city on both sides, whatever the operator)"
        return f"train: {', '.join(s.key for s in self.train)}; test: {', '.join(s.key for s in self.test)}; split {rule}"


def check_split(train, test, cross_operator: bool = False) -> None:
    """Check that no test scene shares its city with a training scene (see module docstring).

    Parameters
    ----------
    train, test : iterable of SceneSpec
        The two sides.
    cross_operator : bool, default False
        Allow a city on both sides when the operators differ.

    Returns
    -------
    None

    Raises
    ------
    InputError
        If ``test`` is empty, a test scene's city is a training city (strict rule), or the
        same city and operator appear on both sides (``cross_operator``).
    """
    train, test = list(train), list(test)
    if not test:
        raise InputError("the test split is empty", column="--test")
    for t in test:
        for s in train:
            if t.city_id != s.city_id:
                continue
            if not cross_operator:
                raise InputError(f"{t.key} shares its city with training scene {s.key}: splits are by city (pass --cross-operator for a split by operator)", column="--test", value=t.key)
            if _fold(t.operator) == _fold(s.operator):
                raise InputError(f"{t.key} is also a training scene ({s.key})", column="--test", value=t.key)
