"""Kind 6: a resumed ``predict --all --out DIR`` or ``--store`` run checks every input its maps depend on.

Each case runs once, changes one thing (the model, its parameters, a site's position, the
region, or the DeepMEND weights file replaced under the same name) and reruns into the same
output: refused with exit code 2 and one sentence that says what changed; the same run
again resumes. Both kinds of output, in-process (``deepmend.cli.main``).
"""

from __future__ import annotations

import shutil

import pytest

from inputs_helpers import case
from deepmend.cli import main

WEIGHTS = __import__("pathlib").Path(__file__).resolve().parents[2] / "deepmend" / "weights"


def _run(capsys, out_args, *args) -> tuple[int, str]:
    rc = main(["-q", "predict", "--all", "--workers", "0", *out_args, *map(str, args)])
    return rc, capsys.readouterr().err


def _weights(tmp_path, which: str):
    """DeepMEND weights copied under one name, w.json / w.npz (``which``: the shipped set to copy)."""
    for ext in (".json", ".npz"):
        shutil.copyfile(WEIGHTS / f"{which}{ext}", tmp_path / f"w{ext}")
    return tmp_path / "w.json"


CHANGES = {  # name → (first run's options, second run's options, words of the refusal for --out, for --store)
    "model": (["--model", "voronoi"], ["--model", "probabilistic"], "model voronoi → probabilistic", "voronoi {} → probabilistic"),
    "parameters": (["--model", "probabilistic", "--alpha", "1.3"], ["--model", "probabilistic", "--alpha", "2.0"],
                   'parameters {"alpha": 1.3} → {"alpha": 2.0}', '"alpha": 1.3, "normaliser": "fast"} → probabilistic {"alpha": 2.0'),
    "deployment": ([], ["--sites", case("c21_base_lyon_A1_moved.csv")], "1 site(s) moved (A1; A1 by 8,690 m)", "the sites changed (moved, added or removed)"),
    "region": (["--region", "FR"], ["--region", "FR/Lyon"], "the region changed", "the region changed"),
    "weights": (["--model", "deepmend", "--weights", "W"], ["--model", "deepmend", "--weights", "W"], "other weights (sha256 ", "other DeepMEND weights ("),
}


@pytest.mark.parametrize("mode", ["out", "store"])
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_kind6_stale_output_every_input_checked(tmp_path, capsys, mode, change):
    first, second, words_out, words_store = CHANGES[change]
    out_args = ["--out", str(tmp_path / "maps")] if mode == "out" else ["--store", str(tmp_path / "maps.zarr")]
    sites = ["--sites", case("base_lyon.csv")]
    if change == "weights":
        w = _weights(tmp_path, "deepmend")
        first = second = [str(w) if a == "W" else a for a in first]
    rc, err = _run(capsys, out_args, *sites, *first)
    assert rc == 0, err
    rc, err = _run(capsys, out_args, *sites, *first)  # the same run resumes
    assert rc == 0, err
    if change == "weights":
        _weights(tmp_path, "deepmend_softlabels")  # other weights under the same file name
    second_sites = [] if "--sites" in second else sites
    rc, err = _run(capsys, out_args, *second_sites, *second)
    assert rc == 2, err
    line = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(line) == 1 and "Traceback" not in err, err
    assert (words_out if mode == "out" else words_store) in line[0], line[0]
    assert ("write to a new directory" if mode == "out" else "use a new --store") in line[0]
