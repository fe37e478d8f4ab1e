"""DeepMEND's input channels for the API: the pictures of exactly what the network sees.

The list is d0 and the channels the served weights declare (``channels`` of their JSON: the
reference set for the shipped weights; optional channels of :mod:`deepmend.models.features`
for weights trained with more), computed at 100 m by the model's own :class:`FeatureBuilder`."""

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
#: API names of the reference channels (the model's names are those of ``deepmend.models.features``).
API_NAMES = {"near1": "d1", "near2": "d2", "mean5": "dmean5"}


def feature_list(channels: tuple[str, ...]) -> list[tuple[str, str]]:
    """[(API name, description)] of d0 and a channel set, in the network's input order.

    Parameters
    ----------
    channels : tuple of str
        The weights' channel set.

    Returns
    -------
    list of (str, str)
    """
    from deepmend.models.features import CHANNEL_INFO

    ref = dict(FEATURES)
    return [FEATURES[0]] + [(API_NAMES.get(c, c), ref.get(API_NAMES.get(c, c), CHANNEL_INFO[c])) for c in channels]


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

    def channel_set(self) -> tuple[str, ...]:
        """The channels the served (default) DeepMEND weights declare; the reference set when they cannot be read."""
        from deepmend.errors import InputError
        from deepmend.models.deepmend import declared_channels
        from deepmend.models.features import CHANNELS

        try:
            return declared_channels()
        except InputError:
            return CHANNELS

    def describe(self, country: str, city: str, operator: str, site: str) -> tuple[SceneSpec, str, Any, list[tuple[str, str]]]:
        """(scene spec, site id, window, [(name, description)]) of one BS."""
        ref = self.scenes.network(self.scenes.resolve(country, city, operator), site)
        scene = self.scenes.scene(ref)
        i = self.scenes.site(scene, ref, site)
        return ref, str(scene.deployment.site_ids[i]), scene.window(i), feature_list(self.channel_set())

    def channels_of(self, ref: SceneSpec, i: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """name → (values rows northward, valid) on BS ``i``'s window."""
        scene = self.scenes.scene(ref)
        # the model's own input builder, so the pictures are exactly what DeepMEND sees
        from deepmend.models.features import FeatureBuilder

        builder = self.builders.get(ref.as_tuple(), lambda: FeatureBuilder(scene))[0]
        channels = self.channel_set()
        ch = builder.coarse(i, 1, channels)
        rs, cs = scene.slices(i)
        mask = scene.mask[rs, cs]
        out = {"d0": (builder.d0(i), mask)}
        for k, c in enumerate(channels):
            out[API_NAMES.get(c, c)] = (ch[k], np.ones_like(mask) if c == "mask" else mask)
        return out

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
        valid = [n for n, _ in feature_list(self.channel_set())]
        if name not in valid:
            raise NotFoundError(f"unknown feature; valid: {', '.join(valid)}", column="name", value=name)

        def render_png():
            values, ok = self.channels.get((ref.as_tuple(), i, self.channel_set()), lambda: self.channels_of(ref, i))[0][name]
            return render.png_bytes(render.grey(values, ok.astype(bool)))

        return self.pngs.get(("feature", ref.as_tuple(), i, name, self.channel_set()), render_png)[0]
