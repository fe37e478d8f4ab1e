"""Estimators of the spatial density u(ℓ) from per-BS counts v_i and the diffusion maps P(ℓ|i).

Notation: ``n`` sites, ``m`` support cells, ``B`` bands (value columns × time slots).
``P`` (n, m) is the models' diffusion maps P(ℓ|i) (rows sum to 1); ``v`` (n, B) the counts.

Association matrix (Bayes with a uniform prior over sites, π_i = 1/n):

    A[i, ℓ] = P(i|ℓ) = P(ℓ|i)·π_i / Σ_k P(ℓ|k)·π_k = P(ℓ|i) / Σ_k P(ℓ|k),

the probability that a device in cell ℓ is counted at site i (Σ_i A[i, ℓ] = 1 on the
support). A uniform π keeps the estimators from reading the counts into the association:
with π_i ∝ v_i the spreading estimate would be a fixed point of the EM below.

Every estimator is a *re-allocation*: it returns effective maps Q(ℓ|i) (rows sum to 1)
and the density u(ℓ) = Σ_i v_i·Q(ℓ|i), so the total is conserved and site → area weight
tables and per-area allocation uncertainties follow from Q the same way for all three.

``spread``
    Q = P: each BS's count spread with its own map (the usual "diffusion" estimator).
``bayes`` (Tennekes & Gootzen 2022, "Bayesian location estimation of mobile devices
    using a signal strength model", J. Spatial Information Science 25; R package mobloc)
    Q(ℓ|i) = A[i, ℓ]·π(ℓ) / Σ_ℓ' A[i, ℓ']·π(ℓ') with a spatial prior π(ℓ) (uniform,
    population, or a user raster).
``ml-em`` (Ricciato & Coluccia 2020, "On the estimation of spatial density from mobile
    network operator data", arXiv preprint; the EM of Shepp & Vardi 1982 / Richardson–Lucy)
    v_i ~ Poisson(λ_i), λ = A·u. The EM (Richardson–Lucy / Shepp–Vardi) update

        u⁽ᵏ⁺¹⁾(ℓ) = u⁽ᵏ⁾(ℓ) · Σ_i A[i, ℓ]·v_i / λ_i⁽ᵏ⁾      (Σ_i A[i, ℓ] = 1)

    increases the Poisson log-likelihood L = Σ_i v_i·log λ_i − λ_i − log v_i! at every
    step; it starts from the prior scaled to Σ v and stops when |ΔL| ≤ tol·|L| or after
    ``max_iter`` steps (both reported). Q(ℓ|i) = A[i, ℓ]·u⁽ᵏ⁾(ℓ) / λ_i⁽ᵏ⁾ (the E-step).

Per-area uncertainty (all estimators): given Q, the v_i devices of site i fall in area a
independently with probability w_ia = Σ_ℓ Q(ℓ|i)·cover(ℓ, a), so the area total is a sum
of binomials with variance Σ_i v_i·w_ia·(1 − w_ia). This is the allocation uncertainty
given the maps; it does not include the error of the maps themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.special import gammaln

ESTIMATORS = ("spread", "ml-em", "bayes")


@dataclass
class Estimate:
    """Density on the support cells and what it takes to re-aggregate it.

    Attributes
    ----------
    density : float64 (m, B)
        u(ℓ) per band (devices per 100 m cell).
    weights : callable
        ``weights(C, b)`` → (n, K) CSR site → area shares for band ``b`` given a (m, K) sparse
        coverage matrix ``C`` (fraction of each cell inside each area).
    info : dict
        Estimator, prior, and for ml-em the iterations, log-likelihood trace and stopping reason.
    """

    density: np.ndarray
    weights: object
    info: dict = field(default_factory=dict)


def association(P: sp.csr_matrix) -> sp.csr_matrix:
    """A = P(i|ℓ) = P(ℓ|i) / Σ_k P(ℓ|k) (uniform prior over sites); columns sum to 1 on the support.

    Bayes' rule with a uniform prior over sites, as in the module docstring (Tennekes & Gootzen 2022).

    Parameters
    ----------
    P : scipy.sparse.csr_matrix, shape (n, m)
        Diffusion maps P(ℓ|i) of the ``n`` sites on the ``m`` support cells (rows sum to ≤ 1).

    Returns
    -------
    scipy.sparse.csr_matrix, shape (n, m)
        A[i, ℓ]; zero columns stay zero (cells no map reaches).
    """
    col = np.asarray(P.sum(axis=0)).ravel()
    inv = np.divide(1.0, col, out=np.zeros_like(col), where=col > 0)
    return sp.csr_matrix(P @ sp.diags(inv))


def _row_normalise(M: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
    s = np.asarray(M.sum(axis=1)).ravel()
    inv = np.divide(1.0, s, out=np.zeros_like(s), where=s > 0)
    return sp.csr_matrix(sp.diags(inv) @ M), s


def spread(P: sp.csr_matrix, v: np.ndarray) -> Estimate:
    """u = Pᵀ·v with the maps renormalised to sum to 1 (mass below the engine's floor is put back pro rata).

    Q = P: each BS's count spread with its own map, the usual "diffusion" estimator (standard definition).

    Parameters
    ----------
    P : scipy.sparse.csr_matrix, shape (n, m)
        Diffusion maps P(ℓ|i) of the ``n`` sites on the ``m`` support cells (rows sum to ≤ 1).
    v : numpy.ndarray, shape (n, B)
        Counts per site and band.

    Returns
    -------
    Estimate
        u (m, B) in devices per 100 m cell, total conserved.
    """
    Q, _ = _row_normalise(P)
    return Estimate(np.asarray(Q.T @ v), lambda C, b: sp.csr_matrix(Q @ C), {"estimator": "spread"})


def bayes(P: sp.csr_matrix, v: np.ndarray, prior: np.ndarray) -> Estimate:
    """Posterior maps Q ∝ P(i|ℓ)·π(ℓ) (Tennekes & Gootzen 2022), then u = Qᵀ·v.

    A site whose whole footprint has prior 0 keeps the uniform-prior posterior (reported).

    Parameters
    ----------
    P : scipy.sparse.csr_matrix, shape (n, m)
        Diffusion maps P(ℓ|i) of the ``n`` sites on the ``m`` support cells (rows sum to ≤ 1).
    v : numpy.ndarray, shape (n, B)
        Counts per site and band.
    prior : numpy.ndarray, shape (m,)
        Spatial prior π(ℓ) ≥ 0 on the support cells.

    Returns
    -------
    Estimate
        u (m, B); ``info["sites_with_zero_prior"]`` counts the fallbacks.
    """
    A = association(P)
    Q, z = _row_normalise(sp.csr_matrix(A @ sp.diags(prior)))
    zero = np.flatnonzero(z <= 0)
    if zero.size:
        Qa, _ = _row_normalise(A)
        keep = np.ones(A.shape[0])
        keep[zero] = 0
        Q = sp.csr_matrix(sp.diags(keep) @ Q + sp.diags(1 - keep) @ Qa)
    return Estimate(np.asarray(Q.T @ v), lambda C, b: sp.csr_matrix(Q @ C),
                    {"estimator": "bayes", "sites_with_zero_prior": int(zero.size)})


def poisson_loglik(v: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Σ_i v_i·log λ_i − λ_i − log v_i! per band (0·log 0 = 0; v > 0 where λ = 0 gives −inf).

    The Poisson log-likelihood of the ML-EM estimator (Ricciato & Coluccia 2020).

    Parameters
    ----------
    v : numpy.ndarray, shape (n, B)
        Counts.
    lam : numpy.ndarray, shape (n, B)
        Expected counts λ = A·u.

    Returns
    -------
    numpy.ndarray of float64, shape (B,)
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(v > 0, v * np.log(lam), 0.0)
    return (term - lam - gammaln(v + 1.0)).sum(axis=0)


def ml_em(P: sp.csr_matrix, v: np.ndarray, prior: np.ndarray, *, tol: float = 1e-6, max_iter: int = 200, min_iter: int = 1) -> Estimate:
    """Poisson maximum likelihood by EM (Ricciato & Coluccia 2020), started from the prior.

    Parameters
    ----------
    P : (n, m) CSR, the diffusion maps P(ℓ|i).
    v : (n, B) counts (≥ 0).
    prior : (m,) ≥ 0, the starting density's shape (uniform: ones). A small floor
        (1e-9 of its mean) keeps every cell reachable.
    tol : stop when the relative change of the log-likelihood |L⁽ᵏ⁾ − L⁽ᵏ⁻¹⁾| / |L⁽ᵏ⁾| ≤ tol in every band.
    max_iter : at most this many EM steps.

    Returns
    -------
    Estimate with ``info`` holding ``iterations``, ``loglik`` (per band, final), ``loglik_trace``
    (summed over bands) and ``stopped`` ("tol" or "max_iter").

    Notes
    -----
    EM inverts the association derived from the maps, so it helps only when that association
    is close to the real one (maps that describe radio coverage). With maps that already hold
    where people are (posteriors, e.g. DeepMEND's), or much wider than the real catchments, the
    maximum-likelihood density is spiky and worse than spreading; early stopping (``max_iter``)
    regularises. Measured in docs/USE_CASE.md.
    """
    A = association(P)
    At = A.T.tocsr()
    n, B = v.shape
    m = A.shape[1]
    p0 = np.maximum(prior.astype(np.float64), 1e-9 * max(float(prior.mean()), 1e-300))
    u = np.outer(p0 / p0.sum(), v.sum(axis=0))  # (m, B)
    lam = np.asarray(A @ u)
    ll = poisson_loglik(v, lam)
    trace = [float(ll.sum())]
    stopped = "max_iter"
    k = 0
    for k in range(1, max_iter + 1):  # EM steps (each fully vectorised over cells and bands)
        ratio = np.divide(v, lam, out=np.zeros_like(v), where=lam > 0)
        u_prev, lam_prev = u, lam
        u = u * np.asarray(At @ ratio)
        lam = np.asarray(A @ u)
        ll_new = poisson_loglik(v, lam)
        rel = np.abs(ll_new - ll) / np.maximum(np.abs(ll_new), 1e-300)
        ll = ll_new
        trace.append(float(ll.sum()))
        if k >= min_iter and np.all(rel <= tol):
            stopped = "tol"
            break
    # Q from the last E-step (u_prev, λ_prev) so that u = Σ_i v_i Q(·|i) exactly
    inv_lam = np.divide(1.0, lam_prev, out=np.zeros_like(lam_prev), where=lam_prev > 0)

    def weights(C: sp.spmatrix, b: int) -> sp.csr_matrix:
        return sp.csr_matrix(sp.diags(inv_lam[:, b]) @ (A @ sp.csr_matrix(sp.diags(u_prev[:, b]) @ C)))

    info = {"estimator": "ml-em", "iterations": k, "stopped": stopped, "tol": tol, "max_iter": max_iter,
            "loglik": ll.tolist(), "loglik_trace": trace, "n_sites": n, "n_cells": m}
    return Estimate(u, weights, info)


def estimate(name: str, P: sp.csr_matrix, v: np.ndarray, prior: np.ndarray | None = None, **kw) -> Estimate:
    """Dispatch by name (``spread``, ``ml-em``, ``bayes``); ``prior`` defaults to uniform.

    Sources per estimator in the module docstring (Tennekes & Gootzen 2022; Ricciato & Coluccia 2020).

    Parameters
    ----------
    name : {"spread", "ml-em", "bayes"}
        The estimator.
    P : scipy.sparse.csr_matrix, shape (n, m)
        Diffusion maps P(ℓ|i) of the ``n`` sites on the ``m`` support cells (rows sum to ≤ 1).
    v : numpy.ndarray, shape (n, B)
        Counts per site and band.
    prior : numpy.ndarray, shape (m,), optional
        Spatial prior (default uniform).
    **kw
        ``tol``, ``max_iter``, ``min_iter`` of ``ml-em``.

    Returns
    -------
    Estimate

    Raises
    ------
    ValueError
        For an unknown estimator name.
    """
    prior = np.ones(P.shape[1]) if prior is None else prior
    if name == "spread":
        return spread(P, v)
    if name == "bayes":
        return bayes(P, v, prior)
    if name == "ml-em":
        return ml_em(P, v, prior, **kw)
    raise ValueError(f"unknown estimator {name!r}; valid: {', '.join(ESTIMATORS)}")


def estimate_networks(name: str, P: sp.csr_matrix, v: np.ndarray, network: np.ndarray, prior: np.ndarray | None = None, **kw) -> Estimate:
    """One estimate per operator's network, summed: each network's counts with its own maps only.

    Two operators' counts are two samples of different subscribers, each spread (or inverted)
    with its own network's maps P(ℓ|i): the association A = P(i|ℓ) of :func:`association` is
    a distribution over the sites of *one* network, so the estimators run network by network
    on that network's support and their densities add up (for ``spread`` this equals one
    estimate over all sites; ``bayes`` and ``ml-em`` differ).

    The estimators of the module docstring (Tennekes & Gootzen 2022; Ricciato & Coluccia 2020),
    run per network.

    Parameters
    ----------
    P : (n, m) CSR maps of every site of every network.
    v : (n, B) counts.
    network : int (n,), the network (operator) of each site.
    prior : (m,) or None (uniform).

    Returns
    -------
    Estimate whose ``density`` (m, B) is the sum over networks, ``weights(C, b)`` the (n, K)
    site → area shares in the original site order, and ``info`` the estimator's info summed
    over networks (``networks``: each network's own info).
    """
    network = np.asarray(network)
    groups = np.unique(network)
    if groups.size <= 1:
        return estimate(name, P, v, prior, **kw)
    P = sp.csr_matrix(P)
    n, m = P.shape
    density = np.zeros((m, v.shape[1]))
    parts = []
    for g in groups:  # a loop over networks (a handful), not sites or cells
        rows = np.flatnonzero(network == g)
        Pg = P[rows]
        cols = np.unique(Pg.indices)
        e = estimate(name, sp.csr_matrix(Pg[:, cols]), v[rows], None if prior is None else prior[cols], **kw)
        density[cols] += e.density
        parts.append((rows, cols, e))
    perm = np.argsort(np.concatenate([rows for rows, _, _ in parts]), kind="stable")

    def weights(C: sp.spmatrix, b: int) -> sp.csr_matrix:
        C = sp.csr_matrix(C)
        return sp.csr_matrix(sp.vstack([e.weights(C[cols], b) for _, cols, e in parts]).tocsr()[perm])

    infos = [e.info for _, _, e in parts]
    info = {"estimator": name, "networks": [{k: val for k, val in i.items() if k != "loglik_trace"} for i in infos]}
    if "sites_with_zero_prior" in infos[0]:
        info["sites_with_zero_prior"] = int(sum(i["sites_with_zero_prior"] for i in infos))
    if name == "ml-em":
        longest = max(len(i["loglik_trace"]) for i in infos)
        trace = np.sum([np.pad(i["loglik_trace"], (0, longest - len(i["loglik_trace"])), mode="edge") for i in infos], axis=0)
        info.update({"iterations": max(i["iterations"] for i in infos), "stopped": "max_iter" if any(i["stopped"] == "max_iter" for i in infos) else "tol",
                     "tol": infos[0]["tol"], "max_iter": infos[0]["max_iter"], "loglik": np.sum([i["loglik"] for i in infos], axis=0).tolist(),
                     "loglik_trace": trace.tolist(), "n_sites": n, "n_cells": m})
    return Estimate(density, weights, info)
