"""Georeferenced grids: the national 100 m lattice, per-BS windows, masks and map files."""

from deepmend.grid.lattice import HALF_WIDTH_M, RES_M, WINDOW_CELLS, Lattice, Window

__all__ = ["Lattice", "Window", "RES_M", "WINDOW_CELLS", "HALF_WIDTH_M"]
