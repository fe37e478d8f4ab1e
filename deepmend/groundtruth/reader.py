"""Real operator maps: the on-disk format and a model that serves them for a scene.

Format (a directory, one map per BS)::

    MAPS/
      index.csv          optional: columns site_id,file (file relative to MAPS/)
      <site_id>.npz      either dense arrays ``prob`` (float32 600×600, north-up
                         when header ``version`` is 2, else rows northward), ``mask``
                         (bool) and ``header`` (JSON string with window {crs, left,
                         bottom, size, res} and site_id) — the
                         simplest export from any tool —, or what
                         ``DiffusionMap.save('x.npz')`` writes, or a compact map of
                         ``groundtruth build`` (see deepmend.groundtruth.storage)
      <site_id>.tif      or a GeoTIFF: one float band, north-up, 100 m cells, a CRS,
                         NaN = masked (what ``DiffusionMap.save('x.tif')`` writes)

Without ``index.csv`` the file stem is the site id (characters other than letters,
digits, ``._-`` replaced by ``_``, as ``deepmend predict --all`` names files). Each
map is validated when loaded: 600×600 cells of 100 m, a CRS equal to the scene's,
the window on the national lattice where the BS's window is, finite non-negative
values summing to 1 on valid cells and 0 elsewhere. Anything else is an InputError
naming the file, so a user's export problem is found at once rather than averaged
into a benchmark.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from pyproj import CRS

from deepmend.errors import InputError
from deepmend.grid.diffusion_map import DiffusionMap, north_up_from_header
from deepmend.grid.lattice import RES_M, WINDOW_CELLS, Window
from deepmend.groundtruth.storage import is_compact, load_compact
from deepmend.models.base import DiffusionModel
from deepmend.scene import Scene

SUFFIXES = (".npz", ".tif", ".tiff")


def _safe(site_id: str) -> str:
    from deepmend.grid.map_dir import safe_name

    return safe_name(site_id)


def _same_crs(a: str, b: str) -> bool:
    try:
        return CRS.from_user_input(a) == CRS.from_user_input(b)
    except Exception:
        return False


def _precheck_npz(path: Path) -> None:
    """Clear messages for the common export mistakes before the generic loader runs."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if "header" not in z.files:
                return
            header = json.loads(str(z["header"]))
    except Exception:
        return  # the loader reports unreadable files
    win = header.get("window") if isinstance(header, dict) else None
    if not isinstance(win, dict) or not win.get("crs"):
        raise InputError("map has no CRS (header.window.crs is missing)", file=str(path))
    missing = {"left", "bottom"} - set(win)
    if missing:
        raise InputError(f"map header lacks window {sorted(missing)}", file=str(path))


def _load_npz(path: Path) -> DiffusionMap:
    """Dispatch on the arrays present: compact, dense (prob/mask) or the core format."""
    if is_compact(path):
        return load_compact(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            dense = {"prob", "mask", "header"} <= set(z.files)
            if dense:
                header = json.loads(str(z["header"]))
                prob, mask = z["prob"], z["mask"].astype(bool)
                win = Window(**header["window"])
    except Exception as exc:
        raise InputError(f"not a readable map ({type(exc).__name__}: {exc})", file=str(path)) from None
    if not dense:
        return DiffusionMap.load(path)
    prob, mask = north_up_from_header(header, np.asarray(prob, dtype=np.float32) if np.issubdtype(prob.dtype, np.floating) else prob, mask)
    return DiffusionMap._validated(path, win, prob, mask, header)


def read_map(path: str | Path, crs: str | None = None, window: Window | None = None) -> DiffusionMap:
    """Load and validate one operator map (``.npz`` or GeoTIFF, METHOD.md §4, §6) as a north-up map.

    Parameters
    ----------
    path : str or Path
        The map file.
    crs : str, optional
        The scene's CRS; the map's must equal it.
    window : Window, optional
        The BS's window in the scene; the map's must equal it.

    Returns
    -------
    DiffusionMap
        North-up (row 0 = north), validated.

    Raises
    ------
    InputError
        If the file is missing or unreadable, not a 600×600 grid of 100 m cells, in another
        CRS, or on another window than the BS's.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("map file not found", file=str(path))
    if path.suffix.lower() == ".npz":
        _precheck_npz(path)
        m = _load_npz(path)
    else:
        m = DiffusionMap.load(path)
    w = m.window
    if w.size != WINDOW_CELLS or abs(w.res - RES_M) > 1e-6:
        raise InputError(f"expected a {WINDOW_CELLS}×{WINDOW_CELLS} grid of {RES_M:.0f} m cells, got {w.size}×{w.size} of {w.res:g} m", file=str(path))
    if crs is not None and not _same_crs(w.crs, crs):
        raise InputError(f"map CRS {w.crs} differs from the scene's {crs}", file=str(path))
    if window is not None and (abs(w.left - window.left) > 1e-3 or abs(w.bottom - window.bottom) > 1e-3):
        raise InputError(f"window at ({w.left:.0f}, {w.bottom:.0f}) is not the BS's window ({window.left:.0f}, {window.bottom:.0f}): "
                         "windows start at floor((x − 30 km)/100 m)·100 m", file=str(path))
    return m


def index_directory(directory: str | Path) -> dict[str, Path]:
    """site id (or file stem) → file, from ``index.csv`` when present, else from file names.

    Parameters
    ----------
    directory : str or Path
        A directory of per-BS maps (``.npz``/``.tif``), optionally with ``index.csv``
        (columns ``site_id,file``).

    Returns
    -------
    dict of str to Path

    Raises
    ------
    InputError
        If the directory does not exist, ``index.csv`` lacks its columns, or names a file
        that is not ``.npz``/``.tif`` (naming the row).
    """
    d = Path(directory)
    if not d.is_dir():
        raise InputError("operator map directory not found", file=str(d))
    idx = d / "index.csv"
    out: dict[str, Path] = {}
    if idx.exists():
        with open(idx, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or not {"site_id", "file"} <= set(reader.fieldnames):
                raise InputError("index.csv needs the columns site_id,file", file=str(idx))
            for row_no, row in enumerate(reader, start=2):
                f = d / row["file"]
                if f.suffix.lower() not in SUFFIXES:
                    raise InputError("map files must be .npz or .tif", file=str(idx), row=row_no, column="file", value=row["file"])
                out[str(row["site_id"])] = f
        return out
    for f in sorted(d.iterdir()):
        if f.suffix.lower() in SUFFIXES and not f.name.startswith("."):
            out[f.stem] = f
    return out


class OperatorMaps(DiffusionModel):
    """Real (or previously built) ground truth read from a directory, served per BS.

    Parameters
    ----------
    directory : str or Path
        The maps' directory (see :func:`index_directory`); read at :meth:`fit`.

    Raises
    ------
    InputError
        At fit when the directory holds no map, and at predict for a site without one.
    """

    name = "operator"
    label = "Operator maps"
    description = "Ground-truth maps supplied by an operator, read from disk and validated."

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def params(self) -> dict:
        return {"directory": str(self.directory)}

    def _fit(self, scene: Scene) -> None:
        self.files_ = index_directory(self.directory)
        if not self.files_:
            raise InputError("no .npz or .tif maps in the directory", file=str(self.directory))

    def path_of(self, i: int) -> Path | None:
        """The map file of site ``i`` (by its id or any id merged into it), or None."""
        dep = self.scene_.deployment
        for sid in (str(dep.site_ids[i]), *dep.members[i]):
            for key in (sid, _safe(sid)):
                if key in self.files_:
                    return self.files_[key]
        return None

    def available(self) -> np.ndarray:
        """Target sites that have a map."""
        return np.array([i for i in self.scene_.targets if self.path_of(int(i)) is not None], dtype=int)

    def _raw(self, i: int) -> np.ndarray:
        path = self.path_of(i)
        if path is None:
            raise InputError(f"no operator map for site {self.scene_.deployment.site_ids[i]}", file=str(self.directory))
        return read_map(path, self.scene_.crs, self.scene_.window(i)).lattice_prob
