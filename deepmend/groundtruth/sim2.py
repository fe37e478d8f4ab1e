"""A second, independent ground truth (issue 19): Erceg path loss, Rayleigh signal dominance, built-up prior.

It exists to *evaluate* models on maps that do not come from the physics the students are
trained on (:mod:`deepmend.groundtruth.simulator`): never use it for training or to choose
hyper-parameters (the one exception, documented in docs/MODEL_CARD.md, is the choice
between the finished default and soft-label weights). It shares no code with the first
simulator: no 38.901 / Hata path loss, no 36.814 antenna pattern, no Gudmundson / radial /
terrain fields, no softmax association, no site-kernel prior (a test checks that importing
and running it leaves :mod:`deepmend.groundtruth.simulator` and its helpers unimported).

Model, for every site *i* with sectors *s*, on its own 600×600 window (100 m cells)
----------------------------------------------------------------------------------
Received power per resource element (linear, relative to the thermal noise N)::

    P_i(ℓ) = Σ_s 10^{(P_RE + G_max + 10·log10 g(φ_s(ℓ)) − PL_s(ℓ) − σ_i·y_i(ℓ) − N) / 10}

* **Path loss** PL_s: Erceg et al., "An empirically based path loss model for wireless
  channels in suburban environments", IEEE JSAC 17(7), 1999 (the SUI model of IEEE
  802.16.3c-01/29r4): PL = 20·log10(4π d0/λ) + 10·γ·log10(d/d0) + ΔPL_f + ΔPL_h for
  d ≥ d0 = 100 m (free space below), γ = a − b·h_b + c/h_b + x·σ_γ with terrain category
  A (urban), B (suburban), C (rural); x ~ N(0, 1) truncated to ±1.5 and drawn **per
  sector** (each sector looks over other terrain), ΔPL_f = 6·log10(f/2000 MHz),
  ΔPL_h = −10.8·log10(h_UT/2) (A, B) or −20·log10(h_UT/2) (C). Used beyond the 8 km of the
  measurements by extrapolation.
* **Shadowing**: Erceg's log-normal term σ_i·y with σ_i = μ_σ + z·σ_σ per site (z truncated
  to ±1.5) and y a unit-variance field with a *Gaussian* spatial correlation (white noise
  through a Gaussian filter of ``shadow_corr_m`` = 500 m), truncated to ±2 as in Erceg.
* **Antenna**: raised-cosine sector pattern g(φ) = max(((1 + cos φ)/2)^n, 10^{−FB/10}),
  n set so that g = ½ at ±beamwidth/2; azimuths from the data, else seeded, 360°/sectors
  apart. No vertical pattern.
* **Noise** N = −174 dBm/Hz + 10·log10(15 kHz) + NF per resource element.

Association (signal dominance under Rayleigh fading)
---------------------------------------------------
With unit-mean exponential (Rayleigh) fading on every link, the probability that BS *i*
reaches a UE at ℓ with SINR above θ is (Andrews, Baccelli, Ganti, "A tractable approach
to coverage and rate in cellular networks", IEEE Trans. Commun. 59(11), 2011, eq. 3)::

    p_i(ℓ) = exp(−θ/P_i(ℓ)) · Π_{k ≠ i} 1 / (1 + θ·P_k(ℓ)/P_i(ℓ))

θ = ``sinr_threshold_db`` = −6 dB, the SCH Ês/Iot down to which an LTE UE must identify
a cell (3GPP TS 36.133 §8.1.2.2.1): p_i is the probability that i is a usable server at
ℓ, and P(ℓ|i) weighs users by it (for θ ≥ 0 dB the events are disjoint — Dhillon et al.,
IEEE JSAC 30(3), 2012, Lemma 1 — and p_i is the probability that i serves ℓ; 0 dB gives
narrower maps). A UE where no BS reaches θ is counted by none. The product runs exactly
over the ``interferers`` strongest other BSs of ℓ and, for the rest, uses
log(1 + x) ≈ x on their summed power (they are weaker than the M-th strongest, so x is
small wherever p_i is not negligible).

Users
-----
P(ℓ) ∝ pop_s(ℓ)^γ · (b0 + B(ℓ)): pop_s = WorldPop 2020 10 km density, nearest cell on a
1 km grid, smoothed by a Gaussian of ``population_smooth_m``; B = built-up proxy, a
Gaussian kernel density of the deployment's sites (σ ``builtup_scale_m``), scaled to max 1;
zero outside the mask.

P(ℓ|i) ∝ p_i(ℓ)·P(ℓ) on the mask, normalised on the window.

Cost: ``fit`` computes each site's power once on its own window, keeps per lattice cell the
``interferers`` + 1 strongest powers with their site ids and the total power (cached on
disk under ``cache_dir()/groundtruth2``); a BS's map recomputes its own power (same seeded
draws) and reads those rasters: no loop over cells, loops only over sites and sectors.
"""

from __future__ import annotations

import json
import time
import zlib
from dataclasses import asdict, dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from deepmend.config import cache_dir
from deepmend.errors import InputError
from deepmend.groundtruth.common import ConfigMethods, fit_cache_key
from deepmend.io import atomic_path
from deepmend.models.base import DiffusionModel
from deepmend.scene import Scene

F32 = np.float32
#: Bumped whenever a change alters the maps, so old caches are not reused.
SIM2_VERSION = 1
AREAS = ("urban", "suburban", "rural")

#: Erceg et al. (1999) Table I: terrain category → (a, b, c, σ_γ, μ_σ, σ_σ).
ERCEG = {"A": (4.6, 0.0075, 12.6, 0.57, 10.6, 2.3), "B": (4.0, 0.0065, 17.1, 0.75, 9.6, 3.0), "C": (3.6, 0.005, 20.0, 0.59, 8.2, 1.6)}


@dataclass(frozen=True)
class Sim2Config(ConfigMethods):
    """Parameters of the second ground truth (units in the names); see the module docstring."""

    _what = "sim2"

    seed: int = 0
    carrier_ghz: float = 1.8
    tx_power_dbm: float = 43.0
    n_rb: int = 100
    max_gain_dbi: float = 17.0
    sectors: int = 3
    beamwidth_deg: float = 65.0
    front_back_db: float = 25.0
    noise_figure_db: float = 7.0
    ue_height_m: float = 1.5
    terrain: tuple[str, str, str] = ("A", "B", "C")
    height_range_m: tuple[tuple[float, float], ...] = ((20.0, 35.0), (25.0, 40.0), (30.0, 50.0))
    shadow_corr_m: float = 500.0
    interferers: int = 4
    sinr_threshold_db: float = -6.0
    population_exponent: float = 0.5
    population_smooth_m: float = 5000.0
    builtup_scale_m: float = 1200.0
    builtup_floor: float = 0.3
    urban_sites_per_km2: float = 1.0
    suburban_sites_per_km2: float = 0.15
    density_radius_m: float = 3000.0

    def __post_init__(self) -> None:
        checks = [
            ("terrain", len(self.terrain) == 3 and all(t in ERCEG for t in self.terrain)),
            ("height_range_m", len(self.height_range_m) == 3 and all(10.0 <= a <= b <= 80.0 for a, b in self.height_range_m)),
            ("sectors", 0 <= self.sectors <= 12),
            ("interferers", 1 <= self.interferers <= 16),
            ("shadow_corr_m", self.shadow_corr_m > 0),
            ("beamwidth_deg", 10.0 <= self.beamwidth_deg <= 180.0),
            ("population_exponent", self.population_exponent >= 0),
            ("builtup_floor", self.builtup_floor >= 0),
        ]
        for name, ok in checks:
            if not ok:
                raise InputError("invalid sim2 parameter", column=name, value=getattr(self, name))

    def as_dict(self) -> dict:
        """The parameters as JSON-ready values, with the model name and ``SIM2_VERSION`` (what a map's header records)."""
        d = json.loads(json.dumps(asdict(self)))
        d["version"] = SIM2_VERSION
        d["model"] = "sim2"
        return d



def _rng(seed: int, site_id: str, stream: int) -> np.random.Generator:
    """Per-site generator (Adler-32 of the id): a site's draws do not depend on the others."""
    return np.random.default_rng([int(seed), zlib.adler32(str(site_id).encode()), 0x5132, stream])


def _truncnorm(rng: np.random.Generator, size, lim: float) -> np.ndarray:
    return np.clip(rng.standard_normal(size), -lim, lim)


def erceg_pathloss(d_m: np.ndarray, h_bs: float, h_ut: float, f_ghz: float, terrain: str, x: float) -> np.ndarray:
    """Erceg et al. (1999) median path loss (dB, float32) at distances ``d_m`` (m); ``x`` the γ deviate.

    PL = 20·log10(4π d0/λ) + 10·γ·log10(d/d0) + ΔPL_f + ΔPL_h for d ≥ d0 = 100 m, free space
    below; γ = a − b·h_b + c/h_b + x·σ_γ (Erceg et al., IEEE JSAC 17(7), 1999; frequency and
    height corrections of IEEE 802.16.3c-01/29r4).

    Parameters
    ----------
    d_m : numpy.ndarray
        Distances, metres (clamped to ≥ 1 m).
    h_bs, h_ut : float
        Antenna and UE heights, metres (Erceg's model is fitted for h_b 10–80 m).
    f_ghz : float
        Carrier frequency, GHz.
    terrain : {"A", "B", "C"}
        Erceg terrain category (urban, suburban, rural).
    x : float
        Standard-normal deviate of γ (truncated by the caller).

    Returns
    -------
    numpy.ndarray of float32, shape of ``d_m``
        dB.
    """
    a, b, c, s_g, _, _ = ERCEG[terrain]
    lam = 0.299792458 / f_ghz
    d0 = 100.0
    gamma = a - b * h_bs + c / h_bs + x * s_g
    d = np.maximum(d_m, F32(1.0))
    fs = 20.0 * np.log10(4.0 * np.pi * d / lam)
    pl = 20.0 * np.log10(4.0 * np.pi * d0 / lam) + 10.0 * gamma * np.log10(np.maximum(d, d0) / d0)
    pl = pl + 6.0 * np.log10(f_ghz * 1000.0 / 2000.0) + (-20.0 if terrain == "C" else -10.8) * np.log10(h_ut / 2.0)
    return np.where(d < d0, fs, pl).astype(F32)


def raised_cosine_db(phi_deg: np.ndarray, beamwidth_deg: float, front_back_db: float) -> np.ndarray:
    """10·log10 of the raised-cosine sector pattern (0 dB on boresight, −3 dB at ±beamwidth/2).

    g(φ) = max(((1 + cos φ)/2)^n, 10^{−FB/10}), n set so that g = ½ at ±beamwidth/2 (a standard
    analytic sector pattern; docs/GROUNDTRUTH.md, METHOD.md §4).

    Parameters
    ----------
    phi_deg : numpy.ndarray
        Angle off boresight, degrees.
    beamwidth_deg : float
        3 dB beamwidth, degrees.
    front_back_db : float
        Floor of the pattern, dB below boresight.

    Returns
    -------
    numpy.ndarray of float32, shape of ``phi_deg``
        dB, ≤ 0.
    """
    n = np.log(0.5) / np.log((1.0 + np.cos(np.radians(beamwidth_deg / 2.0))) / 2.0)
    g = ((1.0 + np.cos(np.radians(phi_deg))) / 2.0) ** n
    return (10.0 * np.log10(np.maximum(g, 10.0 ** (-front_back_db / 10.0)))).astype(F32)


def gaussian_field(rng: np.random.Generator, shape: tuple[int, int], res_m: float, corr_m: float) -> np.ndarray:
    """Unit-variance field with a Gaussian correlation (white noise through a Gaussian filter).

    Erceg et al. (1999)'s shadowing term, with a Gaussian spatial correlation of ``corr_m``.

    Parameters
    ----------
    rng : numpy.random.Generator
        The site's seeded generator.
    shape : tuple of int
        Field shape (rows, cols).
    res_m : float
        Cell size, metres.
    corr_m : float
        Correlation length (σ of the Gaussian filter), metres.

    Returns
    -------
    numpy.ndarray of float32, shape ``shape``
        Zero mean, unit (sample) variance (wrap-around edges).
    """
    f = gaussian_filter(rng.standard_normal(shape).astype(F32), sigma=max(corr_m / res_m, 0.5), mode="wrap")
    return (f / (float(f.std()) or 1.0)).astype(F32)


class SignalDominanceSimulator(DiffusionModel):
    """Second, independent ground truth (see the module docstring); used only for evaluation.

    Parameters
    ----------
    config : Sim2Config, optional
        The model's parameters (default ``Sim2Config()``).
    use_cache : bool, default True
        Keep per-deployment rasters under ``cache_dir()/groundtruth2/`` (keyed by
        :meth:`cache_key`).
    """

    name = "groundtruth2"
    label = "Ground truth 2 (Erceg, signal dominance)"
    description = "Independent simulated ground truth: Erceg/SUI path loss, raised-cosine sectors, Rayleigh signal dominance, built-up user prior."

    def __init__(self, config: Sim2Config | None = None, *, use_cache: bool = True) -> None:
        self.config = config or Sim2Config()
        self.use_cache = use_cache

    def params(self) -> dict:
        return self.config.as_dict()

    def cache_token(self) -> str:
        """``sim2:`` + the configuration's digest + the population grid's reading version (the maps
        depend on nothing else)."""
        from deepmend.data.population import READING_VERSION

        return f"sim2:{self.config.digest()}:pop{READING_VERSION}"

    # --- per site ------------------------------------------------------------
    def _areas(self, scene: Scene) -> np.ndarray:
        cfg = self.config
        n = scene.tree.query_ball_point(scene.deployment.xy, r=cfg.density_radius_m, return_length=True) - 1
        dens = n / (np.pi * (cfg.density_radius_m / 1000.0) ** 2)
        return np.where(dens >= cfg.urban_sites_per_km2, 0, np.where(dens >= cfg.suburban_sites_per_km2, 1, 2))

    def site_radio(self, i: int) -> dict:
        """The seeded radio draws of site ``i``: area type, antenna height (m, from the data clipped to
        10–80 m, else drawn in the area's range), sector azimuths (degrees from north), per-sector
        γ deviates and the site's shadowing σ (dB).
        """
        cfg, dep = self.config, self.scene_.deployment
        area = int(self.areas_[i])
        rng = _rng(cfg.seed, dep.site_ids[i], 1)
        lo, hi = cfg.height_range_m[area]
        h_draw = float(rng.uniform(lo, hi))
        known = bool(np.isfinite(dep.height_m[i]) and dep.height_m[i] >= 10.0)
        h = float(np.clip(dep.height_m[i], 10.0, 80.0)) if known else h_draw
        az_data = dep.azimuths[i]
        if cfg.sectors == 0:
            az = ()
        elif az_data:
            az = tuple(float(a) for a in az_data)
        else:
            start = float(rng.uniform(0.0, 360.0))
            az = tuple((start + k * 360.0 / cfg.sectors) % 360.0 for k in range(cfg.sectors))
        x = _truncnorm(rng, max(len(az), 1), 1.5)
        z = float(_truncnorm(rng, 1, 1.5)[0])
        terrain = cfg.terrain[area]
        sigma = ERCEG[terrain][4] + z * ERCEG[terrain][5]
        return {"area": AREAS[area], "terrain": terrain, "height_m": h, "height_from_data": known, "azimuths_deg": az,
                "gamma_deviates": [float(v) for v in x], "shadow_sigma_db": float(sigma)}

    def site_power(self, i: int) -> np.ndarray:
        """P_i / N on site i's window (float32, 0 off the mask)."""
        cfg, dep, scene = self.config, self.scene_.deployment, self.scene_
        r = self.site_radio(i)
        x0, y0 = float(dep.x[i]), float(dep.y[i])
        win = scene.lattice.window(x0, y0)
        xs, ys = win.centers()
        dx = (xs - x0).astype(F32)[None, :]
        dy = (ys - y0).astype(F32)[:, None]
        d = np.sqrt(dx * dx + dy * dy)
        bearing = np.degrees(np.arctan2(dx, dy)).astype(F32)
        y = np.clip(gaussian_field(_rng(cfg.seed, dep.site_ids[i], 2), d.shape, win.res, cfg.shadow_corr_m), -2.0, 2.0)
        noise_dbm = -174.0 + 10.0 * np.log10(15e3) + cfg.noise_figure_db
        base = F32(cfg.tx_power_dbm - 10.0 * np.log10(12.0 * cfg.n_rb) + cfg.max_gain_dbi - noise_dbm) - F32(r["shadow_sigma_db"]) * y
        out = np.zeros(d.shape, dtype=np.float64)
        sectors = r["azimuths_deg"] or (None,)
        for az, xg in zip(sectors, r["gamma_deviates"]):
            pl = erceg_pathloss(d, r["height_m"], cfg.ue_height_m, cfg.carrier_ghz, r["terrain"], xg)
            g = F32(0.0) if az is None else raised_cosine_db((bearing - F32(az) + 180.0) % 360.0 - 180.0, cfg.beamwidth_deg, cfg.front_back_db)
            out += np.power(10.0, (base + g - pl).astype(np.float64) / 10.0)
        return out.astype(F32) * self._window_mask(i, win)

    def _overlap(self, i: int):
        lat = self.scene_.lattice
        win = lat.window(float(self.scene_.deployment.x[i]), float(self.scene_.deployment.y[i]))
        r0 = int(round((win.bottom - lat.y0) / lat.res))
        c0 = int(round((win.left - lat.x0) / lat.res))
        ra, rb = max(r0, 0), min(r0 + win.size, lat.ny)
        ca, cb = max(c0, 0), min(c0 + win.size, lat.nx)
        if ra >= rb or ca >= cb:
            return None
        return (slice(ra, rb), slice(ca, cb)), (slice(ra - r0, rb - r0), slice(ca - c0, cb - c0))

    def _window_mask(self, i: int, win) -> np.ndarray:
        m = np.zeros((win.size, win.size), dtype=F32)
        ov = self._overlap(i)
        if ov is not None:
            m[ov[1]] = self.scene_.mask[ov[0]]
        return m

    # --- per deployment ------------------------------------------------------
    def user_prior(self, scene: Scene) -> np.ndarray:
        """Unnormalised P(ℓ) on the lattice (float32), zero off the mask.

        Raises
        ------
        ValueError
            If the prior is not finite somewhere (never turned silently into a map).
        """
        cfg, lat = self.config, scene.lattice
        pop = _population_1km(scene)
        if pop is None:
            dens = np.ones(lat.shape, dtype=F32)
        else:
            sm = gaussian_filter(pop, sigma=cfg.population_smooth_m / 1000.0, mode="nearest")
            dens = np.repeat(np.repeat(sm, 10, axis=0), 10, axis=1)[: lat.ny, : lat.nx].astype(F32)
            dens = np.maximum(dens, 0.0) ** F32(cfg.population_exponent)
        xy = scene.deployment.xy
        r = np.floor((xy[:, 1] - lat.y0) / lat.res).astype(int)
        c = np.floor((xy[:, 0] - lat.x0) / lat.res).astype(int)
        ok = (r >= 0) & (r < lat.ny) & (c >= 0) & (c < lat.nx)
        hist = np.zeros(lat.shape, dtype=F32)
        np.add.at(hist, (r[ok], c[ok]), 1.0)
        b = gaussian_filter(hist, sigma=cfg.builtup_scale_m / lat.res, mode="constant")
        b /= max(float(b.max()), 1e-30)
        out = np.where(scene.mask, dens * (F32(cfg.builtup_floor) + b), 0.0).astype(F32)
        if not np.isfinite(out).all():  # never a NaN prior: every map touching it would become a point mass
            raise ValueError("the second ground truth's user prior is not finite")
        return out

    def cache_key(self, scene: Scene) -> str:
        """Digest of everything a fit depends on (:func:`deepmend.groundtruth.config.fit_cache_key`)."""
        return fit_cache_key(scene, self.config.digest())

    def _fit(self, scene: Scene) -> None:
        cfg = self.config
        self.areas_ = self._areas(scene)
        path = cache_dir() / "groundtruth2" / f"{self.cache_key(scene)}.npz"
        t0 = time.perf_counter()
        if self.use_cache and path.exists():
            try:
                with np.load(path) as z:
                    top, top_id, total, prior = z["top"], z["top_id"], z["total"], z["prior"]
                if np.isfinite(prior).all():  # (caches written from a grid with missing values held NaN: recomputed)
                    self.top_, self.top_id_, self.total_, self.prior_ = top, top_id, total, prior
                    self.fit_seconds_, self.from_cache_ = time.perf_counter() - t0, True
                    return
            except Exception:  # a damaged cache is recomputed, never trusted
                pass
        m = cfg.interferers + 1
        top = np.zeros((m,) + scene.lattice.shape, dtype=F32)
        top_id = np.full((m,) + scene.lattice.shape, -1, dtype=np.int32)
        total = np.zeros(scene.lattice.shape, dtype=np.float64)
        for j in range(len(scene.deployment)):
            ov = self._overlap(j)
            if ov is None or not scene.mask[ov[0]].any():
                continue
            lat_s, win_s = ov
            p = self.site_power(j)[win_s]
            total[lat_s] += p
            vals = np.concatenate([top[(slice(None),) + lat_s], p[None]])
            ids = np.concatenate([top_id[(slice(None),) + lat_s], np.full((1,) + p.shape, j, dtype=np.int32)])
            order = np.argsort(-vals, axis=0, kind="stable")[:m]
            top[(slice(None),) + lat_s] = np.take_along_axis(vals, order, axis=0)
            top_id[(slice(None),) + lat_s] = np.take_along_axis(ids, order, axis=0)
        self.top_, self.top_id_, self.total_ = top, top_id, total.astype(F32)
        self.prior_ = self.user_prior(scene)
        self.fit_seconds_, self.from_cache_ = time.perf_counter() - t0, False
        if self.use_cache:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                with open(tmp, "wb") as fh:
                    np.savez(fh, top=self.top_, top_id=self.top_id_, total=self.total_, prior=self.prior_)

    def association(self, i: int) -> np.ndarray:
        """p_i(ℓ): probability that BS i serves a UE at ℓ with SINR > 0 dB (Rayleigh fading)."""
        rs, cs = self.scene_.slices(i)
        p = self.site_power(i).astype(np.float64)
        top = self.top_[:, rs, cs].astype(np.float64)
        other = np.where(self.top_id_[:, rs, cs] == i, 0.0, top)
        k = self.config.interferers
        other = -np.sort(-other, axis=0)[:k]  # the strongest interferers (i itself removed)
        rest = np.maximum(self.total_[rs, cs].astype(np.float64) - p - other.sum(axis=0), 0.0)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            safe = np.where(p > 0, p, 1.0)
            th = 10.0 ** (self.config.sinr_threshold_db / 10.0)
            log_p = -th / safe - np.log1p(th * other / safe).sum(axis=0) - th * rest / safe
            return np.where(p > 0, np.exp(log_p), 0.0).astype(F32)

    def _raw(self, i: int) -> np.ndarray:
        rs, cs = self.scene_.slices(i)
        return self.association(i) * self.prior_[rs, cs]

    def predict(self, site):
        """The map of ``site`` (:meth:`DiffusionModel.predict`), with the site's radio draws in
        ``meta["site"]``.

        Raises
        ------
        NotFittedError
            Before :meth:`fit`.
        InputError
            For an unknown site.
        """
        m = super().predict(site)
        r = self.site_radio(self.scene_.site_index(site))
        m.meta["site"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in r.items()}
        return m

    def area_of(self, i: int) -> str:
        return AREAS[int(self.areas_[i])]


def _population_1km(scene: Scene) -> np.ndarray | None:
    """WorldPop 2020 density (1/km²) of the nearest 10 km cell on a 1 km grid over the lattice (rows northward)."""
    from deepmend.data.crs import to_wgs84
    from deepmend.data.population import population_grid

    grid = population_grid()  # missing values filled (deepmend.data.population)
    if grid is None:
        return None
    step = grid.step
    lat = scene.lattice
    xs = lat.x0 + (np.arange(int(np.ceil(lat.nx / 10))) + 0.5) * 1000.0
    ys = lat.y0 + (np.arange(int(np.ceil(lat.ny / 10))) + 0.5) * 1000.0
    gx, gy = np.meshgrid(xs, ys)
    lon, la = to_wgs84(gx.ravel(), gy.ravel(), lat.crs)
    dens = grid.density
    cx = np.floor(np.asarray(lon) / step).astype(int) - grid.lon0
    cy = np.floor(np.asarray(la) / step).astype(int) - grid.lat0
    inside = (cx >= 0) & (cx < dens.shape[1]) & (cy >= 0) & (cy < dens.shape[0])
    vals = np.where(inside, dens[np.clip(cy, 0, dens.shape[0] - 1), np.clip(cx, 0, dens.shape[1] - 1)], 0.0).reshape(gx.shape)
    return vals if np.any(vals > 0) else None
