"""Operator-like ground truth P(ℓ|i) simulated from a deployment (issue 8).

For every site: sectors with the TR 36.814 pattern, a TR 38.901 / COST-231 Hata path
loss by area type, LOS drawn from the 38.901 LOS probability, Gudmundson shadowing
plus a radial streak field → RSRP of each sector on the site's 600×600 window. A UE
at ℓ attaches to site i with probability softmax_i(RSRP/T) over every heard sector;
users are where the prior P(ℓ) says; P(ℓ|i) ∝ P(i|ℓ)·P(ℓ).

Cost model. The softmax denominator D(ℓ) = Σ_j Σ_s exp(RSRP_js(ℓ)/T) and the prior are
per-deployment products: ``_fit`` computes each site's term once, on its own window
only, and accumulates it on the national lattice (float32), then caches D and the
prior on disk keyed by a hash of (positions, heights, azimuths, mask, config). A BS's
map afterwards recomputes its own numerator (every random draw is seeded by
(seed, site id), so it is identical to the one summed into D) and divides: tens of ms.

Concurrency. Sites are spread over ``n_jobs`` *threads* (numpy releases the GIL in the
element-wise window work), never forked processes: forking a multi-threaded server
deadlocks. Concurrent fits of the same deployment in one process compute D once and
share it (:data:`deepmend.resources.FLIGHTS`); no module-level state is involved.
"""

from __future__ import annotations

import hashlib
import os
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from deepmend.config import cache_dir
from deepmend.errors import InputError
from deepmend.grid.diffusion_map import DiffusionMap
from deepmend.groundtruth.antenna import bearing_index, elevation_deg, sector_azimuths, sector_gain_db, vertical_attenuation_db
from deepmend.groundtruth.areas import area_types
from deepmend.groundtruth.config import AREA_TYPES, SimulatorConfig
from deepmend.groundtruth.pathloss import SIGMA_DB, los_probability, pathloss, scenario_for
from deepmend.groundtruth.population import user_prior
from deepmend.groundtruth.shadowing import gudmundson_field, radial_field, terrain_field
from deepmend.io import atomic_path
from deepmend.models.base import DiffusionModel
from deepmend.resources import FLIGHTS
from deepmend.scene import Scene

F32 = np.float32
#: RSRP reference (dBm) subtracted before exponentiating: keeps exp() in float32 range.
RSRP_REF_DBM = -80.0


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
    """Per-site generator: the same site gets the same draws whatever else is in the scene."""
    return np.random.default_rng([int(seed), zlib.crc32(str(site_id).encode()), stream])


class GroundTruthSimulator(DiffusionModel):
    name = "groundtruth"
    label = "Ground truth (simulated)"
    description = "Simulated operator ground truth: sectors, 3GPP path loss, correlated shadowing with radial streaks, soft best-server association, population prior."

    def __init__(self, config: SimulatorConfig | None = None, *, use_cache: bool = True, n_jobs: int | None = None) -> None:
        self.config = config
        self.use_cache = use_cache
        self.n_jobs = n_jobs

    def validate(self) -> "GroundTruthSimulator":
        """``config`` must be a :class:`SimulatorConfig` (or None: the default one)."""
        if self.config is not None and not isinstance(self.config, SimulatorConfig):
            raise InputError("config must be a SimulatorConfig", column="config", value=type(self.config).__name__)
        return self

    @property
    def config_(self) -> SimulatorConfig:
        """The configuration in effect (``config``, or the default one)."""
        return self.config if self.config is not None else SimulatorConfig()

    def cache_token(self) -> str:
        """``simulator:`` + the configuration's digest (the maps depend on nothing else)."""
        return "simulator:" + self.config_.digest()

    def params(self) -> dict:
        return self.config_.as_dict()

    # --- per-site radio ----------------------------------------------------
    def site_radio(self, i: int) -> SiteRadio:
        cfg, dep = self.config_, self.scene_.deployment
        area = int(self.areas_[i])
        rng = site_rng(cfg.seed, dep.site_ids[i], 1)
        jitter = float(rng.uniform(-cfg.height_jitter_m, cfg.height_jitter_m))
        known = bool(np.isfinite(dep.height_m[i]) and dep.height_m[i] > cfg.ue_height_m + 1.0)
        h = float(dep.height_m[i]) if known else max(cfg.height_m[area] + jitter, cfg.ue_height_m + 3.0)
        az = sector_azimuths(dep.azimuths[i], cfg.sectors, rng)
        scen = scenario_for(AREA_TYPES[area], h, cfg.pathloss)
        return SiteRadio(AREA_TYPES[area], scen, h, known, float(cfg.downtilt_deg[area]), az)

    def site_power(self, i: int) -> np.ndarray:
        """Σ over sectors of exp((RSRP − ref)/T) on site i's window, 0 where not heard (float32)."""
        cfg, dep = self.config_, self.scene_.deployment
        radio = self.site_radio(i)
        x, y = float(dep.x[i]), float(dep.y[i])
        win = self.scene_.lattice.window(x, y)
        xs, ys = win.centers()
        dx = (xs - x).astype(F32)[None, :]
        dy = (ys - y).astype(F32)[:, None]
        d = np.sqrt(dx * dx + dy * dy)
        bearing = np.degrees(np.arctan2(dx, dy)) % F32(360.0)
        n, res = win.size, win.res
        rng = site_rng(cfg.seed, dep.site_ids[i], 0)
        pl_los, pl_nlos = pathloss(d, radio.scenario, radio.area, radio.height_m, cfg.ue_height_m, cfg.carrier_ghz)
        s_los, s_nlos = SIGMA_DB[radio.scenario]
        p_los = los_probability(d, radio.scenario, cfg.ue_height_m)
        if cfg.los == "draw" and radio.scenario != "Hata":
            # 38.901's LOS decorrelation (50 m) is below the 100 m cell: independent per cell
            los = rng.random((n, n), dtype=F32) < p_los
            pl = np.where(los, pl_los, pl_nlos)
            sigma = np.where(los, F32(s_los), F32(s_nlos))
        else:
            pl = p_los * pl_los + (1 - p_los) * pl_nlos
            sigma = p_los * F32(s_los) + (1 - p_los) * F32(s_nlos)
        if cfg.shadow_sigma_db is not None:
            sigma = F32(cfg.shadow_sigma_db)
        loss = pl
        if np.any(sigma > 0):
            loss = loss + sigma * gudmundson_field(rng, n, res, cfg.shadow_corr_m)
        if cfg.streak_sigma_db > 0:
            loss = loss + F32(cfg.streak_sigma_db) * radial_field(rng, bearing, d, res, cfg.streak_along_m, cfg.streak_across_deg)
        if cfg.terrain_sigma_db > 0:  # its own stream: switching it on leaves the other draws as they were
            loss = loss + F32(cfg.terrain_sigma_db) * terrain_field(site_rng(cfg.seed, dep.site_ids[i], 2), bearing, d, cfg.terrain_corr_deg, cfg.terrain_ramp_m)
        a_v = vertical_attenuation_db(elevation_deg(d, radio.height_m, cfg.ue_height_m), radio.downtilt_deg, cfg)
        base = F32(cfg.tx_power_dbm - 10.0 * np.log10(12.0 * cfg.n_rb)) - loss
        bidx = bearing_index(bearing)
        gains = [sector_gain_db(bidx, az, a_v, cfg) for az in radio.azimuths_deg] or [F32(cfg.max_gain_dbi) + a_v]
        inv_t = F32(1.0 / cfg.temperature_db)
        out = np.zeros((n, n), dtype=F32)
        for g in gains:  # ≤ a handful of sectors, each a vectorised window operation
            rsrp = base + g
            out += np.where(rsrp >= F32(cfg.rsrp_floor_dbm), np.exp((rsrp - F32(RSRP_REF_DBM)) * inv_t), F32(0.0))
        return out

    # --- per-deployment work -----------------------------------------------
    def _overlap(self, i: int) -> tuple[tuple[slice, slice], tuple[slice, slice]] | None:
        """(lattice slices, window slices) of the part of site i's window inside the lattice."""
        lat = self.scene_.lattice
        win = lat.window(float(self.scene_.deployment.x[i]), float(self.scene_.deployment.y[i]))
        r0 = int(round((win.bottom - lat.y0) / lat.res))
        c0 = int(round((win.left - lat.x0) / lat.res))
        ra, rb = max(r0, 0), min(r0 + win.size, lat.ny)
        ca, cb = max(c0, 0), min(c0 + win.size, lat.nx)
        if ra >= rb or ca >= cb:
            return None
        return (slice(ra, rb), slice(ca, cb)), (slice(ra - r0, rb - r0), slice(ca - c0, cb - c0))

    def cache_key(self, scene: Scene) -> str:
        dep, lat = scene.deployment, scene.lattice
        h = hashlib.sha256()
        for arr in (dep.x, dep.y, np.nan_to_num(dep.height_m, nan=-1.0)):
            h.update(np.ascontiguousarray(arr, dtype=np.float64).tobytes())
        h.update("\x1f".join(map(str, dep.site_ids)).encode())
        h.update(repr(dep.azimuths).encode())
        h.update(repr((lat.crs, lat.x0, lat.y0, lat.nx, lat.ny, lat.res)).encode())
        h.update(np.packbits(scene.mask).tobytes())
        h.update(self.config_.digest().encode())
        return h.hexdigest()[:24]

    def _fit(self, scene: Scene) -> None:
        cfg = self.config_
        # numpy's element-wise work releases the GIL: sites are spread over threads
        self.n_jobs_ = max(1, int(self.n_jobs if self.n_jobs is not None else min(os.cpu_count() or 1, 8)))
        self.areas_ = area_types(scene.deployment.xy, scene.tree, cfg)
        key = self.cache_key(scene)
        t0 = time.perf_counter()
        (den, prior, from_disk), shared = FLIGHTS.run(("groundtruth-fit", key, self.use_cache), lambda: self._denominator(scene, key))
        self.denominator_, self.prior_ = den, prior
        self.fit_seconds_, self.from_cache_ = time.perf_counter() - t0, from_disk or shared

    def _denominator(self, scene: Scene, key: str) -> tuple[np.ndarray, np.ndarray, bool]:
        """(D on the lattice, user prior, read from the disk cache?) of ``scene``."""
        cfg = self.config_
        path = cache_dir() / "groundtruth" / f"{key}.npz"
        if self.use_cache and path.exists():
            try:
                with np.load(path) as z:
                    den, prior = z["denominator"], z["prior"]
                if den.shape == scene.lattice.shape:
                    return den, prior, True
            except Exception:  # a damaged cache is recomputed, never trusted
                pass
        prior = user_prior(scene, cfg)
        mask = scene.mask
        sites = [j for j in range(len(scene.deployment)) if (ov := self._overlap(j)) is not None and mask[ov[0]].any()]
        chunks = [sites[k :: self.n_jobs_] for k in range(self.n_jobs_)]
        parts = self._map(self.partial_denominator, [c for c in chunks if c])
        den = np.sum(parts, axis=0) if parts else np.zeros(scene.lattice.shape)
        den = np.where(mask, den, 0.0).astype(F32)
        if self.use_cache:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                with open(tmp, "wb") as fh:
                    np.savez(fh, denominator=den, prior=prior)
        return den, prior, False

    def association(self, i: int) -> np.ndarray:
        """P(i|ℓ) on site i's window (0 where nothing is heard or off the mask)."""
        rs, cs = self.scene_.slices(i)
        den = self.denominator_[rs, cs]
        num = self.site_power(i)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(den > 0, num / np.where(den > 0, den, F32(1.0)), F32(0.0))

    def _raw(self, i: int) -> np.ndarray:
        rs, cs = self.scene_.slices(i)
        return self.association(i) * self.prior_[rs, cs]

    def predict(self, site: int | str) -> DiffusionMap:
        m = super().predict(site)
        m.meta["site"] = self.site_radio(self.scene_.site_index(site)).as_dict()
        return m

    def area_of(self, i: int) -> str:
        return AREA_TYPES[int(self.areas_[i])]

    def partial_denominator(self, sites: list[int]) -> np.ndarray:
        """Σ of the given sites' terms on the lattice (float64, so worker order hardly matters)."""
        den = np.zeros(self.scene_.lattice.shape, dtype=np.float64)
        for j in sites:
            (lr, lc), (wr, wc) = self._overlap(j)
            den[lr, lc] += self.site_power(j)[wr, wc]
        return den

    def predict_many(self, sites: Iterable[int | str] | None = None) -> Iterator[DiffusionMap]:
        """Maps of ``sites`` in order, computed by ``n_jobs`` threads (at most 2 × n_jobs maps ahead)."""
        self.check_fitted()
        todo = list(self.scene_.targets if sites is None else sites)
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
