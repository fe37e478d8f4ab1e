"""Operator-like ground truth P(ℓ|i) simulated from a deployment (issue 8; docs/GROUNDTRUTH.md, METHOD.md §4).

For every site: sectors with the TR 36.814 pattern, a TR 38.901 / COST-231 Hata path
loss by area type, LOS drawn from the 38.901 LOS probability, Gudmundson (1991) shadowing
plus a radial streak field → RSRP of each sector on the site's 600×600 window. A UE
at ℓ attaches to site i with probability softmax_i(RSRP/T) over every heard sector;
users are where the prior P(ℓ) says; P(ℓ|i) ∝ P(i|ℓ)·P(ℓ).

Cost model (simulator version 3). A site's term exp((RSRP − ref)/T) enters the softmax
denominator D(ℓ) = Σ_j Σ_s exp(RSRP_js(ℓ)/T) of the *other* sites' maps only on its
support, the square around it of half-side its reach (:meth:`GroundTruthSimulator.reach_m`:
where its RSRP envelope, max gain plus a k·σ margin, falls below ``reach_floor_dbm``); its
own map keeps its whole window. One BS's map needs D on its window only: the per-BS path
sums the terms of the sites whose support meets the window, each on the intersection, and
the prior on the window (seconds, any city). The whole-deployment fit sums every site's
term once on the lattice and caches D and the prior on disk keyed by a hash of (positions,
heights, azimuths, mask, config); a map is then a slice and its own numerator (tens of ms).
Every random draw is seeded by (seed, site id) and laid out so that a part of a window gets
the values of the whole window, so both paths give the same maps.
"""

from __future__ import annotations

import os
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np
from scipy.special import ndtr

from deepmend.config import cache_dir
from deepmend.errors import InputError
from deepmend.grid.diffusion_map import DiffusionMap
from deepmend.grid.lattice import WINDOW_CELLS
from deepmend.groundtruth.antenna import bearing_index, elevation_deg, sector_azimuths, sector_gain_db, vertical_attenuation_db
from deepmend.groundtruth.areas import area_types
from deepmend.groundtruth.common import fit_cache_key
from deepmend.groundtruth.config import AREA_TYPES, SimulatorConfig
from deepmend.groundtruth.pathloss import SIGMA_DB, los_probability, pathloss, scenario_for
from deepmend.groundtruth.population import user_prior
from deepmend.groundtruth.shadowing import FIELD_PERIOD_CELLS, gudmundson_field, radial_field, terrain_field, torus_tile
from deepmend.io import atomic_path
from deepmend.models.base import DiffusionModel
from deepmend.resources import FLIGHTS
from deepmend.scene import Scene

F32 = np.float32
#: RSRP reference (dBm) subtracted before exponentiating: keeps exp() in float32 range.
RSRP_REF_DBM = -80.0
#: Spacing (cells) of the nodes a site's mean field is computed on beyond its reach (1 km).
NODE_CELLS = 10


@dataclass(frozen=True)
class SiteRadio:
    """What the simulator decided for one site (written into its map's metadata)."""

    area: str
    scenario: str
    height_m: float
    height_from_data: bool
    downtilt_deg: float
    azimuths_deg: tuple[float, ...]

    def as_dict(self) -> dict:
        return {"area": self.area, "scenario": self.scenario, "height_m": round(self.height_m, 2), "height_from_data": self.height_from_data,
                "downtilt_deg": self.downtilt_deg, "azimuths_deg": [round(a, 1) for a in self.azimuths_deg]}


def site_rng(seed: int, site_id: str, stream: int = 0) -> np.random.Generator:
    """Per-site generator: the same site gets the same draws whatever else is in the scene.

    Parameters
    ----------
    seed : int
        The simulator's seed.
    site_id : str
        The site (hashed with CRC-32).
    stream : int, default 0
        Which of the site's independent streams (shadowing, LOS, heights …).

    Returns
    -------
    numpy.random.Generator
    """
    return np.random.default_rng([int(seed), zlib.crc32(str(site_id).encode()), stream])


#: A progress hook: ``progress(done, total)`` with counts of sites (see :meth:`GroundTruthSimulator.fit_deployment`).
Progress = Callable[[int, int], None]


class _Counter:
    """Counts sites done across worker threads and calls ``progress(done, total)`` per batch (~1 % of ``total``)."""

    def __init__(self, total: int, progress: Progress) -> None:
        self.total, self.progress = int(total), progress
        self.step = max(1, self.total // 100)
        self.n = 0
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            self.n += 1
            n = self.n
        if n % self.step == 0 or n == self.total:
            self.progress(n, self.total)


class GroundTruthSimulator(DiffusionModel):
    """The simulated operator ground truth "GT1" (docs/GROUNDTRUTH.md, METHOD.md §4), registered as a model.

    RSRP_is(ℓ) = P_tx − 10·log10(12·N_RB) + G_s(ℓ) − PL_i(ℓ) − X_i(ℓ) − Z_i(ℓ) − H_i(ℓ) with the
    antenna pattern of 3GPP TR 36.814, the path loss of 3GPP TR 38.901 (UMa/UMi/RMa) or COST-231
    Hata, Gudmundson (1991) shadowing, radial streaks and a directional terrain term; association
    softmax(RSRP/T) over the heard sectors; P(ℓ|i) ∝ P(i|ℓ)·P(ℓ) with the WorldPop-based prior
    (:mod:`deepmend.groundtruth.population`), on the BS's 600×600 window.

    Parameters
    ----------
    config : SimulatorConfig, optional
        The simulator's parameters (default ``SimulatorConfig()``).
    use_cache : bool, default True
        Read and write the whole-deployment products under ``cache_dir()/groundtruth/``.
    n_jobs : int, optional
        Threads for the fit and :meth:`predict_many` (default min(CPUs, 8)).
    lazy : bool, default False
        Do not fit the whole deployment: answer each map by the per-BS path (see the module
        docstring) unless cached products exist.
    """
    name = "groundtruth"
    label = "Ground truth (simulated)"
    description = "Simulated operator ground truth: sectors, 3GPP path loss, correlated shadowing with radial streaks, soft best-server association, population prior."

    def __init__(self, config: SimulatorConfig | None = None, *, use_cache: bool = True, n_jobs: int | None = None, lazy: bool = False) -> None:
        self.config = config
        self.use_cache = use_cache
        self.n_jobs = n_jobs
        self.lazy = lazy

    def validate(self) -> "GroundTruthSimulator":
        """``config`` must be a :class:`SimulatorConfig` (or None: the default one).

        Raises
        ------
        InputError
            If ``config`` is neither None nor a :class:`SimulatorConfig`.
        """
        if self.config is not None and not isinstance(self.config, SimulatorConfig):
            raise InputError("config must be a SimulatorConfig", column="config", value=type(self.config).__name__)
        return self

    @property
    def config_(self) -> SimulatorConfig:
        """The configuration in effect (``config``, or the default one)."""
        return self.config if self.config is not None else SimulatorConfig()

    def cache_token(self) -> str:
        """``simulator:`` + the configuration's digest + the population grid's reading version (the maps
        depend on nothing else)."""
        from deepmend.data.population import READING_VERSION

        return f"simulator:{self.config_.digest()}:pop{READING_VERSION}"

    def params(self) -> dict:
        return self.config_.as_dict()

    # --- per-site radio ----------------------------------------------------
    def site_radio(self, i: int) -> SiteRadio:
        """What the simulator decides for site i (area, scenario, height, tilt, azimuths); computed once per fit."""
        cache = self.__dict__.setdefault("radios_", {})
        radio = cache.get(i)
        if radio is None:
            radio = cache[i] = self._site_radio(i)
        return radio

    def _site_radio(self, i: int) -> SiteRadio:
        cfg, dep = self.config_, self.scene_.deployment
        area = int(self.areas_[i])
        rng = site_rng(cfg.seed, dep.site_ids[i], 1)
        jitter = float(rng.uniform(-cfg.height_jitter_m, cfg.height_jitter_m))
        known = bool(np.isfinite(dep.height_m[i]) and dep.height_m[i] > cfg.ue_height_m + 1.0)
        h = float(dep.height_m[i]) if known else max(cfg.height_m[area] + jitter, cfg.ue_height_m + 3.0)
        az = sector_azimuths(dep.azimuths[i], cfg.sectors, rng)
        scen = scenario_for(AREA_TYPES[area], h, cfg.pathloss)
        return SiteRadio(AREA_TYPES[area], scen, h, known, float(cfg.downtilt_deg[area]), az)

    def site_power(self, i: int, rows: slice = slice(0, WINDOW_CELLS), cols: slice = slice(0, WINDOW_CELLS)) -> np.ndarray:
        """Σ over sectors of exp((RSRP − ref)/T) on a part of site i's window, 0 where not heard (float32).

        ``rows``/``cols`` index site i's own 600×600 window (rows northward). Every random
        draw is seeded by (seed, site id) and laid out so that a part of the window gets
        exactly the values of the whole window (shadowing and LOS on a tiled
        :data:`~deepmend.groundtruth.shadowing.FIELD_PERIOD_CELLS` torus anchored at the
        site's cell, radial streaks drawn radius by radius, terrain a table over bearing):
        the term is the same in a per-BS computation and in the whole-deployment fit.
        """
        cfg, dep = self.config_, self.scene_.deployment
        radio = self.site_radio(i)
        x, y = float(dep.x[i]), float(dep.y[i])
        win = self.scene_.lattice.window(x, y)
        sr, sc = self.scene_.site_rc(i)
        xs, ys = win.centers()
        dx = (xs[cols] - x).astype(F32)[None, :]
        dy = (ys[rows] - y).astype(F32)[:, None]
        d = np.sqrt(dx * dx + dy * dy)
        bearing = np.degrees(np.arctan2(dx, dy)) % F32(360.0)
        ti = np.arange(rows.start, rows.stop) - sr + FIELD_PERIOD_CELLS // 2
        tj = np.arange(cols.start, cols.stop) - sc + FIELD_PERIOD_CELLS // 2
        res = win.res
        rng = site_rng(cfg.seed, dep.site_ids[i], 0)
        pl_los, pl_nlos = pathloss(d, radio.scenario, radio.area, radio.height_m, cfg.ue_height_m, cfg.carrier_ghz)
        s_los, s_nlos = SIGMA_DB[radio.scenario]
        p_los = los_probability(d, radio.scenario, cfg.ue_height_m)
        if cfg.los == "draw" and radio.scenario != "Hata":
            # 38.901's LOS decorrelation (50 m) is below the 100 m cell: independent per cell
            los = torus_tile(rng.random((FIELD_PERIOD_CELLS, FIELD_PERIOD_CELLS), dtype=F32), ti, tj) < p_los
            pl = np.where(los, pl_los, pl_nlos)
            sigma = np.where(los, F32(s_los), F32(s_nlos))
        else:
            pl = p_los * pl_los + (1 - p_los) * pl_nlos
            sigma = p_los * F32(s_los) + (1 - p_los) * F32(s_nlos)
        if cfg.shadow_sigma_db is not None:
            sigma = F32(cfg.shadow_sigma_db)
        loss = pl
        if cfg.shadow_sigma_db is None or cfg.shadow_sigma_db > 0:  # a property of the site, not of the part computed
            loss = loss + sigma * torus_tile(gudmundson_field(rng, FIELD_PERIOD_CELLS, res, cfg.shadow_corr_m), ti, tj)
        if cfg.streak_sigma_db > 0:  # the last draw of this stream: its size may depend on the part
            loss = loss + F32(cfg.streak_sigma_db) * radial_field(rng, bearing, d, res, cfg.streak_along_m, cfg.streak_across_deg)
        if cfg.terrain_sigma_db > 0:  # its own stream: switching it on leaves the other draws as they were
            loss = loss + F32(cfg.terrain_sigma_db) * terrain_field(site_rng(cfg.seed, dep.site_ids[i], 2), bearing, d, cfg.terrain_corr_deg, cfg.terrain_ramp_m)
        a_v = vertical_attenuation_db(elevation_deg(d, radio.height_m, cfg.ue_height_m), radio.downtilt_deg, cfg)
        base = F32(cfg.tx_power_dbm - 10.0 * np.log10(12.0 * cfg.n_rb)) - loss
        bidx = bearing_index(bearing)
        gains = [sector_gain_db(bidx, az, a_v, cfg) for az in radio.azimuths_deg] or [F32(cfg.max_gain_dbi) + a_v]
        inv_t = F32(1.0 / cfg.temperature_db)
        out = np.zeros(d.shape, dtype=F32)
        for g in gains:  # ≤ a handful of sectors, each a vectorised window operation
            rsrp = base + g
            out += np.where(rsrp >= F32(cfg.rsrp_floor_dbm), np.exp((rsrp - F32(RSRP_REF_DBM)) * inv_t), F32(0.0))
        return out

    # --- reach: the support of a site's term in the others' denominators ---------------
    def reach_m(self, i: int) -> float:
        """Site i's reach (m): beyond it a cell's RSRP reaches ``reach_floor_dbm`` with probability < 1 − Φ(k).

        With μ(d) = P_tx − 10·log10(12·N_RB) + G_max − PL(d) and
        σ(d) = √(σ_SF² + σ_streak² + (σ_terrain·(1 − e^(−d/ramp)))²) in each LOS state, the
        probability that a cell at distance d hears the strongest sector at the floor F or
        more is q(d) = P_LOS(d)·Q((F − μ_LOS)/σ_LOS) + (1 − P_LOS(d))·Q((F − μ_NLOS)/σ_NLOS)
        (Q the Gaussian tail; 38.901's P_LOS; one state with the mixed path loss when
        ``los="expected"`` or for Hata). The reach is the farthest d (100 m steps, up to the
        window's corner) with q(d) ≥ 1 − Φ(k), k = ``reach_margin_sigma`` (2.3 % for k = 2).
        The antenna's vertical pattern and the sectors only lower the gain, so G_max bounds them.
        """
        cfg = self.config_
        radio = self.site_radio(i)
        res = self.scene_.lattice.res
        d = (np.arange(int(np.ceil(WINDOW_CELLS / 2 * np.sqrt(2.0))) + 2) * res).astype(F32)
        pl_los, pl_nlos = pathloss(d, radio.scenario, radio.area, radio.height_m, cfg.ue_height_m, cfg.carrier_ghz)
        p_los = los_probability(d, radio.scenario, cfg.ue_height_m).astype(np.float64)
        s_los, s_nlos = SIGMA_DB[radio.scenario]
        if cfg.los != "draw" or radio.scenario == "Hata":
            pl_los = pl_nlos = p_los * pl_los + (1 - p_los) * pl_nlos
            s_los = s_nlos = p_los * s_los + (1 - p_los) * s_nlos
        if cfg.shadow_sigma_db is not None:
            s_los = s_nlos = float(cfg.shadow_sigma_db)
        ramp = 1.0 - np.exp(-d.astype(np.float64) / cfg.terrain_ramp_m)
        other = cfg.streak_sigma_db**2 + (cfg.terrain_sigma_db * ramp) ** 2
        top = cfg.tx_power_dbm - 10.0 * np.log10(12.0 * cfg.n_rb) + cfg.max_gain_dbi
        floor = cfg.reach_floor_dbm

        def tail(pl, s):
            sig = np.sqrt(np.asarray(s, float) ** 2 + other)
            return ndtr((top - pl.astype(np.float64) - floor) / np.maximum(sig, 1e-9))

        q = p_los * tail(pl_los, s_los) + (1 - p_los) * tail(pl_nlos, s_nlos)
        ok = np.flatnonzero(q >= ndtr(-cfg.reach_margin_sigma))
        return float(d[ok[-1]] + res) if ok.size else 0.0

    def mean_term(self, i: int, rows_abs: np.ndarray, cols_abs: np.ndarray) -> np.ndarray:
        """E[Σ_s exp((RSRP_s − ref)/T)·1(RSRP_s ≥ floor)] of site i at the centres of absolute lattice cells (rows × cols), float64.

        Over the random fields (shadowing, streaks, terrain: Gaussian in dB, σ² = σ_SF² +
        σ_streak² + (σ_terrain·ramp)²) and the LOS state (38.901's P_LOS), in closed form:
        for X ~ N(μ, σ²), E[e^{(X−ref)/T}·1(X ≥ F)] = e^{(μ−ref)/T + σ²/(2T²)}·Φ((μ + σ²/T − F)/σ).
        Zero outside site i's window. This is how a site enters D beyond its reach.
        """
        cfg, dep, lat = self.config_, self.scene_.deployment, self.scene_.lattice
        radio = self.site_radio(i)
        x, y = float(dep.x[i]), float(dep.y[i])
        win = lat.window(x, y)
        r0, c0 = int(round(win.bottom / lat.res)), int(round(win.left / lat.res))
        rin = (rows_abs >= r0) & (rows_abs < r0 + win.size)
        cin = (cols_abs >= c0) & (cols_abs < c0 + win.size)
        out = np.zeros((rows_abs.size, cols_abs.size))
        if not rin.any() or not cin.any():
            return out
        dx = ((cols_abs[cin] + 0.5) * lat.res - x)[None, :]
        dy = ((rows_abs[rin] + 0.5) * lat.res - y)[:, None]
        d = np.sqrt(dx * dx + dy * dy).astype(F32)
        bearing = (np.degrees(np.arctan2(dx, dy)) % 360.0).astype(F32)
        pl_los, pl_nlos = pathloss(d, radio.scenario, radio.area, radio.height_m, cfg.ue_height_m, cfg.carrier_ghz)
        p_los = los_probability(d, radio.scenario, cfg.ue_height_m).astype(np.float64)
        s_los, s_nlos = SIGMA_DB[radio.scenario]
        if cfg.los == "draw" and radio.scenario != "Hata":
            states = [(p_los, pl_los, s_los), (1.0 - p_los, pl_nlos, s_nlos)]
        else:
            states = [(1.0, p_los * pl_los + (1 - p_los) * pl_nlos, p_los * s_los + (1 - p_los) * s_nlos)]
        ramp = 1.0 - np.exp(-d.astype(np.float64) / cfg.terrain_ramp_m)
        other = (cfg.streak_sigma_db**2 if cfg.streak_sigma_db > 0 else 0.0) + (cfg.terrain_sigma_db * ramp) ** 2
        a_v = vertical_attenuation_db(elevation_deg(d, radio.height_m, cfg.ue_height_m), radio.downtilt_deg, cfg)
        bidx = bearing_index(bearing)
        gains = [sector_gain_db(bidx, az, a_v, cfg) for az in radio.azimuths_deg] or [F32(cfg.max_gain_dbi) + a_v]
        t = cfg.temperature_db
        top = cfg.tx_power_dbm - 10.0 * np.log10(12.0 * cfg.n_rb)
        acc = np.zeros(d.shape)
        for p, pl, s_sf in states:
            sf = (s_sf if cfg.shadow_sigma_db is None else cfg.shadow_sigma_db) if (cfg.shadow_sigma_db is None or cfg.shadow_sigma_db > 0) else 0.0
            var = np.asarray(sf, float) ** 2 + other
            sig = np.sqrt(np.maximum(var, 1e-12))
            for g in gains:
                mu = top + g.astype(np.float64) - pl.astype(np.float64)
                acc += p * np.exp((mu - RSRP_REF_DBM) / t + var / (2 * t * t)) * ndtr((mu + var / t - cfg.rsrp_floor_dbm) / sig)
        out[np.ix_(rin, cin)] = acc
        return out

    def _nodes(self, r0: int, r1: int, c0: int, c1: int) -> tuple[np.ndarray, np.ndarray, tuple, tuple]:
        """Absolute rows/cols of the mean-field nodes (every NODE_CELLS-th absolute cell) around a lattice block, and the cells' bilinear weights."""
        lat = self.scene_.lattice
        R0, C0 = int(round(lat.y0 / lat.res)), int(round(lat.x0 / lat.res))

        def axis(a0: int, a1: int, A0: int):
            cells = np.arange(a0, a1) + A0
            k0 = int(np.floor(cells[0] / NODE_CELLS))
            k1 = int(np.floor(cells[-1] / NODE_CELLS)) + 1
            nodes = np.arange(k0, k1 + 1) * NODE_CELLS
            t = cells / NODE_CELLS - k0
            k = np.floor(t).astype(np.int64)
            return nodes, (k, t - k)

        rn, rw = axis(r0, r1, R0)
        cn, cw = axis(c0, c1, C0)
        return rn, cn, rw, cw

    @staticmethod
    def _interp(nodes: np.ndarray, rw: tuple, cw: tuple) -> np.ndarray:
        """Bilinear from node values (rows × cols of nodes) to the cells (weights from :meth:`_nodes`)."""
        (kr, wr), (kc, wc) = rw, cw
        top = nodes[kr] * (1 - wr)[:, None] + nodes[kr + 1] * wr[:, None]
        return top[:, kc] * (1 - wc)[None, :] + top[:, kc + 1] * wc[None, :]

    def _supports(self) -> np.ndarray:
        """Per site, (row0, row1, col0, col1) of its support on the lattice (may stick out of it), int64 (n, 4).

        The support is the square of half-side ⌈reach/res⌉ + 1 cells around the site's cell
        (it holds every cell whose centre lies within the reach), clipped to the site's window.
        """
        sup = self.__dict__.get("supports_")
        if sup is not None:
            return sup
        scene = self.scene_
        lat, dep = scene.lattice, scene.deployment
        out = np.empty((len(dep), 4), dtype=np.int64)
        for j in range(len(dep)):  # a loop over sites (a few µs each), not cells
            win = lat.window(float(dep.x[j]), float(dep.y[j]))
            r0 = int(round((win.bottom - lat.y0) / lat.res))
            c0 = int(round((win.left - lat.x0) / lat.res))
            sr, sc = scene.site_rc(j)
            h = int(np.ceil(self.reach_m(j) / lat.res)) + 1
            out[j] = (r0 + max(sr - h, 0), r0 + min(sr + h + 1, win.size), c0 + max(sc - h, 0), c0 + min(sc + h + 1, win.size))
        self.supports_ = out
        return out

    def _origin(self, j: int) -> tuple[int, int]:
        lat, dep = self.scene_.lattice, self.scene_.deployment
        win = lat.window(float(dep.x[j]), float(dep.y[j]))
        return int(round((win.bottom - lat.y0) / lat.res)), int(round((win.left - lat.x0) / lat.res))

    def _sites_on(self, sites: list[int], exact: set[int], r0: int, r1: int, c0: int, c1: int,
                  rn: np.ndarray, cn: np.ndarray, rw: tuple, cw: tuple, done: Callable[[], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(Σ of the sites' mean fields on the block's nodes, Σ of (term − mean field) on their supports ∩ block), float64.

        ``done`` is called once per site added (progress counting)."""
        nodes = np.zeros((rn.size, cn.size))
        out = np.zeros((r1 - r0, c1 - c0))
        sup = self._supports()
        (kr, wr_), (kc, wc_) = rw, cw
        for j in sites:
            m = self.mean_term(j, rn, cn)
            nodes += m
            if done is not None:
                done()
            if j not in exact:
                continue
            a, b = max(sup[j, 0], r0), min(sup[j, 1], r1)
            c, e = max(sup[j, 2], c0), min(sup[j, 3], c1)
            wr, wc = self._origin(j)
            t = self.site_power(j, slice(a - wr, b - wr), slice(c - wc, e - wc))
            rows, cols = slice(a - r0, b - r0), slice(c - c0, e - c0)
            out[rows, cols] += t - self._interp(m, (kr[rows], wr_[rows]), (kc[cols], wc_[cols]))
        return nodes, out

    def _mean_on(self, j: int, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        """Site j's mean field (bilinear from the 1 km nodes) on a lattice block (float64)."""
        rn, cn, rw, cw = self._nodes(r0, r1, c0, c1)
        return self._interp(self.mean_term(j, rn, cn), rw, cw)

    def _mean_field(self, sites: list[int], rn: np.ndarray, cn: np.ndarray) -> np.ndarray:
        out = np.zeros((rn.size, cn.size))
        for j in sites:
            out += self.mean_term(j, rn, cn)
        return out

    def _denominator_block(self, r0: int, r1: int, c0: int, c1: int, progress: Progress | None = None) -> np.ndarray:
        """D on a block of the lattice (float32, 0 off the mask).

        ``progress(done, total)`` (optional) is called as the sites are added, after each batch
        of about 1 % of them (and once at the end), from the worker threads.

        D = Σ_j m_j + Σ_j (t_j − m_j)·1(S_j): every site by its mean field m_j (1 km nodes,
        bilinear; the sites whose window meets the block), and by its exact term t_j on its
        support S_j (the sites whose support meets the block, each on the intersection).
        """
        lat = self.scene_.lattice
        sup = self._supports()
        mask = self.scene_.mask[r0:r1, c0:c1]
        dep = self.scene_.deployment
        half = WINDOW_CELLS // 2 + 1
        col = np.floor((dep.x - lat.x0) / lat.res)
        row = np.floor((dep.y - lat.y0) / lat.res)
        near = np.flatnonzero((row - half < r1) & (row + half >= r0) & (col - half < c1) & (col + half >= c0))
        hit = (sup[:, 0] < r1) & (sup[:, 1] > r0) & (sup[:, 2] < c1) & (sup[:, 3] > c0)
        sites = []
        for j in np.flatnonzero(hit):  # skip supports without a valid cell in the block
            a, b = max(sup[j, 0], r0) - r0, min(sup[j, 1], r1) - r0
            c, e = max(sup[j, 2], c0) - c0, min(sup[j, 3], c1) - c0
            if mask[a:b, c:e].any():
                sites.append(int(j))
        exact = set(sites)
        todo = sorted({int(j) for j in near} | exact, key=lambda j: -int((sup[j, 1] - sup[j, 0]) * (sup[j, 3] - sup[j, 2])) if j in exact else 0)
        chunks = [todo[k :: self.n_jobs_] for k in range(self.n_jobs_)]  # big supports first: balanced threads
        rn, cn, rw, cw = self._nodes(r0, r1, c0, c1)
        done = _Counter(len(todo), progress) if progress is not None else None
        parts = self._map(lambda ch: self._sites_on(ch, exact, r0, r1, c0, c1, rn, cn, rw, cw, done), [ch for ch in chunks if ch])
        den = self._interp(np.sum([p[0] for p in parts], axis=0), rw, cw) if parts else np.zeros((r1 - r0, c1 - c0))
        for p in parts:
            den += p[1]
        return np.where(mask, np.maximum(den, 0.0), 0.0).astype(F32)

    # --- per-deployment work -----------------------------------------------
    def cache_key(self, scene: Scene) -> str:
        """Digest of everything a fit depends on (:func:`deepmend.groundtruth.config.fit_cache_key`)."""
        return fit_cache_key(scene, self.config_.digest())

    def _fit(self, scene: Scene) -> None:
        cfg = self.config_
        # numpy's element-wise work releases the GIL: sites are spread over threads
        self.n_jobs_ = max(1, int(self.n_jobs if self.n_jobs is not None else min(os.cpu_count() or 1, 8)))
        self.areas_ = area_types(scene.deployment.xy, scene.tree, cfg)
        self.supports_ = None
        self.radios_ = {}
        self._supports()
        self.key_ = self.cache_key(scene)
        self.products_ = self._read_cache()
        self.fit_seconds_, self.from_cache_ = 0.0, self.products_ is not None
        if self.products_ is None and not self.lazy:
            self.fit_deployment()

    def _cache_path(self):
        return cache_dir() / "groundtruth" / f"{self.key_}.npz"

    def _read_cache(self) -> tuple[np.ndarray, np.ndarray] | None:
        path = self._cache_path()
        if not (self.use_cache and path.exists()):
            return None
        try:
            with np.load(path) as z:
                den, prior = z["denominator"], z["prior"]
            if den.shape == self.scene_.lattice.shape and np.isfinite(prior).all() and np.isfinite(den).all():
                return den, prior  # (a cache written from a population grid with missing values held NaN: recomputed)
        except Exception:  # a damaged cache is recomputed, never trusted
            pass
        return None

    @property
    def deployment_fitted(self) -> bool:
        """True when D and the prior of the whole deployment are at hand (maps are then slices, ms)."""
        return getattr(self, "products_", None) is not None

    def fit_deployment(self, progress: Progress | None = None) -> "GroundTruthSimulator":
        """Compute (or read from the disk cache) D and the prior on the whole lattice; returns ``self``.

        ``progress`` : callable ``(done, total) -> None``, optional
            Called per batch of sites added to D (about 1 % of the deployment's sites a batch,
            from the worker threads; ``done == total`` last). A plain callable: the caller decides
            where progress goes (a bar, an API job). Not called when the result comes from the
            disk cache or from a concurrent fit of the same deployment.

        Concurrent calls for the same deployment in one process compute it once
        (:data:`deepmend.resources.FLIGHTS`). A lazy model (``lazy=True``) answers maps by the
        per-BS path until this has run (e.g. in the background).
        """
        self.check_fitted()
        if self.products_ is not None:
            return self
        t0 = time.perf_counter()
        (den, prior, from_disk), shared = FLIGHTS.run(("groundtruth-fit", self.key_, self.use_cache), lambda: self._denominator(progress))
        self.products_ = (den, prior)
        self.fit_seconds_, self.from_cache_ = time.perf_counter() - t0, from_disk or shared
        return self

    def _denominator(self, progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray, bool]:
        """(D on the lattice, user prior, read from the disk cache?) of the fitted scene."""
        cached = self._read_cache()
        if cached is not None:
            return cached[0], cached[1], True
        scene = self.scene_
        prior = user_prior(scene, self.config_)
        den = self._denominator_block(0, scene.lattice.ny, 0, scene.lattice.nx, progress)
        if self.use_cache:
            path = self._cache_path()
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                with open(tmp, "wb") as fh:
                    np.savez(fh, denominator=den, prior=prior)
        return den, prior, False

    @property
    def denominator_(self) -> np.ndarray:
        """D on the lattice (float32); computes the whole-deployment fit if it is not done yet."""
        return self.fit_deployment().products_[0]

    @property
    def prior_(self) -> np.ndarray:
        """The user prior on the lattice (float32); computes the whole-deployment fit if it is not done yet."""
        return self.fit_deployment().products_[1]

    def window_products(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(D, prior) on site i's window: slices of the whole-deployment fit, else the per-BS path.

        The per-BS path computes D on the window only, from the sites whose support meets it,
        each on the intersection, and the prior on the window only: the same values as the
        whole fit's slices (to float32 rounding).
        """
        self.check_fitted()
        rs, cs = self.scene_.slices(i)
        if self.products_ is None:
            self.products_ = self._read_cache()  # another process may have written it meanwhile
        products = self.products_
        if products is not None:
            return products[0][rs, cs], products[1][rs, cs]
        den = self._denominator_block(rs.start, rs.stop, cs.start, cs.stop)
        return den, user_prior(self.scene_, self.config_, rs, cs)

    def association(self, i: int, den: np.ndarray | None = None) -> np.ndarray:
        """P(i|ℓ) on site i's window (0 where nothing is heard or off the mask).

        The denominator holds every site's term on its support, plus site i's own term on
        the rest of its window, so P(i|ℓ) ≤ 1 everywhere.
        """
        if den is None:
            den = self.window_products(i)[0]
        num = self.site_power(i)
        sup = self._supports()[i]
        rs, cs = self.scene_.slices(i)
        own = num - self._mean_on(i, rs.start, rs.stop, cs.start, cs.stop)  # its exact term instead of its mean field
        wr, wc = self._origin(i)
        own[sup[0] - wr : sup[1] - wr, sup[2] - wc : sup[3] - wc] = 0.0  # there D holds it already
        den = np.where(self.scene_.mask[rs, cs], np.maximum(den + own, num), F32(0.0)).astype(F32)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(den > 0, num / np.where(den > 0, den, F32(1.0)), F32(0.0))

    def _raw(self, i: int) -> np.ndarray:
        den, prior = self.window_products(i)
        return self.association(i, den) * prior

    def predict(self, site: int | str) -> DiffusionMap:
        """The map of ``site`` (:meth:`DiffusionModel.predict`), with the site's radio decisions in
        ``meta["site"]`` and ``meta["per_bs_path"]`` (True when computed without the whole-deployment fit).

        Raises
        ------
        NotFittedError
            Before :meth:`fit`.
        InputError
            For an unknown site.
        """
        m = super().predict(site)
        m.meta["site"] = self.site_radio(self.scene_.site_index(site)).as_dict()
        m.meta["per_bs_path"] = self.products_ is None
        return m

    def area_of(self, i: int) -> str:
        return AREA_TYPES[int(self.areas_[i])]

    def predict_many(self, sites: Iterable[int | str] | None = None) -> Iterator[DiffusionMap]:
        """Maps of ``sites`` in order, computed by ``n_jobs`` threads (at most 2 × n_jobs maps ahead).

        More than one map: the whole-deployment fit is done first (each site's term once).
        """
        self.check_fitted()
        todo = list(self.scene_.targets if sites is None else sites)
        if len(todo) > 1:
            self.fit_deployment()
        if self.n_jobs_ == 1 or len(todo) < 4:
            yield from (self.predict(s) for s in todo)
            return
        ahead = 2 * self.n_jobs_
        with ThreadPoolExecutor(self.n_jobs_, thread_name_prefix="groundtruth") as pool:
            futs = [pool.submit(self.predict, s) for s in todo[:ahead]]
            for k in range(len(todo)):
                if k + ahead < len(todo):
                    futs.append(pool.submit(self.predict, todo[k + ahead]))
                yield futs[k].result()
                futs[k] = None

    def _map(self, fn, items: list) -> list:
        """``fn`` over ``items`` in ``n_jobs`` threads, results in order (serial when 1 job)."""
        if self.n_jobs_ == 1 or len(items) < 2:
            return [fn(x) for x in items]
        with ThreadPoolExecutor(min(self.n_jobs_, len(items)), thread_name_prefix="groundtruth") as pool:
            return list(pool.map(fn, items))
