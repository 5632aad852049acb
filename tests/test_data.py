"""Tests of ebmcore.data: toy 2-D sets, mixtures, digits and the offline MNIST / CIFAR-10 readers."""

from __future__ import annotations

import gzip
import math
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ebmcore.data import (
    TOY_NAMES,
    Dataset,
    GaussianMixture,
    checkerboard_inside,
    digits_split_indices,
    load_cifar10,
    load_digits_dataset,
    load_fashion_mnist,
    load_mnist,
    make_toy,
    make_toy_dataset,
    read_idx,
    toy_mixture,
)

torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
GMM_KW = {"centers": [[-2.0, 0.0], [2.0, 1.0]], "weights": [0.25, 0.75], "std": 0.4}


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _kw(name: str) -> dict:
    return dict(GMM_KW) if name == "gmm" else {}


# ---------------------------------------------------------------------------------------------- toy


@pytest.mark.parametrize("name", TOY_NAMES)
@pytest.mark.parametrize("n", [0, 1, 7, 1001])
def test_toy_exact_n_dtype_shape(name: str, n: int) -> None:
    x = make_toy(name, n, generator=_gen(), **_kw(name))
    assert x.shape == (n, 2)
    assert x.dtype == torch.float32
    assert x.device.type == "cpu"
    assert bool(torch.isfinite(x).all())


@pytest.mark.parametrize("name", TOY_NAMES)
def test_toy_deterministic_given_generator(name: str) -> None:
    a = make_toy(name, 300, generator=_gen(5), **_kw(name))
    b = make_toy(name, 300, generator=_gen(5), **_kw(name))
    c = make_toy(name, 300, generator=_gen(6), **_kw(name))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_toy_does_not_touch_global_rng() -> None:
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    np_before = np.random.get_state()[1].copy()
    for name in TOY_NAMES:
        make_toy(name, 50, generator=_gen(), **_kw(name))
    assert torch.equal(torch.random.get_rng_state(), before)
    assert np.array_equal(np.random.get_state()[1], np_before)


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="valid names: 8gaussians, 25gaussians"):
        make_toy("8gausians", 10, generator=_gen())
    with pytest.raises(ValueError, match="valid names"):
        make_toy_dataset("nope", n_train=10)


def test_unknown_param_raises() -> None:
    with pytest.raises(TypeError):
        make_toy("rings", 10, generator=_gen(), radius=3)
    with pytest.raises(TypeError):
        make_toy("8gaussians", 10, generator=_gen(), sigma=0.1)
    with pytest.raises(ValueError, match="centers"):
        make_toy("gmm", 10, generator=_gen())


def _nearest(x: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    return torch.cdist(x.double(), centers.double()).argmin(1)


@pytest.mark.parametrize(("kw", "radius", "std"), [({}, 4 / math.sqrt(2), 0.5 / math.sqrt(2)), ({"radius": 2.0, "std": 0.15}, 2.0, 0.15)])
def test_8gaussians_statistics(kw: dict, radius: float, std: float) -> None:
    n = 40000
    x = make_toy("8gaussians", n, generator=_gen(1), **kw).double()
    gm = toy_mixture("8gaussians", **kw)
    assert torch.allclose(gm.centers.norm(dim=1), torch.full((8,), radius, dtype=torch.float64))
    k = _nearest(x, gm.centers)
    resid = x - gm.centers[k]
    assert abs(resid.std().item() - std) < 0.01 * std + 0.003
    assert resid.mean(0).abs().max().item() < 0.01
    freq = torch.bincount(k, minlength=8).double() / n
    assert (freq - 0.125).abs().max().item() < 0.01
    # total per-axis variance = radius^2 / 2 + std^2
    assert abs(x.var(0).mean().item() - (radius**2 / 2 + std**2)) < 0.05


def test_8gaussians_true_nll_is_2_83() -> None:
    gm = toy_mixture("8gaussians")
    x = gm.sample(40000, _gen(2)).double()
    nll = -gm.log_prob(x).mean().item()
    # the entropy -int p log p by quadrature on a fine grid (slightly below the separated-components
    # value log 8 + 1 + log(2 pi std^2) = 2.8379 because neighbouring components overlap a little)
    h = 12 / 600
    g1 = -6 + (torch.arange(600, dtype=torch.float64) + 0.5) * h
    grid = torch.cartesian_prod(g1, g1)
    lp = gm.log_prob(grid)
    entropy = float(-(lp.exp() * lp).sum() * h * h)
    assert abs(entropy - 2.8335) < 2e-3
    assert entropy < math.log(8) + 1 + math.log(2 * math.pi * 0.125)
    assert abs(nll - entropy) < 0.02


def test_25gaussians_grid() -> None:
    gm = toy_mixture("25gaussians")
    assert gm.centers.shape == (25, 2)
    assert sorted(set(gm.centers[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    x = make_toy("25gaussians", 5000, generator=_gen())
    resid = x.double() - gm.centers[_nearest(x, gm.centers)]
    assert abs(resid.std().item() - 0.05) < 0.003


def test_gaussian_mixture_log_prob_exact() -> None:
    from scipy.stats import multivariate_normal

    gm = GaussianMixture(torch.tensor([[0.0, 0.0], [1.0, -1.0], [3.0, 2.0]]), torch.tensor([0.5, 1.0, 0.3]), [1, 2, 1])
    x = torch.randn(50, 2, generator=_gen(), dtype=torch.float64) * 2
    ref = np.log(
        sum(
            w * multivariate_normal(mean=c.numpy(), cov=s**2 * np.eye(2)).pdf(x.numpy())
            for c, s, w in zip(gm.centers, gm.std.tolist(), gm.weights.tolist(), strict=True)
        )
    )
    assert np.allclose(gm.log_prob(x).numpy(), ref, rtol=1e-10, atol=1e-10)
    assert gm.log_prob(x.float()).dtype == torch.float32
    assert torch.allclose(gm.weights, torch.tensor([0.25, 0.5, 0.25], dtype=torch.float64))
    ref_m = gm.reference()
    assert ref_m.centers.shape == (3, 2) and ref_m.std.shape == (3,) and ref_m.weights.shape == (3,)


def test_gmm_weights_respected() -> None:
    x = make_toy("gmm", 20000, generator=_gen(), **GMM_KW)
    share_right = (x[:, 0] > 0).double().mean().item()
    assert abs(share_right - 0.75) < 0.015


def test_checkerboard_inside_and_uniform() -> None:
    x = make_toy("checkerboard", 5000, generator=_gen())
    assert bool(checkerboard_inside(x).all())
    u = torch.rand(20000, 2, generator=_gen(1)) * 8 - 4
    share = checkerboard_inside(u).double().mean().item()
    assert abs(share - 0.5) < 0.02
    # each of the 8 filled squares gets ~1/8
    cell = torch.floor(x / 2).long() + 2
    counts = torch.bincount(cell[:, 0] * 4 + cell[:, 1], minlength=16)
    assert (counts > 0).sum().item() == 8
    assert ((counts[counts > 0].double() / 5000 - 0.125).abs().max().item()) < 0.02
    assert checkerboard_inside(torch.tensor([[-3.0, -3.0], [-3.0, -1.0], [5.0, 5.0]])).tolist() == [True, False, False]


def test_rings_sizes_and_radii() -> None:
    x = make_toy("rings", 10, generator=_gen(), noise=0.0).double()
    r = x.norm(dim=1)
    radii = torch.tensor([3.0, 2.25, 1.5, 0.75], dtype=torch.float64)
    counts = torch.bincount((r[:, None] - radii).abs().argmin(1), minlength=4).tolist()
    assert counts == [2, 2, 2, 4]  # n // 4 each, remainder to the innermost
    assert torch.allclose((r[:, None] - radii).abs().min(1).values, torch.zeros(10, dtype=torch.float64), atol=1e-12)


def test_circles_and_moons_match_sklearn_definition() -> None:
    from sklearn.datasets import make_circles, make_moons

    n = 20000
    c = make_toy("circles", n, generator=_gen()).double()
    ref_c = torch.from_numpy(make_circles(n, factor=0.5, noise=0.08, random_state=0)[0] * 3)
    m = make_toy("moons", n, generator=_gen()).double()
    ref_m = torch.from_numpy(make_moons(n, noise=0.1, random_state=0)[0] * 2 + np.array([-1.0, -0.2]))
    for ours, ref in ((c, ref_c), (m, ref_m)):
        assert torch.allclose(ours.mean(0), ref.mean(0), atol=0.05)
        assert torch.allclose(ours.std(0), ref.std(0), atol=0.05)
        assert torch.allclose(ours.norm(dim=1).mean(), ref.norm(dim=1).mean(), atol=0.03)


def test_swissroll_matches_sklearn_definition() -> None:
    from sklearn.datasets import make_swiss_roll

    n = 20000
    s = make_toy("swissroll", n, generator=_gen()).double()
    ref = torch.from_numpy(make_swiss_roll(n, noise=1.0, random_state=0)[0][:, [0, 2]] / 5)
    assert torch.allclose(s.mean(0), ref.mean(0), atol=0.05)
    assert torch.allclose(s.std(0), ref.std(0), atol=0.05)


def test_spirals_and_pinwheel_shapes() -> None:
    s = make_toy("2spirals", 20001, generator=_gen()).double()
    assert s.norm(dim=1).max().item() < 4.0
    p = make_toy("pinwheel", 20000, generator=_gen()).double()
    ang = torch.atan2(p[:, 1], p[:, 0])
    # 5 arms: the angular histogram is 5-fold periodic-ish; mean radius ~ 2 * E|f| ~ 2.1
    assert 1.8 < p.norm(dim=1).mean().item() < 2.4
    assert ang.std().item() > 1.0


def test_make_toy_dataset() -> None:
    ds = make_toy_dataset("8gaussians", n_train=500, n_test=200, seed=3)
    assert isinstance(ds, Dataset)
    assert ds.kind == "points" and ds.name == "8gaussians" and len(ds) == 500
    assert ds.test is not None and ds.test.shape == (200, 2)
    assert not torch.equal(ds.x[:200], ds.test)
    assert ds.mixture is not None and ds.mixture.centers.shape == (8, 2)
    assert ds.log_prob is not None and ds.log_prob(ds.test).shape == (200,)
    again = make_toy_dataset("8gaussians", n_train=500, n_test=200, seed=3)
    assert torch.equal(ds.x, again.x) and torch.equal(ds.test, again.test)
    other = make_toy_dataset("8gaussians", n_train=500, n_test=200, seed=4)
    assert not torch.equal(ds.x, other.x)
    r = make_toy_dataset("rings", n_train=100, seed=0)
    assert r.test is None and r.mixture is None and r.log_prob is None
    cdr = make_toy_dataset("8gaussians", n_train=100, seed=0, radius=2.0, std=0.15)
    assert torch.allclose(cdr.mixture.centers.norm(dim=1), torch.full((8,), 2.0))
    cb = make_toy_dataset("checkerboard", n_train=100, n_test=100, seed=0)
    assert torch.allclose(-cb.log_prob(cb.test), torch.full((100,), math.log(32.0)))
    g = make_toy_dataset("gmm", n_train=100, seed=0, **GMM_KW)
    assert torch.allclose(g.mixture.weights, torch.tensor([0.25, 0.75]))


# ---------------------------------------------------------------------------------------------- digits


def test_load_digits_dataset() -> None:
    ds = load_digits_dataset()
    assert ds.x.shape == (1797, 1, 8, 8) and ds.x.dtype == torch.float32
    assert ds.x.min().item() == -1.0 and ds.x.max().item() == 1.0
    assert ds.y is not None and ds.y.dtype == torch.long and ds.y.shape == (1797,)
    assert ds.kind == "image" and ds.num_classes == 10 and ds.test is None
    assert set(ds.y.tolist()) == set(range(10))


def test_digits_split_stratified_deterministic() -> None:
    ds = load_digits_dataset(test_fraction=0.5, seed=0)
    assert len(ds) == 898 and ds.test is not None and ds.test.shape == (899, 1, 8, 8)
    tr, te = digits_split_indices(0.5, 0)
    assert len(set(tr.tolist()) & set(te.tolist())) == 0 and len(tr) + len(te) == 1797
    full = load_digits_dataset()
    assert full.y is not None
    counts_tr = torch.bincount(full.y[tr], minlength=10)
    counts_te = torch.bincount(full.y[te], minlength=10)
    assert (counts_tr - counts_te).abs().max().item() <= 1
    tr2, _ = digits_split_indices(0.5, 0)
    assert np.array_equal(tr, tr2)
    tr3, _ = digits_split_indices(0.5, 1)
    assert not np.array_equal(tr, tr3)
    with pytest.raises(ValueError):
        load_digits_dataset(test_fraction=1.0)


# ---------------------------------------------------------------------------------------------- IDX / CIFAR


def _write_idx(path: Path, arr: np.ndarray, gz: bool = False) -> None:
    code = {np.uint8: 0x08, np.int32: 0x0C}[arr.dtype.type]
    header = bytes([0, 0, code, arr.ndim]) + np.array(arr.shape, dtype=">u4").tobytes()
    body = arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(header + body)
    else:
        path.write_bytes(header + body)


def _fake_mnist(root: Path, folder: str, gz: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=(20,), dtype=np.uint8)
    raw = root / folder / "raw"
    _write_idx(raw / "train-images-idx3-ubyte", imgs, gz)
    _write_idx(raw / "train-labels-idx1-ubyte", labels, gz)
    _write_idx(raw / "t10k-images-idx3-ubyte", imgs[:5], gz)
    _write_idx(raw / "t10k-labels-idx1-ubyte", labels[:5], gz)
    return imgs, labels


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_roundtrip(tmp_path: Path, gz: bool) -> None:
    a = np.arange(24, dtype=np.int32).reshape(2, 3, 4) - 7
    _write_idx(tmp_path / "a", a, gz)
    got = read_idx(tmp_path / ("a.gz" if gz else "a"))
    assert np.array_equal(got, a)
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad")


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_fake_roundtrip(tmp_path: Path, gz: bool) -> None:
    imgs, labels = _fake_mnist(tmp_path, "MNIST", gz)
    ds = load_mnist(tmp_path)
    assert ds.x.shape == (20, 1, 28, 28) and ds.x.dtype == torch.float32
    assert torch.allclose(ds.x, torch.from_numpy(imgs).float().unsqueeze(1) / 127.5 - 1)
    assert ds.y is not None and ds.y.tolist() == labels.tolist()
    assert ds.test is not None and ds.test.shape == (5, 1, 28, 28)
    assert ds.kind == "image" and ds.num_classes == 10 and ds.x.min() >= -1 and ds.x.max() <= 1


def test_fashion_mnist_fake_roundtrip(tmp_path: Path) -> None:
    _fake_mnist(tmp_path, "FashionMNIST", False)
    ds = load_fashion_mnist(tmp_path, with_test=False)
    assert ds.x.shape == (20, 1, 28, 28) and ds.test is None and ds.name == "fashion_mnist"


def test_mnist_missing_file_message(tmp_path: Path) -> None:
    expected = tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte"
    with pytest.raises(FileNotFoundError) as e:
        load_mnist(tmp_path)
    assert str(expected) in str(e.value)
    assert "never downloads" in str(e.value)


def _fake_cifar(root: Path) -> np.ndarray:
    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True)
    rng = np.random.default_rng(0)
    all_data = []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, size=(4, 3072), dtype=np.uint8)
        all_data.append(data)
        with open(base / name, "wb") as f:
            pickle.dump({"data": data, "labels": [1, 2, 3, 4], "batch_label": name}, f)
    return np.concatenate(all_data)


def test_cifar10_fake_roundtrip(tmp_path: Path) -> None:
    data = _fake_cifar(tmp_path)
    ds = load_cifar10(tmp_path)
    assert ds.x.shape == (20, 3, 32, 32) and ds.x.dtype == torch.float32
    expect = torch.from_numpy(data[:20].reshape(-1, 3, 32, 32)).float() / 127.5 - 1
    assert torch.allclose(ds.x, expect)
    assert ds.y is not None and ds.y.tolist() == [1, 2, 3, 4] * 5
    assert ds.test is not None and ds.test.shape == (4, 3, 32, 32)


def test_cifar10_missing_file_message(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as e:
        load_cifar10(tmp_path)
    assert str(tmp_path / "cifar-10-batches-py" / "data_batch_1") in str(e.value)
    assert "never downloads" in str(e.value)


def test_import_does_not_pull_optional_deps() -> None:
    code = (
        "import sys, ebmcore.data, ebmcore.metrics;"
        "bad=[m for m in ('torchvision','cleanfid','sklearn') if m in sys.modules];"
        "assert not bad, bad"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
