"""One dataclass holds every parameter of the ground-truth simulator.

Keeping them in one frozen, hashable place lets the simulator write them verbatim into
each map's metadata, key its disk cache by them, and lets a user reproduce any map
from (deployment, config, seed) alone. Defaults are the calibrated values documented
in docs/GROUNDTRUTH.md (realism targets of issue 8).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from deepmend.errors import InputError
from deepmend.groundtruth.common import ConfigMethods

AREA_TYPES = ("urban", "suburban", "rural")

#: Bumped whenever a change alters the maps, so old caches are not reused.
SIMULATOR_VERSION = 3


@dataclass(frozen=True)
class SimulatorConfig(ConfigMethods):
    """Parameters of the radio-network + user-density simulation (units in the names).

    Radio
    -----
    carrier_ghz: LTE band 3 (1.8 GHz), the main 4G capacity layer in France.
    tx_power_dbm: per sector over ``n_rb`` resource blocks (3GPP TR 36.814 Table A.2.1.1-2: 46 dBm).
    sectors: sectors per site (0 = omnidirectional, for tests). Azimuths from the data
        when given, else seeded random with 360°/sectors spacing.
    beamwidth_deg, front_back_db, max_gain_dbi, vertical_beamwidth_deg, sla_v_db:
        TR 36.814 Table A.2.1.1-2 sector pattern (65°, 25 dB, ~15 dBi, 10°, 20 dB).
    downtilt_deg: electrical + mechanical tilt per area type (urban, suburban, rural).
    height_m: antenna height per area type when the data has none; ±``height_jitter_m``.
    pathloss: "3gpp" (TR 38.901 UMa urban / UMi low urban masts / RMa rural, COST-231
        Hata for suburban) or "hata" (COST-231 Hata everywhere with area corrections).
    los: "draw" (LOS state drawn per cell from a spatially correlated field with the
        38.901 LOS probability) or "expected" (PL mixed by the LOS probability; no randomness).
    rsrp_floor_dbm: a sector takes part in the association where its RSRP reaches this.
        −150 dBm is below LTE's −140 dBm reporting floor on purpose: the operator tools the
        targets come from keep the propagation tail, which is what makes real maps reach
        tens of km (calibrated; −128/−140 cut urban maps at 3–6 km).

    reach_floor_dbm, reach_margin_sigma: a site's *reach* R_i (version 3): the largest distance
        at which its strongest possible RSRP — max antenna gain, the lower of the LOS/NLOS
        path losses, plus ``reach_margin_sigma`` × the combined σ of shadowing, streaks and
        terrain — still reaches ``reach_floor_dbm``. A site's term enters the softmax
        denominator of *other* sites' maps only within the square of half-side R_i around
        it (its own map keeps its whole window and the ``rsrp_floor_dbm`` cut). The neglected
        share of the denominator and its effect on the maps are measured in
        docs/GROUNDTRUTH.md § Reach.

    Shadowing
    ---------
    shadow_sigma_db: None = the path-loss model's own σ (38.901: 4 dB LOS, 6–8 dB NLOS);
        a number overrides it (0 disables).
    shadow_corr_m: Gudmundson (1991) decorrelation distance of the exponential correlation
        (he measured ~500 m in suburban areas at 900 MHz; 300 m calibrated).
    streak_sigma_db, streak_along_m, streak_across_deg: the radial component: correlated
        over ``streak_along_m`` along each radius from the site, ``streak_across_deg`` across.
    terrain_sigma_db, terrain_corr_deg, terrain_ramp_m: the directional terrain component:
        a smooth random gain over bearing (angular correlation ``terrain_corr_deg``) that
        builds up with distance as 1 − exp(−d/``terrain_ramp_m``).

    Association
    -----------
    temperature_db: P(i|ℓ) = softmax_i(RSRP_i(ℓ)/T) over heard sites: the soft best-server
        margin (handover hysteresis, load balancing, fading, indoor/outdoor mix).

    Users
    -----
    prior: "population" (WorldPop 10 km refined with settlement structure) or "uniform".
    population_exponent: users ∝ residents^γ; γ < 1 because mobile traffic spreads from
        homes onto roads, workplaces and countryside (a night-time census over-weights
        city centres).
    settlement_*: weights and scales of the structure added to the 10 km density:
        kernels around sites, roads along Delaunay edges, log-normal noise.

    Area types
    ----------
    urban_sites_per_km2, suburban_sites_per_km2: thresholds on the density of sites of
        the deployment within ``density_radius_m`` of a site.
    """

    seed: int = 0
    carrier_ghz: float = 1.8
    tx_power_dbm: float = 46.0
    n_rb: int = 100
    sectors: int = 3
    beamwidth_deg: float = 65.0
    front_back_db: float = 25.0
    max_gain_dbi: float = 15.0
    vertical_beamwidth_deg: float = 10.0
    sla_v_db: float = 20.0
    downtilt_deg: tuple[float, float, float] = (6.0, 4.0, 2.0)
    height_m: tuple[float, float, float] = (25.0, 30.0, 40.0)
    height_jitter_m: float = 5.0
    ue_height_m: float = 1.5
    pathloss: str = "3gpp"
    los: str = "draw"
    rsrp_floor_dbm: float = -150.0
    reach_floor_dbm: float = -110.0
    reach_margin_sigma: float = 2.0
    shadow_sigma_db: float | None = None
    shadow_corr_m: float = 300.0
    streak_sigma_db: float = 6.0
    streak_along_m: float = 5000.0
    streak_across_deg: float = 1.5
    terrain_sigma_db: float = 6.0
    terrain_corr_deg: float = 40.0
    terrain_ramp_m: float = 3000.0
    temperature_db: float = 9.0
    prior: str = "population"
    population_exponent: float = 0.3
    settlement_site_weight: float = 3.0
    settlement_site_scale_m: float = 700.0
    settlement_road_weight: float = 0.5
    settlement_road_width_m: float = 150.0
    settlement_noise_sigma: float = 0.8
    settlement_noise_corr_m: float = 400.0
    urban_sites_per_km2: float = 1.0
    suburban_sites_per_km2: float = 0.15
    density_radius_m: float = 3000.0

    def __post_init__(self) -> None:
        checks = [
            ("pathloss", self.pathloss in ("3gpp", "hata")),
            ("los", self.los in ("draw", "expected")),
            ("prior", self.prior in ("population", "uniform")),
            ("temperature_db", self.temperature_db > 0),
            ("reach_margin_sigma", self.reach_margin_sigma >= 0),
            ("sectors", 0 <= self.sectors <= 12),
            ("shadow_corr_m", self.shadow_corr_m > 0),
            ("streak_along_m", self.streak_along_m > 0),
            ("streak_across_deg", self.streak_across_deg > 0),
            ("terrain_sigma_db", self.terrain_sigma_db >= 0),
            ("terrain_corr_deg", self.terrain_corr_deg > 0),
            ("terrain_ramp_m", self.terrain_ramp_m > 0),
            ("carrier_ghz", 0.1 <= self.carrier_ghz <= 100),
            ("downtilt_deg", len(self.downtilt_deg) == 3),
            ("height_m", len(self.height_m) == 3 and min(self.height_m) > self.ue_height_m),
        ]
        for name, ok in checks:
            if not ok:
                raise InputError("invalid simulator parameter", column=name, value=getattr(self, name))

    def as_dict(self) -> dict:
        """Plain JSON-able parameters (tuples as lists), plus the simulator version."""
        d = asdict(self)
        d = {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}
        d["version"] = SIMULATOR_VERSION
        return d

