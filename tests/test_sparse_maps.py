"""Equivariance maps on HOG (eqlab.probes.sparse, eqlab.probes.hog_maps): Lenc & Vedaldi Sec. 5.2."""

from functools import cache

import numpy as np
import pandas as pd
import pytest

from eqlab.features.hog import HogGeometry, descriptor_permutation, hog
from eqlab.groups import get_transform
from eqlab.probes.hog_maps import (
    COLUMNS,
    HogMapsConfig,
    fit_maps,
    hog_maps_experiment,
    identity_map,
    patch_size,
    sample_patches,
    score_rows,
    transformed_hog,
    window,
)
from eqlab.probes.sparse import (
    LinearMap,
    Support,
    forward_selection,
    full_support,
    hellinger,
    least_squares,
    mean_hellinger,
    neighbourhoods,
    ridge,
    ridge_validated,
    structured_support,
)

# ---------------------------------------------------------------- solvers against references


@pytest.mark.parametrize("n, d", [(60, 12), (15, 40)])  # the Gram branch and the kernel (n < d) branch
def test_least_squares_and_ridge_match_closed_forms(n, d):
    rng = np.random.default_rng(n)
    x, y = rng.normal(size=(n, d)), rng.normal(size=(n, 3))
    xc, yc = x - x.mean(0), y - y.mean(0)
    ls = least_squares(x, y)
    np.testing.assert_allclose(ls.coef, np.linalg.lstsq(xc, yc, rcond=None)[0].T, atol=1e-10)
    np.testing.assert_allclose(ls.predict(x[:2]), x[:2] @ ls.coef.T + ls.bias, atol=1e-12)
    gram = xc.T @ xc
    ref = np.linalg.solve(gram + 0.3 * np.trace(gram) / d * np.eye(d), xc.T @ yc).T
    rr = ridge(x, y, 0.3)
    np.testing.assert_allclose(rr.coef, ref, atol=1e-10)
    np.testing.assert_allclose(rr.bias, y.mean(0) - ref @ x.mean(0), atol=1e-10)


def test_structured_support_is_separate_problems():
    """Each group is its own regression on its own inputs; predictions read nothing else."""
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(40, 9)), rng.normal(size=(40, 4))
    support = Support(np.array([[0, 1, 2], [6, 7, 8]]), np.array([[0, 1], [2, 3]]))
    fitted = ridge(x, y, 0.1, support)
    alone = ridge(x[:, 6:], y[:, 2:], 0.1)
    np.testing.assert_allclose(fitted.predict(x)[:, 2:], alone.predict(x[:, 6:]), atol=1e-10)
    a = fitted.dense(9)
    assert np.count_nonzero(a[:, 3:6]) == 0 and np.count_nonzero(a[:2, 6:]) == 0
    np.testing.assert_allclose(x @ a.T + fitted.bias, fitted.predict(x), atol=1e-12)


def _brute_forward_selection(x: np.ndarray, y: np.ndarray, k: int) -> tuple[list[int], np.ndarray]:
    xc, yc = x - x.mean(0), y - y.mean(0)
    chosen: list[int] = []
    for _ in range(k):
        best = None
        for i in set(range(x.shape[1])) - set(chosen):
            b = np.linalg.lstsq(xc[:, chosen + [i]], yc, rcond=None)[0]
            rss = ((yc - xc[:, chosen + [i]] @ b) ** 2).sum()
            if best is None or rss < best[0]:
                best = (rss, i, b)
        chosen.append(best[1])
    return chosen, best[2]


def test_forward_selection_matches_brute_force():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(40, 12))
    x[:, 3] += 0.9 * x[:, 5]  # correlated inputs: greedy order matters
    y = rng.normal(size=(40, 5)) + x[:, [3]]
    fitted = forward_selection(x, y, 4)
    for j in range(5):
        chosen, coef = _brute_forward_selection(x, y[:, j], 4)
        assert fitted.index[j].tolist() == chosen
        np.testing.assert_allclose(fitted.coef[j], coef, atol=1e-10)


def test_forward_selection_stops_at_an_exact_sparse_map():
    """y_j = 2 x_{3j} − x_{3j+1} + 1 exactly: two inputs per row, the remaining k − 2 slots unused."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(30, 60))  # n < d: least squares cannot find it
    y = 2 * x[:, 0:12:3] - x[:, 1:12:3] + 1
    fitted = forward_selection(x, y, 5)
    assert fitted.nonzeros == 2 * 4 and (fitted.index[:, 2:] == -1).all()
    a = fitted.dense(60)
    for j in range(4):
        np.testing.assert_allclose(a[j, [3 * j, 3 * j + 1]], [2, -1], atol=1e-12)
    np.testing.assert_allclose(fitted.bias, 1, atol=1e-12)
    xt = rng.normal(size=(20, 60))
    truth = 2 * xt[:, 0:12:3] - xt[:, 1:12:3] + 1
    assert np.abs(fitted.predict(xt) - truth).max() < 1e-10
    assert np.abs(least_squares(x, y).predict(xt) - truth).max() > 1.0


def test_hellinger_and_arguments():
    p, q = np.array([[1.0, 0.0, 0.25, 0.25]]), np.array([[0.0, 1.0, 0.25, -3.0]])
    np.testing.assert_allclose(hellinger(p, q, 2), [[np.sqrt(2), 0.5]])  # negatives clamp to 0
    assert mean_hellinger(p, p, 2) == 0.0
    with pytest.raises(ValueError, match="cells of 3"):
        hellinger(p, q, 3)
    x = np.zeros((5, 4))
    with pytest.raises(ValueError, match="k must be"):
        forward_selection(x, x, 0)
    with pytest.raises(ValueError, match="lam must be"):
        ridge(x, x, -1.0)
    with pytest.raises(ValueError, match="lams must be"):
        ridge_validated(x, x, x, x, [], 2)
    with pytest.raises(ValueError, match="same n"):
        least_squares(x, x[:3])
    with pytest.raises(ValueError, match="beyond d_in"):
        least_squares(x, x, full_support(5, 4))


def test_ridge_lambda_is_chosen_on_validation():
    """The returned curve is each λ's validation error; the chosen λ is its minimum; the map is RR at it."""
    rng = np.random.default_rng(4)
    x = np.abs(rng.normal(size=(30, 40)))
    y = np.abs(x[:, :8] + 0.3 * rng.normal(size=(30, 8)))
    xv = np.abs(rng.normal(size=(20, 40)))
    yv = np.abs(xv[:, :8] + 0.3 * rng.normal(size=(20, 8)))
    lams = (1e-6, 1e-2, 1.0, 100.0)
    fitted, lam, errors = ridge_validated(x, y, xv, yv, lams, 4)
    expected = [mean_hellinger(ridge(x, y, v).predict(xv), yv, 4) for v in lams]
    np.testing.assert_allclose(errors, expected, rtol=1e-9)
    assert lam == lams[int(np.argmin(expected))] and len(set(np.round(errors, 6))) == len(lams)
    np.testing.assert_allclose(fitted.predict(xv), ridge(x, y, lam).predict(xv), atol=1e-10)


# ---------------------------------------------------------------- neighbourhoods (Eq. 5)


def test_neighbourhoods_back_project_output_cells():
    grid_in, grid_out = (7, 7), (3, 3)
    ident = neighbourhoods(get_transform("identity"), grid_in, grid_out, 1, 8)
    assert ident[:, 0].tolist() == [16, 17, 18, 23, 24, 25, 30, 31, 32]  # the central 3×3 of 7×7
    flipped = neighbourhoods(get_transform("hflip"), grid_in, grid_out, 1, 8)
    assert flipped[:, 0].tolist() == [18, 17, 16, 25, 24, 23, 32, 31, 30]
    half = neighbourhoods(get_transform("scale0.5"), grid_in, grid_out, 1, 8)  # g⁻¹ doubles offsets
    assert half[:, 0].tolist() == [8, 10, 12, 22, 24, 26, 36, 38, 40]
    win = neighbourhoods(get_transform("scale0.25"), grid_in, grid_out, 3, 8)  # clipped inside the grid
    assert win[0].tolist() == [0, 1, 2, 7, 8, 9, 14, 15, 16] and win.max() < 49
    with pytest.raises(ValueError, match="m=9"):
        neighbourhoods(get_transform("identity"), grid_in, grid_out, 9, 8)


# ---------------------------------------------------------------- the HOG experiment ("done when")

SMALL = HogMapsConfig(in_cells=5, out_cells=3, n_train=150, n_val=50, n_test=80, angles=(0.0, 45.0), scales=(),
                      ks=(1, 3), ms=(1, 3), lams=(1e-3, 1e-1, 10.0))  # fmt: skip


@cache
def _patches() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    side = patch_size(SMALL)
    return {
        "train": sample_patches(SMALL.train_images, SMALL.n_train, side, rng),
        "val": sample_patches(SMALL.val_images, SMALL.n_val, side, rng),
        "test": sample_patches(SMALL.test_images, SMALL.n_test, side, rng),
    }


@cache
def _split(name: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    geo = HogGeometry(SMALL.cell_size, SMALL.orientations)
    g = get_transform(name)
    out = {}
    for part, p in _patches().items():
        phi = hog(window(p, SMALL.in_cells * SMALL.cell_size), geo).reshape(len(p), -1)
        out[part] = (phi, transformed_hog(p, g, SMALL))
    return out


def test_forward_selection_recovers_the_hflip_permutation_least_squares_does_not():
    """The issue's criterion: from 150 images (d_in = 775 > n), FS finds the h-flip map — a
    permutation — with ≈ 0 test error; plain least squares with the same images does not."""
    (x, y), (xt, yt) = _split("hflip")["train"], _split("hflip")["test"]
    dim = HogGeometry().dim
    fs = forward_selection(x, y, 3)
    idx = descriptor_permutation("hflip", 5, 5, 9).reshape(5, 5, dim)[1:4, 1:4].ravel()  # central 3×3 outputs
    expected = np.zeros((len(idx), x.shape[1]))
    expected[np.arange(len(idx)), idx] = 1.0
    np.testing.assert_allclose(fs.dense(x.shape[1]), expected, atol=1e-8)
    assert fs.nonzeros == len(idx)  # one input per output: the early stop found the exact map
    fs_err = mean_hellinger(fs.predict(xt), yt, dim)
    ls_err = mean_hellinger(least_squares(x, y).predict(xt), yt, dim)
    assert fs_err < 1e-6, fs_err
    assert ls_err > 0.1, ls_err
    rr, _, _ = ridge_validated(x, y, *_split("hflip")["val"], SMALL.lams, dim)
    rr_err = mean_hellinger(rr.predict(xt), yt, dim)
    assert fs_err < 1e-4 * rr_err and rr_err > 0.1


def test_rot45_is_harder_than_identity_and_flip():
    dim = HogGeometry().dim
    errors = {}
    for name in ("identity", "hflip", "rot45"):
        (x, y), (xt, yt) = _split(name)["train"], _split(name)["test"]
        errors[name] = mean_hellinger(forward_selection(x, y, 3).predict(xt), yt, dim)
    assert errors["rot45"] > 0.05 > 1e-6 > max(errors["identity"], errors["hflip"]), errors
    xt, yt = _split("rot45")["test"]
    assert mean_hellinger(identity_map(SMALL, dim).predict(xt), yt, dim) > errors["rot45"]


def test_m_sweep_rows_one_per_m():
    split, g, dim = _split("rot45"), get_transform("rot45"), HogGeometry().dim
    rows = []
    for m in (1, 3):
        rows += score_rows(g, 45.0, float("nan"), m, fit_maps(split, g, SMALL, dim, m), split["test"], dim)
    table = pd.DataFrame(rows)
    for method, k in (("ls", None), ("rr", None), ("fs", 1), ("fs", 3)):
        sub = table[(table.method == method) & (table.k.isna() if k is None else table.k == k)]
        assert sub.m.tolist() == [1, 3], (method, k)
        assert (sub.fit_seconds > 0).all() and sub.hellinger_error.between(0.01, 2.0).all()
    fs3 = table[(table.method == "fs") & (table.k == 3)].set_index("m")
    assert fs3.nonzeros[1] <= fs3.nonzeros[3] <= 3 * 9 * 31  # k non-zeros per output row at most


def test_experiment_table():
    cfg = HogMapsConfig(in_cells=5, out_cells=3, n_train=40, n_val=20, n_test=20, angles=(0.0, 45.0),
                        scales=(0.5,), ks=(2,), ms=(1,), lams=(1e-2, 1.0))  # fmt: skip
    table = hog_maps_experiment(cfg)
    assert tuple(table.columns) == COLUMNS
    # per transform: identity, ls, rr, fs(k=2); at 45° also m = 1: ls, rr, fs
    assert len(table) == 3 * 4 + 3
    assert table["transform"].unique().tolist() == ["identity", "rot45", "scale0.5"]
    assert str(table.m.dtype) == "Int64" and table.m.notna().sum() == 3
    assert table.hellinger_error.notna().all() and (table.fit_seconds >= 0).all()
    exact = table[(table["transform"] == "identity") & (table.method.isin(["identity", "fs"]))]
    assert exact.hellinger_error.max() < 1e-6
    with pytest.raises(ValueError, match="out_cells=4"):
        HogMapsConfig(in_cells=5, out_cells=4)
    with pytest.raises(ValueError, match="sweep_angle=30"):
        HogMapsConfig(sweep_angle=30.0)
    with pytest.raises(ValueError, match="disjoint"):
        HogMapsConfig(test_images=("camera", "astronaut"))


def test_linear_map_dense_and_unused_slots():
    m = LinearMap(np.array([[2, -1], [0, 1]]), np.array([[3.0, 0.0], [1.0, -1.0]]), np.array([0.5, 0.0]))
    x = np.array([[1.0, 2.0, 4.0]])
    np.testing.assert_allclose(m.predict(x), [[12.5, -1.0]])
    np.testing.assert_allclose(m.dense(3), [[0, 0, 3], [1, -1, 0]])
    assert m.nonzeros == 3
    sup = structured_support(np.array([[0, 1], [1, 2]]), 2, 3)
    assert sup.inputs.tolist() == [[0, 1, 2, 3], [2, 3, 4, 5]] and sup.outputs.tolist() == [[0, 1, 2], [3, 4, 5]]
