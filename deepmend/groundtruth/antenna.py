"""Sector antenna gain: the 3GPP TR 36.814 (Table A.2.1.1-2) 3-D pattern.

A_H(φ) = −min(12 (φ/φ3dB)², A_m), A_V(θ) = −min(12 ((θ − θ_tilt)/θ3dB)², SLA_v),
A(φ, θ) = −min(−(A_H + A_V), A_m); gain = G_max + A. The horizontal part shapes the
"three-lobed" footprint of a site; the vertical part with the downtilt puts the main
beam a few hundred metres to a few km out and attenuates far cells by a few dB.
Parameters and their values: docs/GROUNDTRUTH.md (METHOD.md §4). Angles in degrees;
bearings and azimuths from north, clockwise.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from deepmend.groundtruth.config import SimulatorConfig


def elevation_deg(d2d_m: np.ndarray, h_bs_m: float, h_ut_m: float) -> np.ndarray:
    """Angle below the horizon from the antenna to the UE (degrees, positive downward).

    θ = atan((h_BS − h_UT)/d), the elevation of the TR 36.814 vertical pattern.

    Parameters
    ----------
    d2d_m : numpy.ndarray of float32
        Horizontal distances, metres (clamped to ≥ 1 m).
    h_bs_m, h_ut_m : float
        Antenna and UE heights, metres.

    Returns
    -------
    numpy.ndarray of float32, shape of ``d2d_m``
    """
    return (np.arctan(np.float32(h_bs_m - h_ut_m) / np.maximum(d2d_m, np.float32(1.0))) * np.float32(180.0 / np.pi)).astype(np.float32)


def vertical_attenuation_db(elev_deg: np.ndarray, tilt_deg: float, cfg: SimulatorConfig) -> np.ndarray:
    """A_V(θ) = −min(12((θ − θ_tilt)/θ3dB)², SLA_v) in dB (3GPP TR 36.814 Table A.2.1.1-2).

    Parameters
    ----------
    elev_deg : numpy.ndarray of float32
        :func:`elevation_deg`.
    tilt_deg : float
        Electrical downtilt, degrees.
    cfg : SimulatorConfig
        θ3dB (``vertical_beamwidth_deg``) and SLA_v (``sla_v_db``).

    Returns
    -------
    numpy.ndarray of float32, shape of ``elev_deg``
        ≤ 0 dB.
    """
    return -np.minimum(12.0 * ((elev_deg - np.float32(tilt_deg)) / np.float32(cfg.vertical_beamwidth_deg)) ** 2, np.float32(cfg.sla_v_db))


#: Bearings are quantised to this many steps per degree for the horizontal-pattern lookup.
BEARING_STEPS = 10


def bearing_index(bearing_deg: np.ndarray) -> np.ndarray:
    """Quantised bearing (0.1° steps) used to look the horizontal pattern up instead of recomputing it.

    Parameters
    ----------
    bearing_deg : numpy.ndarray of float32
        Bearings from the site to the cells, degrees from north, clockwise.

    Returns
    -------
    numpy.ndarray of int32, shape of ``bearing_deg``
        Index into :func:`horizontal_table`, in [0, 3600).
    """
    return (bearing_deg * np.float32(BEARING_STEPS)).astype(np.int32) % (360 * BEARING_STEPS)


def horizontal_table(azimuth_deg: float, cfg: SimulatorConfig) -> np.ndarray:
    """A_H for every quantised bearing (3600 entries), the azimuth quantised to 0.1° like the bearings.

    A_H(φ) = −min(12(φ/φ3dB)², A_m) (3GPP TR 36.814 Table A.2.1.1-2).

    Parameters
    ----------
    azimuth_deg : float
        The sector's boresight, degrees from north, clockwise.
    cfg : SimulatorConfig
        φ3dB (``beamwidth_deg``) and A_m (``front_back_db``).

    Returns
    -------
    numpy.ndarray of float32, shape (3600,)
        dB, ≤ 0, at bearings (k + 0.5)/10 degrees.
    """
    return np.roll(_zero_azimuth_table(float(cfg.beamwidth_deg), float(cfg.front_back_db)), azimuth_index(azimuth_deg))


def azimuth_index(azimuth_deg: float) -> int:
    """The azimuth in 0.1° steps (the bearings' quantisation).

    Parameters
    ----------
    azimuth_deg : float
        Degrees from north, clockwise.

    Returns
    -------
    int
        round(10·azimuth) modulo 3600.
    """
    return int(round(float(azimuth_deg) * BEARING_STEPS)) % (360 * BEARING_STEPS)


@lru_cache(maxsize=16)
def _zero_azimuth_table(beamwidth_deg: float, front_back_db: float) -> np.ndarray:
    """A_H of a sector pointing north at every quantised bearing (read-only)."""
    b = (np.arange(360 * BEARING_STEPS, dtype=np.float32) + 0.5) / BEARING_STEPS
    delta = (b + 180.0) % 360.0 - 180.0
    out = -np.minimum(12.0 * (delta / np.float32(beamwidth_deg)) ** 2, np.float32(front_back_db)).astype(np.float32)
    out.flags.writeable = False
    return out


def sector_gain_db(bearing_idx: np.ndarray, azimuth_deg: float, a_v_db: np.ndarray, cfg: SimulatorConfig) -> np.ndarray:
    """Gain (dBi) towards each cell of a sector pointing at ``azimuth_deg`` (from north, clockwise; quantised to 0.1°).

    G_max − min(−(A_H + A_V), A_m) (3GPP TR 36.814 Table A.2.1.1-2).

    Parameters
    ----------
    bearing_idx : numpy.ndarray of int32
        :func:`bearing_index` of the cells.
    azimuth_deg : float
        The sector's boresight.
    a_v_db : numpy.ndarray of float32, shape of ``bearing_idx``
        :func:`vertical_attenuation_db` of the cells.
    cfg : SimulatorConfig
        G_max (``max_gain_dbi``), A_m and the horizontal beamwidth.

    Returns
    -------
    numpy.ndarray of float32, shape of ``bearing_idx``
        dBi.
    """
    table = _zero_azimuth_table(float(cfg.beamwidth_deg), float(cfg.front_back_db))
    a_h = table[(bearing_idx - azimuth_index(azimuth_deg)) % (360 * BEARING_STEPS)]
    return (np.float32(cfg.max_gain_dbi) - np.minimum(-(a_h + a_v_db), np.float32(cfg.front_back_db))).astype(np.float32)


def sector_azimuths(known: tuple[float, ...], n: int, rng: np.random.Generator) -> tuple[float, ...]:
    """Azimuths from the data when known; else ``n`` evenly spaced from a seeded random start.

    Our choice where the data are silent (docs/GROUNDTRUTH.md, METHOD.md §4).

    Parameters
    ----------
    known : tuple of float
        Azimuths of the data (degrees), possibly empty.
    n : int
        Sectors to draw when none are known (0: omni, no azimuth).
    rng : numpy.random.Generator
        The site's seeded generator.

    Returns
    -------
    tuple of float
        Azimuths in [0, 360), degrees from north, clockwise.
    """
    if known:
        return tuple(float(a) % 360.0 for a in known)
    if n <= 0:
        return ()
    start = float(rng.uniform(0.0, 360.0))
    return tuple((start + k * 360.0 / n) % 360.0 for k in range(n))
