"""Path loss (dB) and LOS probability, vectorised over a window of distances.

Models, as published:
- 3GPP TR 38.901 v17 Table 7.4.1-1 (UMa, UMi-Street Canyon, RMa; LOS and NLOS) and
  Table 7.4.2-1 (LOS probability). Used beyond their 5 km / 10 km validity range by
  plain extrapolation (documented): far cells only need the right order of magnitude.
- COST-231 Hata (COST Action 231 final report, §4.4.1, 1999) with the Okumura–Hata
  suburban and open-area corrections.
All distances in metres, frequencies in GHz, heights in metres; float32 in, float32 out.
"""

from __future__ import annotations

import numpy as np

C = 3.0e8
F32 = np.float32

#: 38.901 shadow-fading σ (dB) per scenario and LOS state.
SIGMA_DB = {"UMa": (4.0, 6.0), "UMi": (4.0, 7.82), "RMa": (4.0, 8.0), "Hata": (6.0, 6.0)}


def _lg(x: np.ndarray) -> np.ndarray:
    return np.log10(np.maximum(x, F32(1.0)))


def uma(d2d: np.ndarray, h_bs: float, h_ut: float, fc: float) -> tuple[np.ndarray, np.ndarray]:
    """3GPP TR 38.901 v17 Table 7.4.1-1 UMa path loss: (PL_LOS, PL_NLOS) in dB.

    Parameters
    ----------
    d2d : numpy.ndarray of float32
        Horizontal BS–UE distances in metres (any shape, e.g. a 600×600 window).
    h_bs, h_ut : float
        Antenna and UE heights in metres.
    fc : float
        Carrier frequency in GHz.

    Returns
    -------
    pl_los, pl_nlos : numpy.ndarray of float32, shape of ``d2d``
        dB; NLOS is max(PL_LOS, PL'_NLOS) as the table defines it.
    """
    d3d = np.sqrt(d2d * d2d + F32((h_bs - h_ut) ** 2))
    d_bp = 4.0 * (h_bs - 1.0) * (h_ut - 1.0) * fc * 1e9 / C
    pl1 = 28.0 + 22.0 * _lg(d3d) + 20.0 * np.log10(fc)
    pl2 = 28.0 + 40.0 * _lg(d3d) + 20.0 * np.log10(fc) - 9.0 * np.log10(d_bp**2 + (h_bs - h_ut) ** 2)
    los = np.where(d2d <= d_bp, pl1, pl2).astype(F32)
    nlos = 13.54 + 39.08 * _lg(d3d) + 20.0 * np.log10(fc) - 0.6 * (h_ut - 1.5)
    return los, np.maximum(los, nlos).astype(F32)


def umi(d2d: np.ndarray, h_bs: float, h_ut: float, fc: float) -> tuple[np.ndarray, np.ndarray]:
    """3GPP TR 38.901 v17 Table 7.4.1-1 UMi-Street Canyon path loss: (PL_LOS, PL_NLOS) in dB.

    Parameters
    ----------
    d2d : numpy.ndarray of float32
        Horizontal BS–UE distances in metres (any shape, e.g. a 600×600 window).
    h_bs, h_ut : float
        Antenna and UE heights in metres.
    fc : float
        Carrier frequency in GHz.

    Returns
    -------
    pl_los, pl_nlos : numpy.ndarray of float32, shape of ``d2d``
        dB.
    """
    d3d = np.sqrt(d2d * d2d + F32((h_bs - h_ut) ** 2))
    d_bp = 4.0 * (h_bs - 1.0) * (h_ut - 1.0) * fc * 1e9 / C
    pl1 = 32.4 + 21.0 * _lg(d3d) + 20.0 * np.log10(fc)
    pl2 = 32.4 + 40.0 * _lg(d3d) + 20.0 * np.log10(fc) - 9.5 * np.log10(d_bp**2 + (h_bs - h_ut) ** 2)
    los = np.where(d2d <= d_bp, pl1, pl2).astype(F32)
    nlos = 22.4 + 35.3 * _lg(d3d) + 21.3 * np.log10(fc) - 0.3 * (h_ut - 1.5)
    return los, np.maximum(los, nlos).astype(F32)


def rma(d2d: np.ndarray, h_bs: float, h_ut: float, fc: float, h_bld: float = 5.0, w_street: float = 20.0) -> tuple[np.ndarray, np.ndarray]:
    """3GPP TR 38.901 v17 Table 7.4.1-1 RMa path loss: (PL_LOS, PL_NLOS) in dB.

    Parameters
    ----------
    d2d : numpy.ndarray of float32
        Horizontal BS–UE distances in metres (any shape, e.g. a 600×600 window).
    h_bs, h_ut : float
        Antenna and UE heights in metres.
    fc : float
        Carrier frequency in GHz.
    h_bld : float, default 5.0
        Average building height, metres.
    w_street : float, default 20.0
        Average street width, metres.

    Returns
    -------
    pl_los, pl_nlos : numpy.ndarray of float32, shape of ``d2d``
        dB.
    """
    d3d = np.sqrt(d2d * d2d + F32((h_bs - h_ut) ** 2))
    d_bp = 2.0 * np.pi * h_bs * h_ut * fc * 1e9 / C

    def pl1(d: np.ndarray | float) -> np.ndarray:
        d = np.maximum(d, 1.0)
        return (20.0 * np.log10(40.0 * np.pi * d * fc / 3.0) + min(0.03 * h_bld**1.72, 10.0) * np.log10(d)
                - min(0.044 * h_bld**1.72, 14.77) + 0.002 * np.log10(h_bld) * d)

    los = np.where(d2d <= d_bp, pl1(d3d), pl1(d_bp) + 40.0 * np.log10(np.maximum(d3d, 1.0) / d_bp)).astype(F32)
    nlos = (161.04 - 7.1 * np.log10(w_street) + 7.5 * np.log10(h_bld) - (24.37 - 3.7 * (h_bld / h_bs) ** 2) * np.log10(h_bs)
            + (43.42 - 3.1 * np.log10(h_bs)) * (_lg(d3d) - 3.0) + 20.0 * np.log10(fc) - (3.2 * np.log10(11.75 * h_ut) ** 2 - 4.97))
    return los, np.maximum(los, nlos).astype(F32)


def cost231_hata(d2d: np.ndarray, h_bs: float, h_ut: float, fc: float, area: str) -> np.ndarray:
    """COST-231 Hata median path loss in dB (COST Action 231 final report, §4.4.1, 1999).

    ``area`` "urban" adds the metropolitan correction C = 3 dB; "suburban" and "rural" apply
    the Okumura–Hata suburban and open-area corrections. Distances below 20 m are clamped.

    Parameters
    ----------
    d2d : numpy.ndarray of float32
        Horizontal BS–UE distances in metres (any shape, e.g. a 600×600 window).
    h_bs, h_ut : float
        Antenna and UE heights in metres.
    fc : float
        Carrier frequency in GHz.
    area : {"urban", "suburban", "rural"}
        Area type of the site.

    Returns
    -------
    numpy.ndarray of float32, shape of ``d2d``
        dB.
    """
    f = fc * 1000.0
    lf = np.log10(f)
    a_hm = (1.1 * lf - 0.7) * h_ut - (1.56 * lf - 0.8)
    d_km = np.maximum(d2d, F32(20.0)) / F32(1000.0)
    pl = 46.3 + 33.9 * lf - 13.82 * np.log10(h_bs) - a_hm + (44.9 - 6.55 * np.log10(h_bs)) * np.log10(d_km)
    if area == "urban":
        pl = pl + 3.0
    elif area == "suburban":
        pl = pl - 2.0 * np.log10(f / 28.0) ** 2 - 5.4
    else:
        pl = pl - 4.78 * lf**2 + 18.33 * lf - 40.94
    return pl.astype(F32)


def los_probability(d2d: np.ndarray, scenario: str, h_ut: float = 1.5) -> np.ndarray:
    """LOS probability of 3GPP TR 38.901 Table 7.4.2-1 (outdoor UE, h_UT ≤ 13 m).

    Parameters
    ----------
    d2d : numpy.ndarray of float32
        Horizontal distances, metres (clamped to ≥ 1 m).
    scenario : {"UMa", "UMi", "RMa", "Hata"}
        The model the site follows.
    h_ut : float, default 1.5
        UE height, metres.

    Returns
    -------
    numpy.ndarray of float32, shape of ``d2d``
        P_LOS in [0, 1].
    """
    d = np.maximum(d2d, F32(1.0))
    if scenario == "UMa":
        p = 18.0 / d + np.exp(-d / 63.0) * (1.0 - 18.0 / d)
        return np.where(d <= 18.0, 1.0, p).astype(F32)
    if scenario == "UMi":
        p = 18.0 / d + np.exp(-d / 36.0) * (1.0 - 18.0 / d)
        return np.where(d <= 18.0, 1.0, p).astype(F32)
    if scenario == "RMa":
        return np.where(d <= 10.0, 1.0, np.exp(-(d - 10.0) / 1000.0)).astype(F32)
    return np.zeros_like(d, dtype=F32)  # Hata: a median over all states


def scenario_for(area: str, h_bs: float, model: str) -> str:
    """Which published model a site follows: by area type, and UMi for low urban masts (docs/GROUNDTRUTH.md).

    Urban → 3GPP TR 38.901 UMa (UMi when the mast is ≤ 12 m), suburban → COST-231 Hata,
    rural → RMa; ``model="hata"`` → Hata everywhere.

    Parameters
    ----------
    area : {"urban", "suburban", "rural"}
        Area type of the site.
    h_bs : float
        Antenna height, metres.
    model : str
        The simulator's ``pathloss`` setting ("3gpp" or "hata").

    Returns
    -------
    str
        "UMa", "UMi", "RMa" or "Hata".
    """
    if model == "hata":
        return "Hata"
    if area == "urban":
        return "UMi" if h_bs <= 12.0 else "UMa"
    if area == "suburban":
        return "Hata"
    return "RMa"


def pathloss(d2d: np.ndarray, scenario: str, area: str, h_bs: float, h_ut: float, fc: float) -> tuple[np.ndarray, np.ndarray]:
    """(PL_LOS, PL_NLOS) in dB of a scenario (3GPP TR 38.901 v17; COST-231 Hata, 1999); Hata returns its median twice.

    Parameters
    ----------
    d2d : numpy.ndarray of float32
        Horizontal BS–UE distances in metres (any shape, e.g. a 600×600 window).
    scenario : {"UMa", "UMi", "RMa", "Hata"}
        From :func:`scenario_for`.
    area : str
        Area type (Hata's correction).
    h_bs, h_ut : float
        Antenna and UE heights in metres.
    fc : float
        Carrier frequency in GHz.

    Returns
    -------
    pl_los, pl_nlos : numpy.ndarray of float32, shape of ``d2d``
        dB.
    """
    if scenario == "UMa":
        return uma(d2d, h_bs, h_ut, fc)
    if scenario == "UMi":
        return umi(d2d, h_bs, h_ut, fc)
    if scenario == "RMa":
        return rma(d2d, h_bs, h_ut, fc)
    pl = cost231_hata(d2d, h_bs, h_ut, fc, area)
    return pl, pl
