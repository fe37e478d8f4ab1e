"""A resumed run is keyed by the content of the list, not by its row order nor its file name: swapped or reversed
rows, or the same file under another name, resume; a real change is refused naming it."""

from __future__ import annotations

from inputs_helpers import cli, one_error_line

ROWS = ["A,48.110,-1.680", "B,48.120,-1.660", "C,48.100,-1.700", "D,48.090,-1.650", "E,48.130,-1.690", "F,48.105,-1.640"]


def write(path, rows):
    path.write_text("site_id,lat,lon\n" + "\n".join(rows) + "\n")
    return path


def test_kind6_resume_out_dir_row_order_independent(tmp_path):
    a = write(tmp_path / "a.csv", ROWS)
    rc, out, err = cli("predict", "--sites", a, "--model", "voronoi", "--all", "--out", tmp_path / "m")
    assert rc == 0, err
    write(a, ROWS[::-1])
    rc, out, err = cli("predict", "--sites", a, "--model", "voronoi", "--all", "--out", tmp_path / "m")
    assert rc == 0 and "changed" not in err, err


def test_kind6_resume_store_row_order_and_file_name_independent(tmp_path):
    a = write(tmp_path / "a.csv", ROWS)
    args = ["predict", "--model", "voronoi", "--all", "--store", tmp_path / "s.zarr"]
    rc, out, err = cli(*args, "--sites", a)
    assert rc == 0, err
    from deepmend.engine.store import MapStore

    before = {s: MapStore(tmp_path / "s.zarr").read_map(s).prob.copy() for s in "ABCDEF"}
    for m in list((tmp_path / "s.zarr" / "manifest").glob("*.json")):  # an interrupted run: every tile to redo
        m.unlink()
    rc, out, err = cli(*args, "--sites", write(a, ROWS[::-1]))
    assert rc == 0 and "other settings" not in err, err
    st = MapStore(tmp_path / "s.zarr")
    for s, p in before.items():  # every map in its own row, although the rows came reversed
        assert (st.read_map(s).prob == p).all(), s
    swapped = ROWS[:]
    swapped[1], swapped[2] = swapped[2], swapped[1]
    rc, out, err = cli(*args, "--sites", write(a, swapped))
    assert rc == 0 and "other settings" not in err, err
    rc, out, err = cli(*args, "--sites", write(tmp_path / "copy.csv", ROWS[::-1]))  # same content, another name
    assert rc == 0 and "another scene" not in err, err
    moved = ROWS[:-1] + ["F,48.107,-1.640"]
    rc, out, err = cli(*args, "--sites", write(tmp_path / "copy.csv", moved))
    msg = one_error_line(err)
    assert rc == 2 and "the sites changed" in msg and "another scene" not in msg, msg
