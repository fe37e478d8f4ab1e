"""DeepMEND's input channels for the API: the pictures of exactly what the network sees."""

from __future__ import annotations

from typing import Any

import numpy as np

from deepmend.api.cache import OnceLRU
from deepmend.api.scenes import Scenes
from deepmend.errors import NotFoundError
from deepmend.scene_spec import SceneSpec

FEATURES = (
    ("d0", "distance to the target base station (m, + 1 m)"),
    ("d1", "1 − exp(−d1/d0): distance to the nearest site of the network, relative to d0"),
    ("d2", "1 − exp(−d2/d0): distance to the second nearest site, relative to d0"),
    ("dmean5", "1 − exp(−mean(d1..d5)/d0): mean distance to the 5 nearest sites, relative to d0"),
    ("mask", "valid cells (land inside the region)"),
)


class Features:
    """Feature lists and grey-scale PNGs of the channels (METHOD.md §2 inputs), cached.

    Parameters
    ----------
    scenes : Scenes
        The service's scene resolver and cache.
    pngs : OnceLRU
        Cache of rendered channel PNGs (single flight per key).
    channels : OnceLRU
        Cache of channel arrays per BS.
    builders : OnceLRU
        Cache of DeepMEND's ``FeatureBuilder`` per scene.
    """

    def __init__(self, scenes: Scenes, pngs: OnceLRU, channels: OnceLRU, builders: OnceLRU) -> None:
        self.scenes, self.pngs, self.channels, self.builders = scenes, pngs, channels, builders

    def describe(self, country: str, city: str, operator: str, site: str) -> tuple[SceneSpec, str, Any, list[tuple[str, str]]]:
        """(scene spec, site id, window, [(name, description)]) of one BS."""
        ref = self.scenes.network(self.scenes.resolve(country, city, operator), site)
        scene = self.scenes.scene(ref)
        i = self.scenes.site(scene, ref, site)
        return ref, str(scene.deployment.site_ids[i]), scene.window(i), list(FEATURES)

    def channels_of(self, ref: SceneSpec, i: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """name → (values rows northward, valid) on BS ``i``'s window."""
        scene = self.scenes.scene(ref)
        # the model's own input builder, so the pictures are exactly what DeepMEND sees
        from deepmend.models.features import FeatureBuilder

        builder = self.builders.get(ref.as_tuple(), lambda: FeatureBuilder(scene))[0]
        ch, mask = builder.window(i)
        return {"d0": (builder.d0(i), mask), "d1": (ch[0], mask), "d2": (ch[1], mask), "dmean5": (ch[2], mask),
                "mask": (ch[3], np.ones_like(mask))}

    def png(self, country: str, city: str, operator: str, site: str, name: str) -> bytes:
        """One channel as a grey-scale PNG (north up).

        Raises
        ------
        NotFoundError
            Unknown scene, site or feature name.
        """
        from deepmend import render

        ref = self.scenes.network(self.scenes.resolve(country, city, operator), site)
        scene = self.scenes.scene(ref)
        i = self.scenes.site(scene, ref, site)
        valid = [n for n, _ in FEATURES]
        if name not in valid:
            raise NotFoundError(f"unknown feature; valid: {', '.join(valid)}", column="name", value=name)

        def render_png():
            values, ok = self.channels.get((ref.as_tuple(), i), lambda: self.channels_of(ref, i))[0][name]
            return render.png_bytes(render.grey(values, ok.astype(bool)))

        return self.pngs.get(("feature", ref.as_tuple(), i, name), render_png)[0]
