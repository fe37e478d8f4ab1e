"""The one specification of a scene: (country, city, operator), as the catalog spells them.

Used by the evaluation's splits, the ground-truth datasets and the API (where an upload
is ``("upload", <upload id>, <operator or "all">)``). Resolving user spellings to these
canonical names is the catalog's job (:mod:`deepmend.data.catalog`).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

__all__ = ["SceneSpec", "city_key", "fold"]


def fold(s: str) -> str:
    """Case- and accent-folded text: ``fold("Orléans ") == "orleans"``."""
    return "".join(c for c in unicodedata.normalize("NFKD", str(s).strip().lower()) if not unicodedata.combining(c))


def city_key(city: str) -> str:
    """City identity for split checks: case/accents folded, the data-set suffix (" (2018)") dropped."""
    return fold(str(city).split(" (")[0])


@dataclass(frozen=True)
class SceneSpec:
    """A scene by canonical names.

    Parameters
    ----------
    country : str
        Catalog country code (``"FR"``) or ``"upload"``.
    city : str
        Catalog city name (``"Orléans"``) or an upload id.
    operator : str
        Operator name as the catalog spells it (``""`` for none, ``"all"`` for every
        operator of an upload).
    """

    country: str
    city: str
    operator: str

    @property
    def key(self) -> str:
        """``"FR/Lyon/Orange"``: the scene's name in files and dataset indexes."""
        return f"{self.country}/{self.city}/{self.operator}"

    @property
    def city_id(self) -> tuple[str, str]:
        """(country, folded city) — the identity a train/test split must not share."""
        return (self.country.upper(), city_key(self.city))

    def as_tuple(self) -> tuple[str, str, str]:
        return (self.country, self.city, self.operator)

    def params(self) -> dict[str, str]:
        """As query parameters (``country``, ``city``, ``operator``)."""
        return {"country": self.country, "city": self.city, "operator": self.operator}
