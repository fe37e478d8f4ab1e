"""VoronoiBoost's per-BS features (METHOD.md §2), computed for all sites at once.

The reference implementation loops over sites and over neighbourhoods in Python
(81 s for the 519 Lyon sites). Here everything is array work:

* the Delaunay graph is one sparse adjacency matrix ``A`` (from
  ``scipy.spatial.Delaunay.vertex_neighbor_vertices``); the k-hop neighbourhoods of all
  sites come from one breadth-first search run on every site at once (frontier ← A ·
  frontier, i.e. the boolean powers of I + A), as dense n × n boolean matrices;
* statistics over neighbourhoods are masked row reductions and matrix products (row
  means and minima of the distance matrix, sums of edge lengths inside a neighbourhood
  = diag(M·W·Mᵀ)); memory O(n²): ≈ 0.3 GB of temporaries at 5,000 sites;
* Voronoi cells come from ``shapely.voronoi_polygons(..., ordered=True)`` clipped by
  vectorised ``shapely.intersection``; per-cell vertex statistics (diameter, width) use a
  padded (sites × vertices) array.

Cell definition, shared with the ring maps of :mod:`deepmend.models.voronoiboost`: the
Voronoi cell of the site intersected with the disc of radius :data:`CELL_CAP_M` (30 km,
the half-width of a map window) around it, so the cells of sites on the convex hull of
the deployment are bounded and the features never depend on an arbitrary bounding box.

Features (columns of :data:`FEATURE_NAMES`), for k ∈ :data:`HOPS` = (1, 6, 8, 10):
``hop{k}_n`` sites within k hops; ``hop{k}_dist_mean`` mean distance from the site to
them (m); ``hop{k}_dist_ratio`` that mean over the distance to the nearest of them;
``hop{k}_edge_mean`` mean length of the Delaunay edges between sites of the
neighbourhood (the site included); ``hop{k}_area_mean`` mean Voronoi-cell area of the
k-hop neighbours (km²). Cell features: ``cell_area`` (km²), ``cell_diameter`` (largest
vertex-to-vertex distance, m), ``cell_width`` (smallest extent over 90 directions 2°
apart, i.e. the width of the cell's convex hull, m), ``cell_far_vertex`` (farthest cell
vertex from the site, m), ``centroid_offset`` (site to its cell centroid, m) and
``nbr_centroid_offset`` (mean of the same over the 1-hop neighbours, m).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import shapely
from scipy.spatial import Delaunay, QhullError

HOPS: tuple[int, ...] = (1, 6, 8, 10)
CELL_CAP_M = 30_000.0
WIDTH_DIRECTIONS = 90
_HOP_STATS = ("n", "dist_mean", "dist_ratio", "edge_mean", "area_mean")
FEATURE_NAMES: tuple[str, ...] = tuple(f"hop{k}_{s}" for k in HOPS for s in _HOP_STATS) + (
    "cell_area", "cell_diameter", "cell_width", "cell_far_vertex", "centroid_offset", "nbr_centroid_offset",
)


def delaunay_adjacency(xy: np.ndarray) -> sp.csr_matrix:
    """Symmetric boolean adjacency of the Delaunay graph (n × n, CSR).

    Fewer than 3 sites, or collinear sites (no triangle): the path through them in order
    along their principal axis, which is the Delaunay graph of points on a line.

    Parameters
    ----------
    xy : numpy.ndarray, shape (n, 2)
        Site positions, metres in a metric CRS (co-located sites merged).

    Returns
    -------
    scipy.sparse.csr_matrix of bool, shape (n, n)
    """
    n = len(xy)
    try:
        indptr, indices = Delaunay(xy).vertex_neighbor_vertices
        rows = np.repeat(np.arange(n), np.diff(indptr))
    except (QhullError, ValueError):
        # fewer than 3 sites, or all on one line: no triangle, and the Delaunay graph of
        # points on a line is the path through them in order along it
        order = np.argsort((xy - xy.mean(axis=0)) @ _principal_axis(xy), kind="stable")
        rows, indices = order[:-1], order[1:]
    a = sp.csr_matrix((np.ones(indices.size, dtype=bool), (rows, indices)), shape=(n, n))
    return ((a + a.T) > 0).tocsr()


def _principal_axis(xy: np.ndarray) -> np.ndarray:
    centred = xy - xy.mean(axis=0)
    if len(xy) < 2 or not np.any(centred):
        return np.array([1.0, 0.0])
    return np.linalg.svd(centred, full_matrices=False)[2][0]


def hop_reach(adj: sp.csr_matrix, hops: tuple[int, ...] = HOPS) -> dict[int, np.ndarray]:
    """For each k in ``hops``: dense boolean (n × n) matrix of sites within 1…k hops (the site itself excluded).

    Breadth-first on all sites at once: the next frontier is (A · frontier) minus what is
    already reached — one sparse × dense product per hop, O(edges · n). Dense n × n
    arrays are used on purpose: a city's k = 10 neighbourhoods hold hundreds of sites, so
    the sparse representation is no smaller and much slower (memory: n² bytes per hop,
    25 MB at 5,000 sites).

    Parameters
    ----------
    adj : scipy.sparse.csr_matrix of bool, shape (n, n)
        :func:`delaunay_adjacency`.
    hops : tuple of int, default HOPS (1, 6, 8, 10)
        The k asked for (METHOD.md §2).

    Returns
    -------
    dict of int to numpy.ndarray of bool, shape (n, n)
        k → row s marks the sites within k hops of site s.
    """
    n = adj.shape[0]
    eye = np.eye(n, dtype=bool)
    reach, frontier = eye.copy(), eye.astype(np.float32)
    a = adj.astype(np.float32)
    out = {}
    for k in range(1, max(hops) + 1):
        nxt = np.asarray(a @ frontier) > 0
        nxt &= ~reach
        reach |= nxt
        frontier = nxt.astype(np.float32)
        if k in hops:
            out[k] = reach & ~eye
    return out


def voronoi_cells(xy: np.ndarray, cap_m: float = CELL_CAP_M) -> np.ndarray:
    """Voronoi cell of every site ∩ the disc of radius ``cap_m`` around it (shapely Polygons, input order).

    Parameters
    ----------
    xy : numpy.ndarray, shape (n, 2)
        Distinct site positions, metres.
    cap_m : float, default CELL_CAP_M (30 km)
        Radius of the capping disc, metres.

    Returns
    -------
    numpy.ndarray of shapely.Polygon, shape (n,)
        Cells in the input's CRS.

    Raises
    ------
    ValueError
        If GEOS returns another number of cells than sites (co-located sites not merged).
    """
    pts = shapely.points(xy)
    extent = shapely.box(*(xy.min(axis=0) - 4 * cap_m), *(xy.max(axis=0) + 4 * cap_m))
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=extent, ordered=True))
    if len(cells) != len(xy):
        raise ValueError(f"{len(cells)} Voronoi cells for {len(xy)} sites: merge co-located sites first")
    return shapely.intersection(cells, shapely.buffer(pts, cap_m, quad_segs=16))


def _padded_vertices(cells: np.ndarray) -> np.ndarray:
    """Exterior vertices of each polygon as an (n, vmax, 2) array padded with NaN."""
    coords, idx = shapely.get_coordinates(shapely.get_exterior_ring(cells), return_index=True)
    counts = np.bincount(idx, minlength=len(cells))
    pos = np.arange(idx.size) - np.repeat(np.cumsum(counts) - counts, counts)
    out = np.full((len(cells), max(int(counts.max()), 1), 2), np.nan)
    out[idx, pos] = coords
    return out


def compute_features(xy: np.ndarray, cap_m: float = CELL_CAP_M) -> np.ndarray:
    """VoronoiBoost's per-BS feature matrix (Martínez-Durive et al. 2022; METHOD.md §2).

    Columns are :data:`FEATURE_NAMES` (see the module docstring for each); distances in m,
    areas in km².

    Parameters
    ----------
    xy : numpy.ndarray, shape (n, 2)
        Distinct site positions, metres in a metric CRS.
    cap_m : float, default CELL_CAP_M (30 km)
        Radius capping each Voronoi cell.

    Returns
    -------
    numpy.ndarray of float64, shape (n, len(FEATURE_NAMES))
        NaN where a statistic is undefined (e.g. no site within k hops).

    Raises
    ------
    ValueError
        From :func:`voronoi_cells` when co-located sites were not merged.
    """
    xy = np.asarray(xy, dtype=np.float64)
    n = len(xy)
    adj = delaunay_adjacency(xy)
    reach = hop_reach(adj)
    cells = voronoi_cells(xy, cap_m)
    area_km2 = shapely.area(cells) / 1e6
    centroids = shapely.get_coordinates(shapely.centroid(cells))
    centroid_offset = np.hypot(*(centroids - xy).T)

    # Delaunay edge lengths as a sparse weight matrix W (same pattern as A); all pairwise distances dense
    ar, ac = adj.nonzero()
    w = sp.csr_matrix((np.hypot(*(xy[ar] - xy[ac]).T), (ar, ac)), shape=(n, n))
    a_f = adj.astype(np.float64)
    dist = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    eye = np.eye(n, dtype=bool)
    cols = []
    with np.errstate(invalid="ignore", divide="ignore"):
        for k in HOPS:
            r = reach[k]
            cnt = r.sum(axis=1).astype(np.float64)
            dmean = np.where(r, dist, 0.0).sum(axis=1) / cnt
            dmin = np.where(r, dist, np.inf).min(axis=1)
            member = (r | eye).astype(np.float64)  # neighbourhood incl. the site
            # Σ_{u,v ∈ M_i} w_uv = rowsum((M·W) ∘ M) (W symmetric, so M·W = (W·Mᵀ)ᵀ); each edge counted twice, as is its count
            e_len = (np.asarray(w @ member.T).T * member).sum(axis=1)
            e_cnt = (np.asarray(a_f @ member.T).T * member).sum(axis=1)
            amean = (r.astype(np.float64) @ area_km2) / cnt
            cols += [cnt, dmean, dmean / dmin, e_len / e_cnt, amean]

        v = _padded_vertices(cells)  # (n, vmax, 2)
        diff = v[:, :, None, :] - v[:, None, :, :]
        diameter = np.nanmax(np.hypot(diff[..., 0], diff[..., 1]).reshape(n, -1), axis=1)
        theta = np.deg2rad(np.arange(WIDTH_DIRECTIONS) * (180.0 / WIDTH_DIRECTIONS))
        proj = v[..., 0, None] * np.cos(theta) + v[..., 1, None] * np.sin(theta)  # (n, vmax, D)
        width = np.nanmin(np.nanmax(proj, axis=1) - np.nanmin(proj, axis=1), axis=1)
        far = np.nanmax(np.hypot(v[..., 0] - xy[:, 0, None], v[..., 1] - xy[:, 1, None]), axis=1)
        deg = np.asarray(adj.sum(axis=1)).ravel()
        nbr_off = (a_f @ centroid_offset) / deg
    cols += [area_km2, diameter, width, far, centroid_offset, nbr_off]
    return np.column_stack(cols).astype(np.float64)
