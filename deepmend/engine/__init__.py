"""Country-scale batch engine: spatial tiles → tasks → sparse maps in a resumable Zarr store.

A Scene over a whole country would hold ~1e8 lattice cells per shared raster, so the
engine cuts the targets into spatial tiles, each with its own small Scene whose
deployment holds every site within a margin of the tile. The task that turns a tile
into maps is a pure function, so it runs unchanged in-process, in a local process pool
or on a Dask distributed cluster; the workers write their tiles' rows of the Zarr store
themselves and the driver only keeps the manifest (docs/SCALING.md).
"""

from deepmend.engine.job import Job, open_job, open_jobs
from deepmend.engine.runner import BatchReport, run_batch
from deepmend.engine.tasks import ModelSpec, TileResult, compute_tile
from deepmend.engine.tiles import Tile, make_tiles

__all__ = ["Job", "open_job", "open_jobs", "BatchReport", "run_batch", "ModelSpec", "TileResult", "compute_tile", "Tile", "make_tiles"]
