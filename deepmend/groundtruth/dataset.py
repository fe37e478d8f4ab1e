"""A ground-truth dataset on disk: ``index.json`` + one folder of compact maps per scene.

Written by ``deepmend groundtruth build`` (and ``python -m deepmend.train.sample_gt``),
read by the evaluation, the trainer, the teacher labels and ``groundtruth stats``: this
class is the one place that knows the index's name, format and layout.

Layout::

    ROOT/index.json             {"format": FORMAT, "scenes": {"FR/Lyon/Orange": {"dir", "n_maps", "config", "floor", …}}}
    ROOT/FR_Lyon_Orange/<site>.npz   one compact map per BS (:mod:`deepmend.groundtruth.storage`)
"""

from __future__ import annotations

import json
from pathlib import Path

from deepmend.errors import InputError
from deepmend.io import atomic_path

FORMAT = "deepmend-groundtruth-dataset/1"
INDEX = "index.json"


def scene_dir_name(key: str) -> str:
    """The folder name of a scene key (``"FR/Lyon/Orange"`` → ``"FR_Lyon_Orange"``; world N of the
    randomised family, ``"FR/Lyon/Orange#wN"`` → ``"FR_Lyon_Orange_wN"``)."""
    from deepmend.grid.map_dir import safe_name

    return safe_name(key.replace("/", "_").replace("#", "_"))


class GroundTruthDataset:
    """A dataset directory and its index.

    Parameters
    ----------
    root : str or Path
        The dataset directory.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def index_path(self) -> Path:
        return self.root / INDEX

    def exists(self) -> bool:
        """True when the directory holds an index."""
        return self.index_path.is_file()

    def read(self, hint: str = "build one with 'deepmend groundtruth build'") -> dict:
        """The index, checked.

        Raises
        ------
        InputError
            No index (``hint`` says what to do), or an unreadable one, naming the file.
        """
        if not self.exists():
            raise InputError(f"not a ground-truth dataset (no {INDEX}); {hint}", file=str(self.root))
        try:
            index = json.loads(self.index_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"unreadable {INDEX} ({exc})", file=str(self.index_path)) from None
        if not isinstance(index, dict) or not isinstance(index.get("scenes", {}), dict):
            raise InputError(f"{INDEX} has no 'scenes' mapping", file=str(self.index_path))
        index.setdefault("scenes", {})
        return index

    def read_or_new(self) -> dict:
        """The index if there is one, else an empty one of the current format."""
        return self.read() if self.exists() else {"format": FORMAT, "scenes": {}}

    def scenes(self) -> dict[str, dict]:
        """Scene key → index entry."""
        return self.read()["scenes"]

    def scene_dir(self, key: str, entry: dict | None = None) -> Path:
        """The folder of a scene's maps (from its entry, else the default name)."""
        return self.root / (entry["dir"] if entry else scene_dir_name(key))

    def write(self, index: dict) -> None:
        """Write the index atomically."""
        with atomic_path(self.index_path) as tmp:
            tmp.write_text(json.dumps(index, indent=1))

    def set_entry(self, key: str, entry: dict) -> dict:
        """Add or replace one scene's entry (read, update, write); returns the index."""
        index = self.read_or_new()
        index["scenes"][key] = entry
        self.write(index)
        return index

    def truth(self, key: str, scene):
        """The scene's maps as a fitted :class:`~deepmend.groundtruth.reader.OperatorMaps`.

        Raises
        ------
        InputError
            The dataset has no maps for ``key``.
        """
        from deepmend.groundtruth.reader import OperatorMaps

        entry = self.read()["scenes"].get(key)
        sub = self.scene_dir(key, entry)
        if not sub.is_dir():
            raise InputError(f"the ground-truth dataset has no maps for {key}", file=str(self.root))
        return OperatorMaps(sub).fit(scene)
