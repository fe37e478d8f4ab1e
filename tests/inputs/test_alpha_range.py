"""An absurd --alpha is refused in one sentence (exit 2), with no numpy warning line and no map written."""

from __future__ import annotations

from inputs_helpers import cli, one_error_line


def test_kind7_alpha_too_large_refused_in_one_sentence(tmp_path):
    f = tmp_path / "s.csv"
    f.write_text("site_id,lat,lon\nA,48.110,-1.680\nB,48.120,-1.660\nC,48.100,-1.700\n")
    rc, out, err = cli("predict", "--sites", f, "--model", "probabilistic", "--alpha", "1e308", "--site", "A", "--out", tmp_path / "a.npz")
    msg = one_error_line(err)
    assert rc == 2 and "alpha must be at most 1e+06" in msg, msg
    assert "Warning" not in err and not (tmp_path / "a.npz").exists(), err
