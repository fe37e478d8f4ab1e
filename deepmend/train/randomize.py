"""Domain randomisation: a *family* of simulated worlds to train the student on (issue 19).

A student trained on one simulator learns that simulator's habits (its tails, its user
prior). Here every world is :class:`~deepmend.groundtruth.simulator.GroundTruthSimulator`
with its uncertain parameters drawn from the ranges below — each range taken from the
published values that bracket it — so that what the network can learn from site positions
alone is what holds across the family.

| parameter | range | where the range comes from |
|---|---|---|
| ``temperature_db`` (association softness) | 4–12 dB | 4.3 dB = the logistic scale of Rayleigh fading (a hard best server under fast fading); 12 dB = handover hysteresis + load balancing + indoor/outdoor mix (the calibration path of docs/GROUNDTRUTH.md: maps too wide above) |
| ``rsrp_floor_dbm`` (weakest sector a UE still counts) | −150 … −124 dBm | −124 dBm ≈ a UE's practical RSRP sensitivity (noise −125 dBm per RE with NF 7 dB); −150 dBm = the calibrated tail of simulator v2 |
| ``shadow_sigma_db`` | 4–10 dB | 3GPP TR 38.901 Table 7.4.1-1 (4 dB LOS … 8.2 dB RMa NLOS); Erceg et al. (1999) μ_σ 8.2–10.6 dB |
| ``shadow_corr_m`` | 50–800 m (log-uniform) | 38.901 Table 7.5-6 (UMa 50 m … RMa 120 m); Gudmundson (1991) ≈ 500 m suburban |
| ``terrain_sigma_db`` | 0–9 dB | flat land (0) … 1.5× simulator v2's calibrated 6 dB (hilly) |
| ``population_exponent`` | 0–0.7 | uniform users (0) … close to residents (0.7) |
| ``settlement_site_weight`` | 0–4 | no settlement kernel … stronger than simulator v2's 3 |
| ``pathloss`` | 3gpp / hata (½ each) | TR 38.901 by area type, or COST-231 Hata everywhere |
| ``sectors`` | 0 / 3 / 6 (p = 0.1 / 0.7 / 0.2) | omni small cells, the usual 3 sectors, 6-sector sites |
| ``height_m`` | defaults × 0.7–1.4 | 17–56 m masts (ANFR supports of Lyon: 10–60 m) |

Every draw comes from ``numpy.random.default_rng([seed, world])``: the same (seed, world)
gives the same world.
"""

from __future__ import annotations

import numpy as np

from deepmend.groundtruth.config import SimulatorConfig

#: Continuous ranges: name → (low, high, "lin" | "log").
RANGES: dict[str, tuple[float, float, str]] = {
    "temperature_db": (4.0, 12.0, "lin"),
    "rsrp_floor_dbm": (-150.0, -124.0, "lin"),
    "shadow_sigma_db": (4.0, 10.0, "lin"),
    "shadow_corr_m": (50.0, 800.0, "log"),
    "terrain_sigma_db": (0.0, 9.0, "lin"),
    "population_exponent": (0.0, 0.7, "lin"),
    "settlement_site_weight": (0.0, 4.0, "lin"),
}
#: The "real" family (issue 19, round 6): the ranges above narrowed where the round-5 worlds came
#: out wider than every real map (r90 of the published BSs 4.7–14.8 km, median 7.7): association
#: temperature ≤ 8 dB (the worlds at 9.9–10.9 dB with 38.901 path loss had median r90 15–17 km;
#: 4.3 dB Rayleigh + up to ≈ 4 dB of handover hysteresis, 3GPP TS 36.331 ``hysteresis`` 0–15 dB in
#: 0.5 dB steps, typical 2–4 dB) and an RSRP floor no deeper than −140 dBm (worlds with ≤ −142 dBm
#: were all too wide; −140 dBm is the bottom of the RSRP reporting range, TS 36.133 §9.1.4).
REAL_RANGES: dict[str, tuple[float, float, str]] = {
    **RANGES,
    "temperature_db": (4.0, 8.0, "lin"),
    "rsrp_floor_dbm": (-140.0, -120.0, "lin"),
}
#: Family name → its continuous ranges and the stream tag of its draws.
FAMILIES: dict[str, tuple[dict[str, tuple[float, float, str]], int]] = {"wide": (RANGES, 0xD0), "real": (REAL_RANGES, 0xD1)}
PATHLOSS = ("3gpp", "hata")
SECTORS, SECTOR_P = (0, 3, 6), (0.1, 0.7, 0.2)
HEIGHT_SCALE = (0.7, 1.4)


def draw_world(seed: int, world: int, base: SimulatorConfig | None = None, family: str = "wide") -> SimulatorConfig:
    """The simulator configuration of world ``world`` of the family (deterministic in (seed, world)).

    Uniform (or log-uniform) draws in the ranges of the module docstring, a path-loss model, a
    sector count and a height scale (domain randomisation, Tobin et al. 2017).

    Parameters
    ----------
    seed : int
        Seed of the family.
    world : int
        Index of the world.
    base : SimulatorConfig, optional
        The configuration the draws replace parameters of (default ``SimulatorConfig()``).
    family : {"wide", "real"}, default "wide"
        ``wide``: the ranges of the module docstring (version-4 weights); ``real``: those ranges
        narrowed to the worlds as compact as the real maps (:data:`REAL_RANGES`).

    Returns
    -------
    SimulatorConfig

    Raises
    ------
    ValueError
        Unknown ``family``.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; expected one of {sorted(FAMILIES)}")
    ranges, tag = FAMILIES[family]
    base = base or SimulatorConfig()
    rng = np.random.default_rng([int(seed), int(world), tag])
    ch: dict = {}
    for name, (lo, hi, scale) in ranges.items():
        u = float(rng.uniform())
        ch[name] = float(np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo)))) if scale == "log" else lo + u * (hi - lo)
    ch["pathloss"] = PATHLOSS[int(rng.integers(len(PATHLOSS)))]
    ch["sectors"] = int(rng.choice(SECTORS, p=SECTOR_P))
    h = float(rng.uniform(*HEIGHT_SCALE))
    ch["height_m"] = tuple(round(v * h, 2) for v in base.height_m)
    ch["seed"] = int(seed) * 1000 + int(world)  # the world's own radio draws
    return base.with_(**ch)


def world_summary(cfg: SimulatorConfig) -> dict:
    """The randomised parameters of a world (for the dataset index and the model card).

    Parameters
    ----------
    cfg : SimulatorConfig
        A world of :func:`draw_world`.

    Returns
    -------
    dict
        The randomised parameters (the ranges', path loss, sectors, heights, seed).
    """
    d = cfg.as_dict()
    return {k: d[k] for k in (*RANGES, "pathloss", "sectors", "height_m", "seed")}
