"""VoronoiBoost (Martínez-Durive et al., SECON 2022), re-implemented from METHOD.md §2.

Idea: a BS's users are not uniform over its Voronoi cell; they lie in nested, scaled
copies of it. For each τ ∈ :data:`TAUS` a gradient-boosting regressor predicts from the
BS's geometric features (:mod:`deepmend.models.voronoiboost_features`) the scale s_τ
such that the cell scaled by s_τ about the BS holds τ of the BS's users; the map puts
mass τ_k − τ_{k−1} uniformly on ring k between the s_{τ_{k−1}} and s_{τ_k} cells.

Scaling in the raster (no polygon operations per BS). The cell C of site b (Voronoi
cell ∩ disc of :data:`CELL_CAP_M` around b) is convex and contains b, so a point ℓ lies
in b + s·(C − b) iff its *gauge* g(ℓ) = max( max_j 2(x_j − b)·(ℓ − b)/|x_j − b|², |ℓ − b|/R )
is ≤ s, where j runs over the Delaunay neighbours (their bisectors bound the cell) and
R = 30 km. One (neighbours × 600 × 600) array gives g on the whole window; every scaled
cell, ring, and the optimal scales are then thresholds of g:

* optimal scale for τ on a ground-truth map P: the smallest g-value s with
  Σ_{g(ℓ) ≤ s} P(ℓ) ≥ τ (one sort + cumulative sum; exact on the grid, no iterative search);
* ring k = {s_{k−1} < g ≤ s_k} (s_0 = −∞, so ring 1 is the whole scaled cell).

Choices where the description is silent (documented here and in the report):

* Direction of monotonicity: a larger τ needs a larger region, so scales are
  *non-decreasing* in τ (METHOD.md's "scales must decrease with τ" refers to the paper's
  inverse parametrisation); enforced twice: ``monotonic_cst`` on τ in the regressor and a
  cumulative maximum over τ of the predictions.
* The regressor predicts ln s (scales span 0.3…30) with scikit-learn's
  HistGradientBoostingRegressor (fixed hyper-parameters, ``random_state=0``).
* The remaining mass 1 − 0.95 is spread uniformly over the valid cells of the window
  outside the τ = 0.95 cell (the wide far field of operator maps). A ring with no valid
  cell (at sea, or thinner than a cell) passes its mass outward to the next non-empty
  ring; if nothing outward is valid, to the last non-empty ring.
* Persistence: no pickle. The **shipped regressor** is stored as plain arrays: its trees
  (:class:`TreeEnsemble`, a vectorised predictor bit-identical to scikit-learn's) and the
  training table it was fitted on, in ``deepmend/weights/voronoiboost.npz`` (read with
  ``allow_pickle=False``), described by ``voronoiboost.json``, which records its SHA-256; a
  file whose checksum differs is refused (:func:`load_shipped`). (skops was tried first:
  importing ``skops.io`` enumerates every scikit-learn estimator, which imported torch and
  took 9 s on first use, against 1 s for the arrays.) Recipe (docs/MODEL_CARD.md § VoronoiBoost): the scenes of
  :data:`SHIPPED_TRAIN` — the training scenes of the shipped DeepMEND weights, none of the
  test cities of docs/RESULTS.md (Orléans, Le Mans, Rennes) nor DeepMEND's validation city
  (Nantes) — :data:`DEFAULT_SITES_PER_SCENE` seeded sites each, ground truth from the default
  simulator; ``deepmend train-voronoiboost`` rebuilds it.
* Default = shipped: ``VoronoiBoostModel()`` uses the shipped regressor and trains nothing.
  Training happens only on request: ``train_specs=[(country, city, operator), …]`` trains
  at ``fit`` on those scenes minus every scene of the fitted scene's city (a *training
  table* of features and optimal scales, cached as ``.npz`` under the cache directory and
  keyed by the scenes, the ground truth and the sampling); :meth:`VoronoiBoostModel.train`
  fits given rows (the evaluation's training split). Loading and training go through the
  process-wide single flight (:func:`deepmend.resources.once`): concurrent first uses build
  once.
* The shipped regressor may be used on one of its training cities (the API's default
  scene Lyon/Orange is one, through Lyon/Bouygues); the map's metadata then says
  ``in_sample: true``. The evaluation (``deepmend evaluate``) never uses it: it trains its
  own regressor on its ``--train`` split and refuses a test city of that split.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from sklearn.base import clone

from deepmend.config import cache_dir
from deepmend.errors import InputError
from deepmend.io import atomic_path
from deepmend.resources import once
from deepmend.models.base import DiffusionModel, sample_sites
from deepmend.models.deepmend import sha256_file
from deepmend.models.voronoiboost_features import CELL_CAP_M, FEATURE_NAMES, compute_features, delaunay_adjacency
from deepmend.scene import Scene
from deepmend.scene_spec import city_key

TAUS: tuple[float, ...] = (0.25, 0.5, 0.75, 0.85, 0.95)
FEATURES_VERSION = 1
#: Training scenes of the shipped regressor: those of the shipped DeepMEND weights (docs/MODEL_CARD.md);
#: never a test city of docs/RESULTS.md (Orléans, Le Mans, Rennes) nor the validation city (Nantes).
SHIPPED_TRAIN: tuple[tuple[str, str, str], ...] = (
    ("FR", "Lyon", "Bouygues"), ("FR", "Toulouse", "SFR"), ("FR", "Bordeaux", "Free"), ("FR", "Lille", "SFR"), ("FR", "Nice", "Bouygues"),
)
#: Cities the shipped regressor must never be trained on (the test cities of docs/RESULTS.md, the validation city).
HELD_OUT_CITIES: tuple[str, ...] = ("Orléans", "Le Mans", "Rennes", "Nantes")
DEFAULT_SITES_PER_SCENE = 80
MIN_SCALE = 1e-3
SHIPPED_MANIFEST = Path(__file__).resolve().parents[1] / "weights" / "voronoiboost.json"
MANIFEST_FORMAT = "deepmend-voronoiboost/1"
#: Hyper-parameters of the scale regressor (scikit-learn's HistGradientBoostingRegressor).
HYPERPARAMETERS = {"max_iter": 300, "learning_rate": 0.05, "max_leaf_nodes": 15, "min_samples_leaf": 10, "l2_regularization": 1e-3, "random_state": 0}


# --- the gauge of the (capped) Voronoi cell on a window -------------------------
def cell_gauge(scene: Scene, i: int, neighbours: np.ndarray, cap_m: float = CELL_CAP_M) -> np.ndarray:
    """g(ℓ) on BS i's window: the smallest scale of i's cell that contains ℓ (see the module docstring).

    g(ℓ) = max( max_j 2(x_j − b)·(ℓ − b)/|x_j − b|², |ℓ − b|/R ), the gauge of the convex cell
    (Voronoi cell ∩ disc of radius R) about the BS b (Martínez-Durive et al. 2022; METHOD.md §2).

    Parameters
    ----------
    scene : Scene
        The scene (positions in metres of its metric CRS).
    i : int
        Site index of the BS.
    neighbours : numpy.ndarray of int
        Its Delaunay neighbours (their bisectors bound the cell).
    cap_m : float, default CELL_CAP_M (30 km)
        Radius R of the capping disc, metres.

    Returns
    -------
    numpy.ndarray of float32, shape (600, 600)
        The gauge (dimensionless scale) per cell centre, lattice order (row 0 = south).
    """
    win = scene.window(i)
    xs, ys = win.centers()
    bx, by = float(scene.deployment.x[i]), float(scene.deployment.y[i])
    vx = (xs - bx).astype(np.float32)[None, :]
    vy = (ys - by).astype(np.float32)[:, None]
    g = np.sqrt(vx * vx + vy * vy) / np.float32(cap_m)
    dx = scene.deployment.x[neighbours] - bx
    dy = scene.deployment.y[neighbours] - by
    n2 = dx * dx + dy * dy
    for ax, ay in zip((2 * dx / n2).astype(np.float32), (2 * dy / n2).astype(np.float32)):  # ≤ ~20 bisectors, each a window op
        np.maximum(g, ax * vx + ay * vy, out=g)
    return g


def optimal_scales(gauge: np.ndarray, truth: np.ndarray, taus: Sequence[float] = TAUS) -> np.ndarray:
    """Smallest scale s with Σ_{g ≤ s} P ≥ τ for each τ: the regression targets (Martínez-Durive et al. 2022).

    One sort + cumulative sum, exact on the grid; the map is renormalised over its positive
    cells; scales are floored at ``MIN_SCALE``.

    Parameters
    ----------
    gauge : numpy.ndarray, shape (600, 600)
        :func:`cell_gauge` of the BS.
    truth : numpy.ndarray, shape (600, 600)
        The ground-truth map on the window, same row order as ``gauge``.
    taus : sequence of float, default TAUS
        Mass fractions, ascending.

    Returns
    -------
    numpy.ndarray of float64, shape (len(taus),)
        The scales s_τ, non-decreasing.
    """
    g = gauge.ravel()
    p = truth.ravel().astype(np.float64)
    keep = p > 0
    order = np.argsort(g[keep], kind="stable")
    gs, cum = g[keep][order], np.cumsum(p[keep][order])
    cum /= cum[-1]
    idx = np.minimum(np.searchsorted(cum, np.asarray(taus) * (1 - 1e-9), side="left"), gs.size - 1)
    return np.maximum(gs[idx].astype(np.float64), MIN_SCALE)


def ring_map(gauge: np.ndarray, mask: np.ndarray, scales: np.ndarray, taus: Sequence[float] = TAUS) -> np.ndarray:
    """The VoronoiBoost map: mass τ_k − τ_{k−1} uniform over ring k (valid cells), the rest 1 − τ_K outside.

    Rings are thresholds of the gauge (Martínez-Durive et al. 2022; our choices where the paper
    is silent in METHOD.md §2). Scales are made non-decreasing first; a ring with no valid cell
    passes its mass outward (to the last non-empty ring if nothing outward is valid).

    Parameters
    ----------
    gauge : numpy.ndarray, shape (600, 600)
        :func:`cell_gauge` of the BS.
    mask : numpy.ndarray of bool, shape (600, 600)
        Valid cells, same row order.
    scales : numpy.ndarray, shape (len(taus),)
        s_τ per τ.
    taus : sequence of float, default TAUS
        Mass fractions, ascending.

    Returns
    -------
    numpy.ndarray of float32, shape (600, 600)
        P(ℓ|i), zero off the mask, summing to 1 on it.
    """
    s = np.maximum.accumulate(np.asarray(scales, dtype=np.float64))
    masses = np.diff(np.concatenate([[0.0], np.asarray(taus, dtype=np.float64), [1.0]]))
    ring = np.searchsorted(s, gauge, side="left")  # 0 … K (K = outside the largest cell)
    counts = np.bincount(ring[mask], minlength=len(masses)).astype(np.float64)
    carry = 0.0
    for k in range(len(masses)):  # K+1 bins: pass the mass of empty bins outward
        if counts[k] == 0:
            carry, masses[k] = carry + masses[k], 0.0
        else:
            masses[k], carry = masses[k] + carry, 0.0
    if carry > 0 and counts.any():
        last = int(np.flatnonzero(counts)[-1])
        masses[last] += carry
    with np.errstate(invalid="ignore", divide="ignore"):
        density = np.where(counts > 0, masses / counts, 0.0)
    return np.where(mask, density[ring], 0.0).astype(np.float32)


# --- training --------------------------------------------------------------------
def _neighbour_lists(xy: np.ndarray) -> list[np.ndarray]:
    adj = delaunay_adjacency(xy)
    return [adj.indices[adj.indptr[i] : adj.indptr[i + 1]] for i in range(adj.shape[0])]


def training_rows(scene: Scene, truth_model: DiffusionModel, sites: Iterable[int], features: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Features and optimal scales of ``sites`` from a fitted ground-truth model (Martínez-Durive et al. 2022).

    Parameters
    ----------
    scene : Scene
        The training scene.
    truth_model : DiffusionModel
        A ground-truth model fitted on ``scene``.
    sites : iterable of int
        Site indices.
    features : numpy.ndarray, shape (n_sites, F), optional
        Precomputed :func:`compute_features` of the whole deployment.

    Returns
    -------
    features : numpy.ndarray, shape (n, F)
        Rows of ``sites``.
    scales : numpy.ndarray, shape (n, len(TAUS))
        :func:`optimal_scales` per site.
    """
    sites = np.asarray(list(sites), dtype=int)
    feats = compute_features(scene.deployment.xy) if features is None else features
    nbrs = _neighbour_lists(scene.deployment.xy)
    scales = np.array([optimal_scales(cell_gauge(scene, int(i), nbrs[i]), truth_model.predict(int(i)).lattice_prob) for i in sites])
    return feats[sites], scales.reshape(len(sites), len(TAUS))


def long_table(features: np.ndarray, scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One row per (BS, τ): X = [τ, features], y = ln s_τ (METHOD.md §2: the regressor predicts ln s).

    Parameters
    ----------
    features : numpy.ndarray, shape (n, F)
        Per-BS features.
    scales : numpy.ndarray, shape (n, len(TAUS))
        Scales (floored at ``MIN_SCALE`` before the log).

    Returns
    -------
    x : numpy.ndarray, shape (n·len(TAUS), 1 + F)
    y : numpy.ndarray, shape (n·len(TAUS),)
    """
    n = len(features)
    tau = np.tile(np.asarray(TAUS), n)
    x = np.column_stack([tau, np.repeat(features, len(TAUS), axis=0)])
    return x, np.log(np.maximum(scales.ravel(), MIN_SCALE))


def fit_regressor(features: np.ndarray, scales: np.ndarray):
    """HistGradientBoostingRegressor on [τ, features] → ln s, monotone non-decreasing in τ.

    Gradient boosting as in Martínez-Durive et al. (2022), with scikit-learn's histogram
    implementation and fixed hyper-parameters (``HYPERPARAMETERS``, ``random_state=0``). Fitted
    on one OpenMP thread: the tables are small (5 rows per training BS) and on a shared 2-core
    machine OpenMP's spinning threads made the fit 9× slower (9 s vs 1 s).

    Parameters
    ----------
    features : numpy.ndarray, shape (n, F)
        Training BSs' features.
    scales : numpy.ndarray, shape (n, len(TAUS))
        Their optimal scales.

    Returns
    -------
    sklearn.ensemble.HistGradientBoostingRegressor
        Fitted on :func:`long_table`.
    """
    from threadpoolctl import threadpool_limits

    x, y = long_table(features, scales)
    with threadpool_limits(1):
        return _regressor(features.shape[1]).fit(x, y)


def _regressor(n_features: int):
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(**HYPERPARAMETERS, monotonic_cst=[1] + [0] * n_features)


def predict_scales(reg, features: np.ndarray) -> np.ndarray:
    """Scales s_τ of BSs from a regressor, cumulative-max over τ (monotone even if the regressor were not).

    Parameters
    ----------
    reg : HistGradientBoostingRegressor or TreeEnsemble
        A fitted regressor of ln s on [τ, features].
    features : numpy.ndarray, shape (n, F)
        Per-BS features (:func:`compute_features`).

    Returns
    -------
    numpy.ndarray of float64, shape (n, len(TAUS))
        Scales ≥ ``MIN_SCALE``, non-decreasing along τ (METHOD.md §2).
    """
    from threadpoolctl import threadpool_limits

    x, _ = long_table(features, np.ones((len(features), len(TAUS))))
    with threadpool_limits(1):
        s = np.exp(reg.predict(x)).reshape(len(features), len(TAUS))
    return np.maximum.accumulate(np.maximum(s, MIN_SCALE), axis=1)


def _table_key(specs: Sequence[tuple[str, str, str]], truth_digest: str, n: int | None, seed: int) -> str:
    payload = json.dumps([list(map(list, specs)), truth_digest, n, seed, FEATURES_VERSION, list(TAUS)])
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def training_table(specs: Sequence[tuple[str, str, str]], ground_truth: DiffusionModel, n_per_scene: int | None = DEFAULT_SITES_PER_SCENE,
                   seed: int = 0, use_cache: bool = True, progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Features (n, F) and optimal scales (n, len(TAUS)) over catalog scenes, cached as ``.npz``.

    ``ground_truth`` is an unfitted ground-truth model; a clone of it is fitted on each
    training scene. The table's key hashes the scenes, ``ground_truth.cache_token()``,
    the sampling and the feature version, so a changed truth never reuses a stale table.
    Concurrent calls with the same key in one process compute the table once
    (:func:`deepmend.resources.once`). Targets as in Martínez-Durive et al. (2022), METHOD.md §2.

    Parameters
    ----------
    specs : sequence of (country, city, operator)
        Catalog scenes.
    ground_truth : DiffusionModel
        Unfitted ground-truth model.
    n_per_scene : int or None, default DEFAULT_SITES_PER_SCENE
        Seeded sample of BSs per scene (None: all).
    seed : int, default 0
        Sampling seed.
    use_cache : bool, default True
        Read and write ``cache_dir()/voronoiboost/table_<key>.npz``.
    progress : bool, default True
        Show a progress bar.

    Returns
    -------
    features : numpy.ndarray, shape (n, F)
    scales : numpy.ndarray, shape (n, len(TAUS))
    """
    digest = ground_truth.cache_token()
    key = _table_key(specs, digest, n_per_scene, seed)
    path = cache_dir() / "voronoiboost" / f"table_{key}.npz"

    def build() -> tuple[np.ndarray, np.ndarray]:
        if use_cache and path.exists():
            with np.load(path, allow_pickle=False) as z:
                return z["features"], z["scales"]
        from deepmend.log import progress as tqdm

        fs, ss = [], []
        for spec in tqdm(list(specs), desc="VoronoiBoost training scenes", unit="scene", disable=not progress):
            scene = Scene.from_catalog(*spec)
            f, s = training_rows(scene, clone(ground_truth).fit(scene), sample_sites(scene, n_per_scene, seed))
            fs.append(f)
            ss.append(s)
        feats, scales = np.concatenate(fs), np.concatenate(ss)
        if use_cache:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                with open(tmp, "wb") as fh:
                    np.savez(fh, features=feats, scales=scales, feature_names=np.array(FEATURE_NAMES), specs=np.array(["/".join(s) for s in specs]))
        return feats, scales

    return once(("voronoiboost-table", key, use_cache), build)


# --- the shipped regressor (no pickle) ------------------------------------------
class TreeEnsemble:
    """A fitted HistGradientBoostingRegressor as plain arrays, with a vectorised ``predict``.

    Every tree is padded to ``M`` nodes; arrays are (T, M): ``feature`` (int), ``threshold``
    (float64), ``missing_left``, ``is_leaf`` (bool), ``left``/``right`` (child node index),
    ``value`` (leaf value, float64). ``predict`` walks all trees for all rows at once (one
    numpy step per tree level) and adds the trees' values to ``baseline`` in tree order,
    as scikit-learn does, so the result is bit-identical to the regressor's ``predict``
    (squared-error loss: identity link). Only numerical splits (no categorical features).

    Built by :meth:`from_sklearn` at training time (the one place that reads scikit-learn's
    private ``_predictors``); loaded by :meth:`from_arrays`, which needs no scikit-learn.

    Parameters
    ----------
    feature, threshold, missing_left, is_leaf, left, right, value : numpy.ndarray, shape (T, M)
        The padded node arrays described above.
    baseline : float
        The regressor's baseline prediction (added to the trees' values).
    n_features : int
        Number of input columns.
    """

    FIELDS = ("feature", "threshold", "missing_left", "is_leaf", "left", "right", "value")

    def __init__(self, feature, threshold, missing_left, is_leaf, left, right, value, baseline: float, n_features: int) -> None:
        self.feature, self.threshold, self.missing_left, self.is_leaf = feature, threshold, missing_left, is_leaf
        self.left, self.right, self.value = left, right, value
        self.baseline, self.n_features_in_ = float(baseline), int(n_features)

    @classmethod
    def from_sklearn(cls, reg) -> "TreeEnsemble":
        """Arrays of a fitted ``HistGradientBoostingRegressor`` (squared error, numerical features only).

        Raises
        ------
        ValueError
            If the regressor has categorical splits or more than one output.
        """
        trees = [it[0].nodes for it in reg._predictors]
        if any(int(nd["is_categorical"].any()) for nd in trees) or np.asarray(reg._baseline_prediction).size != 1:
            raise ValueError("only single-output regressors with numerical splits are supported")
        t, m = len(trees), max(len(nd) for nd in trees)
        out = {"feature": np.zeros((t, m), np.int64), "threshold": np.zeros((t, m)), "missing_left": np.zeros((t, m), bool),
               "is_leaf": np.ones((t, m), bool), "left": np.zeros((t, m), np.int64), "right": np.zeros((t, m), np.int64), "value": np.zeros((t, m))}
        for k, nd in enumerate(trees):
            n = len(nd)
            out["feature"][k, :n], out["threshold"][k, :n] = nd["feature_idx"], nd["num_threshold"]
            out["missing_left"][k, :n], out["is_leaf"][k, :n] = nd["missing_go_to_left"] != 0, nd["is_leaf"] != 0
            out["left"][k, :n], out["right"][k, :n], out["value"][k, :n] = nd["left"], nd["right"], nd["value"]
        return cls(**out, baseline=float(np.asarray(reg._baseline_prediction).ravel()[0]), n_features=int(reg.n_features_in_))

    def arrays(self) -> dict:
        """The arrays to store (``np.savez``), prefixed ``tree_``."""
        return {**{f"tree_{k}": getattr(self, k) for k in self.FIELDS}, "tree_baseline": np.array(self.baseline), "tree_n_features": np.array(self.n_features_in_)}

    @classmethod
    def from_arrays(cls, z, file: str | None = None) -> "TreeEnsemble":
        """Rebuild from :meth:`arrays` (e.g. an opened ``.npz``), checking shapes, dtypes and indices.

        Raises
        ------
        InputError
            Missing or inconsistent arrays, naming ``file``.
        """
        try:
            a = {k: np.asarray(z[f"tree_{k}"]) for k in cls.FIELDS}
            baseline, n_features = float(z["tree_baseline"]), int(z["tree_n_features"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"VoronoiBoost regressor arrays incomplete ({exc})", file=file) from None
        shape = a["value"].shape
        ok = len(shape) == 2 and all(v.shape == shape for v in a.values())
        ok = ok and all(np.issubdtype(a[k].dtype, np.integer) for k in ("feature", "left", "right"))
        ok = ok and all(a[k].dtype == bool for k in ("missing_left", "is_leaf"))
        ok = ok and all(np.issubdtype(a[k].dtype, np.floating) for k in ("threshold", "value"))
        if ok and a["value"].size:
            inner = ~a["is_leaf"]
            ok = bool(np.all((a["feature"][inner] >= 0) & (a["feature"][inner] < n_features))
                      and np.all((a["left"][inner] > 0) & (a["left"][inner] < shape[1]))
                      and np.all((a["right"][inner] > 0) & (a["right"][inner] < shape[1])))
        if not ok:
            raise InputError("VoronoiBoost regressor arrays are inconsistent (shapes, dtypes or node indices)", file=file)
        return cls(**{k: a[k].astype(np.float64) if k in ("threshold", "value") else a[k] for k in cls.FIELDS}, baseline=baseline, n_features=n_features)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(n,) predictions for rows ``x`` (n, n_features); NaN goes where the split's missing values went.

        Raises
        ------
        ValueError
            If ``x`` is not (n, n_features).
        """
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features_in_:
            raise ValueError(f"expected (n, {self.n_features_in_}) inputs, got {x.shape}")
        t = self.value.shape[0]
        cols = np.arange(t)[None, :]
        node = np.zeros((len(x), t), dtype=np.int64)
        for _ in range(self.value.shape[1]):  # one tree level per step, all rows × all trees at once
            leaf = self.is_leaf[cols, node]
            if leaf.all():
                break
            v = np.take_along_axis(x, self.feature[cols, node], axis=1)
            left = np.where(np.isnan(v), self.missing_left[cols, node], v <= self.threshold[cols, node])
            node = np.where(leaf, node, np.where(left, self.left[cols, node], self.right[cols, node]))
        vals = self.value[cols, node]
        out = np.full(len(x), self.baseline)
        for k in range(t):  # tree order, as scikit-learn adds them: bit-identical sums
            out += vals[:, k]
        return out


def read_manifest(path: str | Path | None = None) -> tuple[dict, Path]:
    """(manifest, its path) of a VoronoiBoost regressor (default: the shipped ``voronoiboost.json``).

    Reads only the small JSON (no checksum computed): what :meth:`VoronoiBoostModel.validate`
    and the cache token need.

    Raises
    ------
    InputError
        Missing, unreadable or incompatible manifest, naming the file.

    Parameters
    ----------
    path : str or Path, optional
        The manifest (default the shipped ``deepmend/weights/voronoiboost.json``).

    Returns
    -------
    manifest : dict
        The parsed JSON (arrays file, its SHA-256, training recipe).
    path : Path
        The manifest's path.
    """
    js = Path(path) if path is not None else SHIPPED_MANIFEST
    if not js.is_file():
        raise InputError("VoronoiBoost regressor manifest not found" + (" (the shipped regressor is missing from this installation)" if path is None else ""), file=str(js))
    try:
        man = json.loads(js.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"VoronoiBoost regressor manifest is not valid JSON ({exc})", file=str(js)) from None
    if not isinstance(man, dict) or man.get("format") != MANIFEST_FORMAT:
        raise InputError(f"incompatible VoronoiBoost manifest: format {man.get('format') if isinstance(man, dict) else None!r}, expected {MANIFEST_FORMAT!r}", file=str(js))
    arrays = man.get("arrays")
    if not isinstance(arrays, dict) or not {"file", "sha256"} <= set(arrays):
        raise InputError("VoronoiBoost manifest lacks arrays.file / arrays.sha256", file=str(js))
    if list(man.get("taus", [])) != list(TAUS) or list(man.get("features", [])) != list(FEATURE_NAMES) or man.get("features_version") != FEATURES_VERSION:
        raise InputError(f"incompatible VoronoiBoost regressor: trained on τ {man.get('taus')} and features {man.get('features')} "
                         f"(version {man.get('features_version')}), this version computes τ {list(TAUS)} and {list(FEATURE_NAMES)} (version {FEATURES_VERSION})", file=str(js))
    return man, js


def _verified(js: Path, entry: dict) -> Path:
    """The file an entry of the manifest names, after checking its SHA-256 (refused when it differs)."""
    f = js.parent / Path(str(entry["file"])).name
    if not f.is_file():
        raise InputError("VoronoiBoost file named by the manifest not found", file=str(f))
    try:
        got = sha256_file(f)
    except OSError as exc:
        raise InputError(f"VoronoiBoost file cannot be read ({exc.strerror or exc})", file=str(f)) from None
    if got != entry["sha256"]:
        raise InputError(f"VoronoiBoost checksum mismatch: the file is corrupt or was changed (expected sha256 {str(entry['sha256'])[:12]}…, "
                         f"got {got[:12]}…); reinstall deepmend or rebuild it with 'deepmend train-voronoiboost'", file=str(f))
    return f


def _load_arrays(js: Path, entry: dict) -> tuple[TreeEnsemble, np.ndarray, np.ndarray]:
    """Verify the checksum, then read the regressor and its training table (``allow_pickle=False``)."""
    f = _verified(js, entry)
    try:
        with np.load(f, allow_pickle=False) as z:
            reg = TreeEnsemble.from_arrays(z, str(f))
            feats, scales = z["table_features"], z["table_scales"]
    except InputError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"VoronoiBoost arrays cannot be read ({exc})", file=str(f)) from None
    if reg.n_features_in_ != 1 + len(FEATURE_NAMES) or feats.shape[1:] != (len(FEATURE_NAMES),) or scales.shape != (len(feats), len(TAUS)):
        raise InputError(f"VoronoiBoost arrays do not match τ + {len(FEATURE_NAMES)} features", file=str(f))
    return reg, feats, scales


def load_shipped(path: str | Path | None = None) -> tuple[TreeEnsemble, dict]:
    """(regressor, manifest) of the shipped VoronoiBoost regressor (or of the manifest at ``path``).

    Once per process and checksum: concurrent callers share one load
    (:func:`deepmend.resources.once`, key = the declared SHA-256 and the manifest's path).

    Raises
    ------
    InputError
        Missing or incompatible manifest; an arrays file whose SHA-256 differs from the
        manifest's (corrupt or tampered: refused, naming the file); inconsistent arrays.

    Parameters
    ----------
    path : str or Path, optional
        A manifest (default the shipped one).

    Returns
    -------
    regressor : TreeEnsemble
        Predicts ln s from [τ, features] (Martínez-Durive et al. 2022; METHOD.md §2).
    manifest : dict
    """
    man, js = read_manifest(path)
    key = ("voronoiboost-shipped", man["arrays"]["sha256"], str(js.resolve()))
    reg = once(key, lambda: _load_arrays(js, man["arrays"])[0])
    return reg, man


def load_shipped_table(path: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(features (n, F), optimal scales (n, len(TAUS))) the shipped regressor was fitted on, checksum verified.

    Raises
    ------
    InputError
        As :func:`load_shipped`.

    Parameters
    ----------
    path : str or Path, optional
        A manifest (default the shipped one).

    Returns
    -------
    features : numpy.ndarray, shape (n, F)
    scales : numpy.ndarray, shape (n, len(TAUS))
    """
    man, js = read_manifest(path)
    _, feats, scales = _load_arrays(js, man["arrays"])
    return feats, scales


def save_shipped(reg, features: np.ndarray, scales: np.ndarray, training: dict, path: str | Path | None = None) -> Path:
    """Write ``<name>.npz`` (regressor as :class:`TreeEnsemble` arrays + training table) and ``<name>.json`` atomically.

    ``reg`` is a fitted HistGradientBoostingRegressor (see :func:`fit_regressor`); ``path``
    the manifest (default: the shipped one), which records the SHA-256 of the ``.npz``.
    ``training`` (the recipe: scenes, sampling, ground truth, timings) goes into it as is.

    Raises
    ------
    ValueError
        When the arrays do not reproduce ``reg.predict`` exactly on the training rows.

    Parameters
    ----------
    reg : HistGradientBoostingRegressor
        Fitted regressor.
    features : numpy.ndarray, shape (n, F)
        Its training features.
    scales : numpy.ndarray, shape (n, len(TAUS))
        Its training scales.
    training : dict
        The recipe, stored in the manifest.
    path : str or Path, optional
        The manifest to write (default the shipped one).

    Returns
    -------
    Path
        The manifest written.
    """
    import sklearn

    js = Path(path) if path is not None else SHIPPED_MANIFEST
    npz = js.with_suffix(".npz")
    ens = TreeEnsemble.from_sklearn(reg)
    x, _ = long_table(np.asarray(features), np.asarray(scales))
    if not np.array_equal(ens.predict(x), reg.predict(x)):
        raise ValueError("the exported trees do not reproduce the regressor's predictions")
    with atomic_path(npz) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **ens.arrays(), table_features=np.asarray(features, dtype=np.float64), table_scales=np.asarray(scales, dtype=np.float64))
    man = {"format": MANIFEST_FORMAT, "model": "voronoiboost", "taus": list(TAUS), "features": list(FEATURE_NAMES), "features_version": FEATURES_VERSION,
           "arrays": {"file": npz.name, "sha256": sha256_file(npz), "content": "tree_* = the regressor's trees (TreeEnsemble), table_* = its training table"},
           "regressor": {"estimator": "sklearn.ensemble.HistGradientBoostingRegressor", "scikit_learn": sklearn.__version__, "trees": int(ens.value.shape[0]),
                         "inputs": "tau, then the features", "target": "ln s_tau",
                         "hyperparameters": dict(HYPERPARAMETERS, monotonic_cst="+1 on tau, 0 elsewhere")},
           "training": dict(training, n_bs=int(len(features)), n_rows=int(len(features)) * len(TAUS))}
    with atomic_path(js) as tmp:
        tmp.write_text(json.dumps(man, indent=1, ensure_ascii=False) + "\n")
    return js


class VoronoiBoostModel(DiffusionModel):
    """Rings of scaled Voronoi cells with regressed scales.

    Parameters
    ----------
    train_specs : sequence of (country, city, operator), optional
        None (default): use the shipped regressor (``weights``), no training. Given: train
        at ``fit`` on these catalog scenes minus every scene of the fitted scene's city
        (never on the evaluated city), with ``ground_truth`` as the truth.
    n_per_scene : int or None
        Training BSs per scene (seeded sample; None = all), with ``train_specs``.
    ground_truth : DiffusionModel, optional
        Unfitted ground-truth model to train on, with ``train_specs``
        (:func:`deepmend.registry.make_model` passes the registered simulator).
    weights : str or Path, optional
        Manifest (.json) of a regressor saved by :func:`save_shipped`; default the shipped one.

    Notes
    -----
    :meth:`train` (features + optimal scales, e.g. from :func:`training_rows`) fits a
    regressor on given rows instead; such a model refuses a scene of a city it was
    trained on.
    """

    name = "voronoiboost"
    label = "VoronoiBoost"
    description = "Nested scaled Voronoi cells (rings) whose scales a gradient-boosting regressor predicts from the Delaunay/Voronoi geometry."

    def __init__(self, train_specs: Sequence[tuple[str, str, str]] | None = None, n_per_scene: int | None = DEFAULT_SITES_PER_SCENE,
                 ground_truth: DiffusionModel | None = None, weights: str | Path | None = None) -> None:
        self.train_specs = train_specs
        self.n_per_scene = n_per_scene
        self.ground_truth = ground_truth
        self.weights = weights

    def validate(self) -> "VoronoiBoostModel":
        """Check the parameters and, for the shipped regressor, that its manifest is readable (not the checksum: :meth:`prepare`).

        Raises
        ------
        InputError
            Unreadable or incompatible manifest; ``weights`` together with ``train_specs``.
        """
        if self.train_specs is None:
            read_manifest(self.weights)
        elif self.weights is not None:
            raise InputError("give either train_specs (train on these scenes) or weights (a saved regressor), not both", column="weights", value=self.weights)
        return self

    def prepare(self) -> "VoronoiBoostModel":
        """Load and verify the shipped regressor (once per process and checksum; nothing to load with ``train_specs``)."""
        self.validate()
        if self.train_specs is None:
            load_shipped(self.weights)
        return self

    def fits_quickly(self) -> bool:
        """True when ``fit`` trains nothing (the shipped regressor): the API computes its maps in the request."""
        return self.train_specs is None

    def cache_token(self) -> str:
        """The shipped regressor's declared SHA-256 (reads only the manifest), or the training parameters."""
        if self.train_specs is None:
            return json.dumps({"voronoiboost": read_manifest(self.weights)[0]["arrays"]["sha256"], "weights": str(self.weights)}, sort_keys=True)
        return super().cache_token()

    def params(self) -> dict:
        """The parameters that explain a map: τ levels, training cities, and for the shipped regressor its
        file, checksum prefix and whether the scene was in its training sample.
        """
        out = {"taus": list(TAUS), "trained_on": sorted(getattr(self, "train_cities_", ())) or None}
        if getattr(self, "source_", None) == "shipped":
            out.update(regressor=self.manifest_["arrays"]["file"], sha256=self.manifest_["arrays"]["sha256"][:12], in_sample=bool(self.in_sample_))
        return out

    def train(self, features: np.ndarray, scales: np.ndarray, cities: Iterable[str] = ()) -> "VoronoiBoostModel":
        """Fit the scale regressor on features (n, F) and optimal scales (n, len(TAUS)) of training BSs.

        Raises
        ------
        InputError
            No training BS.
        """
        if len(features) == 0:
            raise InputError("VoronoiBoost needs at least one training base station")
        self.regressor_ = fit_regressor(np.asarray(features), np.asarray(scales))
        self.train_cities_ = {city_key(c) for c in cities}
        self.source_ = "train"
        return self

    def _fit(self, scene: Scene) -> None:
        city = city_key(scene.scenario.city) if scene.scenario is not None else None
        if getattr(self, "source_", None) == "train":  # rows given to train(): never evaluate on a training city
            if city is not None and city in self.train_cities_:
                raise InputError(f"VoronoiBoost was trained on {scene.scenario.city}: evaluate it on another city", column="city", value=scene.scenario.city)
        elif self.train_specs is None:  # the shipped regressor
            self.regressor_, self.manifest_ = load_shipped(self.weights)
            self.train_cities_ = {city_key(sp[1]) for sp in self.manifest_.get("training", {}).get("scenes", [])}
            self.in_sample_ = city is not None and city in self.train_cities_
            self.source_ = "shipped"
        else:  # trained on request, on the given scenes minus the fitted city
            specs = tuple(tuple(sp) for sp in self.train_specs if city_key(sp[1]) != city)
            if not specs:
                raise InputError("no training scene left once the evaluated city is excluded", column="city", value=city)
            if self.ground_truth is None:
                raise InputError("VoronoiBoost trained on request needs a ground-truth model (ground_truth=…) to train on; "
                                 "deepmend.registry.make_model('voronoiboost', train_specs=…) passes the registered one", column="ground_truth")
            f, s = training_table(specs, self.ground_truth, n_per_scene=self.n_per_scene)
            key = ("voronoiboost-regressor", _table_key(specs, self.ground_truth.cache_token(), self.n_per_scene, 0), json.dumps(HYPERPARAMETERS))
            self.regressor_ = once(key, lambda: fit_regressor(np.asarray(f), np.asarray(s)))
            self.train_cities_ = {city_key(sp[1]) for sp in specs}
            self.source_ = "specs"
        self.features_ = compute_features(scene.deployment.xy)
        self.neighbours_ = _neighbour_lists(scene.deployment.xy)
        self.scales_ = predict_scales(self.regressor_, self.features_[scene.targets])
        self.rows_ = {int(t): k for k, t in enumerate(scene.targets)}

    def scales_of(self, i: int) -> np.ndarray:
        """Scales s_τ of BS ``i`` (shape (len(TAUS),)): the fitted table's row when the BS was predicted at
        fit, else :func:`predict_scales` of its features.
        """
        k = self.rows_.get(int(i))
        return self.scales_[k] if k is not None else predict_scales(self.regressor_, self.features_[[i]])[0]

    def _raw(self, i: int) -> np.ndarray:
        rs, cs = self.scene_.slices(i)
        g = cell_gauge(self.scene_, i, self.neighbours_[i])
        return ring_map(g, self.scene_.mask[rs, cs], self.scales_of(i))
