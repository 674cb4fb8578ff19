"""The HOG of eqlab.features.hog: flips and half turns (quarter turns for even B) act by exact permutations."""

import numpy as np
import pytest
import skimage.data
import torch

from eqlab.features.hog import (
    D4_NAMES,
    HogGeometry,
    cell_permutation,
    channel_permutation,
    descriptor_permutation,
    hog,
    hog_rep,
    permutation_matrix,
)
from eqlab.groups import act_on_features, get_transform

TOL = 1e-12  # float64; features are O(0.1), observed differences ≈ 6e-16


def _gray(name: str) -> np.ndarray:
    img = np.asarray(getattr(skimage.data, name)(), dtype=np.float64)
    if img.ndim == 3:
        img = img[..., :3] @ np.array([0.299, 0.587, 0.114])
    return img / 255.0


def _images() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "camera": _gray("camera")[96:160, 192:256],  # 64×64: 8×8 cells
        "astronaut": _gray("astronaut")[40:112, 180:252],  # 72×72: 9×9 cells (odd grid)
        "coffee_wide": _gray("coffee")[100:148, 200:296],  # 48×96: non-square 6×12 cells
        "random": rng.random((64, 64)),
        "random_integers": rng.integers(0, 4, size=(48, 48)) / 3.0,  # many exact ties in the gradient angle
    }


def _apply(g, x: np.ndarray) -> np.ndarray:
    return g.apply(torch.from_numpy(x)[None, None])[0, 0].numpy()


def _check_law(name: str, x: np.ndarray, geometry: HogGeometry, key: str) -> None:
    g = get_transform(name)
    phi = hog(x, geometry)
    moved = hog(_apply(g, x), geometry)
    idx = descriptor_permutation(g, *phi.shape[:2], geometry.orientations)
    err = np.abs(moved.ravel() - phi.ravel()[idx]).max()
    assert err <= TOL, f"{key}, {name}: |HOG(g·x) − P_g HOG(x)| = {err:.3g}"
    assert np.abs(moved - phi).max() > 0.05, (
        f"{key}: {name} left the HOG unchanged: the test would not detect a bad P_g"
    )


@pytest.mark.parametrize("name", ["hflip", "vflip", "rot180"])
@pytest.mark.parametrize("orientations", [9, 8])
def test_flips_and_half_turn_are_exact_permutations(name, orientations):
    for key, x in _images().items():
        _check_law(name, x, HogGeometry(cell_size=8, orientations=orientations), key)


@pytest.mark.parametrize("name", ["rot90", "rot270", "transpose", "antitranspose"])
def test_quarter_turns_exact_for_even_orientations_on_square_grids(name):
    for key, x in _images().items():
        if x.shape[0] == x.shape[1]:
            _check_law(name, x, HogGeometry(cell_size=8, orientations=8), key)
            _check_law(name, x[:60, :60], HogGeometry(cell_size=6, orientations=4), key)


def test_nine_orientations_are_not_closed_under_quarter_turns():
    with pytest.raises(ValueError, match="orientations=9.*not closed under rot90"):
        channel_permutation("rot90", 9)
    with pytest.raises(ValueError, match="square grid"):
        cell_permutation("rot90", 6, 12)
    with pytest.raises(ValueError, match="g='rot45'"):
        channel_permutation("rot45", 8)
    with pytest.raises(ValueError, match="g='shift1,0'"):
        cell_permutation("shift1,0", 4, 4)


def test_layout_and_bounds():
    geo = HogGeometry()
    x = _images()["camera"]
    phi = hog(x, geo)
    assert geo.dim == 31 and phi.shape == (8, 8, 31)
    assert phi.min() >= 0 and phi[..., :27].max() <= 4 * 0.5 * geo.clip
    batch = hog(np.stack([x, x[::-1]]), geo, batch=1)
    np.testing.assert_array_equal(batch[0], phi)
    assert np.abs(hog(np.zeros((16, 16)))).max() == 0.0  # a flat image has no gradient
    with pytest.raises(ValueError, match="not a positive multiple of cell_size=8"):
        hog(np.zeros((20, 16)))
    with pytest.raises(ValueError, match="images must be"):
        hog(np.zeros((1, 1, 8, 8)))
    with pytest.raises(ValueError, match="orientations must be"):
        HogGeometry(orientations=1)


def test_shift_by_a_cell_moves_interior_cells():
    """A convolutional representation: away from the border (two cells: the gradient stencil, the
    bilinear pooling and the 2×2 blocks), shifting the image by one cell shifts the cells."""
    x = _images()["camera"]
    phi, shifted = hog(x), hog(x[:, 8:])
    np.testing.assert_allclose(shifted[2:-2, 2:-2], phi[2:-2, 3:-2], atol=1e-13)


D4 = [get_transform(n) for n in D4_NAMES]


def test_permutation_algebra_on_d4():
    """P_a P_b = P_{a∘b} and P_g P_{g⁻¹} = I for every pair of D4 elements (B = 8, square grid)."""
    rows = cols = 5
    mats = {g: permutation_matrix(descriptor_permutation(g, rows, cols, 8)) for g in D4}
    eye = np.eye(rows * cols * 28)
    for a in D4:
        np.testing.assert_array_equal(mats[a] @ mats[a.inverse()], eye)
        for b in D4:
            np.testing.assert_array_equal(mats[a] @ mats[b], mats[a @ b], err_msg=f"{a.name} ∘ {b.name}")
    assert not np.array_equal(mats[get_transform("hflip")], eye)


def test_permutation_algebra_for_odd_orientations():
    """The four elements that exist for B = 9 (a Klein four-group) on a non-square grid."""
    names = ("identity", "hflip", "vflip", "rot180")
    idx = {n: descriptor_permutation(n, 4, 7, 9) for n in names}
    for a in names:
        for b in names:
            ab = (get_transform(a) @ get_transform(b)).name
            np.testing.assert_array_equal(idx[b][idx[a]], idx[ab])
    np.testing.assert_array_equal(idx["identity"], np.arange(4 * 7 * 31))
    np.testing.assert_array_equal(idx["hflip"][idx["hflip"]], idx["identity"])


def test_channel_permutation_of_a_flip():
    """hflip sends direction θ to π − θ: signed k → B − k (mod 2B), unsigned k → −k (mod B), and the
    texture corners left↔right."""
    p = channel_permutation("hflip", 9)
    assert p[:18].tolist() == [(9 - k) % 18 for k in range(18)]
    assert p[18:27].tolist() == [18 + (-k) % 9 for k in range(9)]
    assert p[27:].tolist() == [28, 27, 30, 29]


def test_hog_rep_is_the_eqlab_action():
    """act_on_features(φ(x), g, ρ) — P_g on the cell grid, ρ(g) on channels — equals φ(g·x)."""
    x = _images()["camera"]
    for orientations in (9, 8):
        geo = HogGeometry(orientations=orientations)
        rep = hog_rep(orientations)
        phi = torch.from_numpy(hog(x, geo)).permute(2, 0, 1)[None]
        for g in rep.elements:
            moved = torch.from_numpy(hog(_apply(g, x), geo)).permute(2, 0, 1)[None]
            assert (act_on_features(phi, g, rep) - moved).abs().max().item() <= TOL, g.name
            composed = [h for h in rep.elements if g @ h in rep.elements]
            assert len(composed) == len(rep.elements)  # closed: a group
    assert len(hog_rep(9).elements) == 4 and len(hog_rep(8).elements) == 8
