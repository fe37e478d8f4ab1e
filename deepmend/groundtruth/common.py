"""What both ground-truth simulators share without sharing physics: configuration digests and fit cache keys.

The second ground truth (:mod:`deepmend.groundtruth.sim2`) must not import the first simulator's
modules (physics, prior, configuration; tests/groundtruth/test_sim2.py checks it), so the pieces
both need live here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields, replace

import numpy as np

from deepmend.errors import InputError


class ConfigMethods:
    """Digest and copy-with-changes shared by the simulators' frozen dataclass configurations.

    A subclass defines ``as_dict()`` (what the digest covers) and ``_what`` (its name in messages).
    """

    _what = "simulator"

    def digest(self) -> str:
        """16 hex digits of SHA-256 over ``as_dict()`` (sorted JSON): the cache key of the configuration."""
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()[:16]

    def with_(self, **changes):
        """A copy with some parameters changed.

        Raises
        ------
        InputError
            If a name is not a field of the configuration.
        """
        names = {f.name for f in fields(self)}
        bad = sorted(set(changes) - names)
        if bad:
            raise InputError(f"unknown {self._what} parameter(s) {bad}; valid: {', '.join(sorted(names))}")
        return replace(self, **changes)


def fit_cache_key(scene, config_digest: str) -> str:
    """Digest of everything a ground-truth fit depends on (24 hex digits; the cache file's name).

    Covers the sites' positions, ids, heights and azimuths, the lattice, the mask and the
    configuration's digest: the same bytes for every simulator, so keys stay as they were.

    Parameters
    ----------
    scene : deepmend.scene.Scene
        The fitted scene (deployment, lattice, mask).
    config_digest : str
        The simulator configuration's ``digest()``.

    Returns
    -------
    str
        24 hex digits of SHA-256.
    """
    dep, lat = scene.deployment, scene.lattice
    h = hashlib.sha256()
    for arr in (dep.x, dep.y, np.nan_to_num(dep.height_m, nan=-1.0)):
        h.update(np.ascontiguousarray(arr, dtype=np.float64).tobytes())
    h.update("\x1f".join(map(str, dep.site_ids)).encode())
    h.update(repr(dep.azimuths).encode())
    h.update(repr((lat.crs, lat.x0, lat.y0, lat.nx, lat.ny, lat.res)).encode())
    h.update(np.packbits(scene.mask).tobytes())
    h.update(config_digest.encode())
    return h.hexdigest()[:24]
