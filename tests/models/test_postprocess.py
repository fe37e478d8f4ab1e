"""DeepMEND's post-processing in numpy (what a map store runs on read) equals torch's bilinear upsampling."""

from __future__ import annotations

import numpy as np
import pytest

from deepmend.models.deepmend import postprocess


@pytest.mark.parametrize("factor", [5, 4])
def test_numpy_upsampling_matches_torch_interpolate(factor):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    n = 600 // factor
    z = (rng.normal(size=(3, n, n)) * 2).astype(np.float32)
    masks = rng.random((3, 600, 600)) > 0.2
    got = postprocess(z, masks, factor, "kl")
    up = F.interpolate(torch.from_numpy(z)[:, None], scale_factor=float(factor), mode="bilinear", align_corners=False)[:, 0].numpy()
    top = np.where(masks, up, -np.inf).reshape(3, -1).max(axis=1)
    want = np.where(masks, np.exp(up - top[:, None, None]), 0)
    assert got.dtype == np.float32 and (got[~masks] == 0).all()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-7)
