"""Tests of ebmcore.metrics: sample distances, mode statistics, grid NLL, DigitsFID, Inception FID path."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from ebmcore.data import (
    Dataset,
    GaussianMixture,
    load_digits_dataset,
    make_toy,
    make_toy_dataset,
    toy_mixture,
)
from ebmcore.metrics import (
    JudgeIntegrityError,
    checkerboard_share,
    digits_fid,
    energy_distance,
    evaluate_samples,
    feature_statistics,
    frechet_distance,
    grid_log_normalizer,
    grid_mode_weights,
    grid_nll,
    inception_fid,
    load_digits_judge,
    mmd2,
    mode_statistics,
    sliced_wasserstein,
)
from ebmcore.metrics.fid import JUDGE_DIR

torch.set_num_threads(1)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _eight(n: int, seed: int) -> torch.Tensor:
    return make_toy("8gaussians", n, generator=_gen(seed))


def _drop_modes(n: int, seed: int, keep: int = 6) -> torch.Tensor:
    gm = toy_mixture("8gaussians")
    return GaussianMixture(gm.centers[:keep], gm.std[:keep]).sample(n, _gen(seed))


# ---------------------------------------------------------------------------------------------- distances


def test_two_sample_distances_same_vs_different() -> None:
    a, b = _eight(800, 1), _eight(800, 2)
    c = _drop_modes(800, 3)
    same = [float(mmd2(a, b)), float(energy_distance(a, b)), float(sliced_wasserstein(a, b, generator=_gen()))]
    diff = [float(mmd2(a, c)), float(energy_distance(a, c)), float(sliced_wasserstein(a, c, generator=_gen()))]
    assert abs(same[0]) < 0.01 and abs(same[1]) < 0.03 and same[2] < 0.25
    assert diff[0] > 0.05 and diff[1] > 0.1 and diff[2] > 0.4
    assert diff[0] > 5 * abs(same[0]) and diff[1] > 5 * abs(same[1])
    assert diff[2] > 3 * same[2]  # SW is a (positively biased) distance, not an unbiased estimate


def test_distances_keep_dtype_and_symmetry() -> None:
    a, b = _eight(200, 1).double(), _drop_modes(150, 2).double()
    for fn in (mmd2, energy_distance):
        v = fn(a, b)
        assert v.dtype == torch.float64 and v.ndim == 0
        assert torch.allclose(v, fn(b, a))
    sw = sliced_wasserstein(a, b, generator=_gen())
    assert sw.dtype == torch.float64
    assert torch.equal(sw, sliced_wasserstein(a, b, generator=_gen()))
    with pytest.raises(ValueError):
        mmd2(a, b.float())


def test_mmd_matches_bruteforce() -> None:
    x = torch.randn(6, 2, generator=_gen(), dtype=torch.float64)
    y = torch.randn(5, 2, generator=_gen(1), dtype=torch.float64) + 1
    z = torch.cat([x, y])
    d = torch.cdist(z, z)
    med = d[~torch.eye(11, dtype=torch.bool)].median()
    mult = (0.5, 2.0)

    def k(p: torch.Tensor, q: torch.Tensor) -> float:
        r = float((p - q).norm())
        return sum(math.exp(-(r**2) / (2 * (m * med) ** 2)) for m in mult)

    kxx = sum(k(x[i], x[j]) for i in range(6) for j in range(6) if i != j) / 30
    kyy = sum(k(y[i], y[j]) for i in range(5) for j in range(5) if i != j) / 20
    kxy = sum(k(x[i], y[j]) for i in range(6) for j in range(5)) / 30
    assert math.isclose(float(mmd2(x, y, multipliers=mult)), kxx + kyy - 2 * kxy, rel_tol=1e-9)


def test_sliced_wasserstein_unequal_sizes_exact_1d() -> None:
    x = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    y = torch.tensor([[0.0], [0.0], [1.0]], dtype=torch.float64)
    # quantile functions differ by 1 on [1/2, 2/3): W2^2 = 1/6 in every direction (+-1 in 1-D)
    assert math.isclose(float(sliced_wasserstein(x, y, n_projections=7, generator=_gen())), math.sqrt(1 / 6), rel_tol=1e-12)


# ---------------------------------------------------------------------------------------------- modes


def test_mode_statistics_good_samples() -> None:
    mix = make_toy_dataset("8gaussians", n_train=10, seed=0).mixture
    assert mix is not None
    ms = mode_statistics(_eight(4000, 1), mix)
    assert ms.modes_covered == 8 and ms.n_modes == 8
    assert abs(ms.share_within_3std - (1 - math.exp(-4.5))) < 0.01
    assert ms.weight_tv < 0.05 and ms.weight_kl < 0.01
    assert ms.modes_with_share_above(0.02) == 8
    assert int(ms.counts.sum()) == round(ms.share_within_3std * 4000)
    assert torch.allclose(ms.share_per_mode.sum(), torch.tensor(ms.share_within_3std))


def test_mode_statistics_detects_dropped_and_reweighted_modes() -> None:
    mix = toy_mixture("8gaussians").reference()
    dropped = mode_statistics(_drop_modes(4000, 2), mix)
    assert dropped.modes_covered == 6 and dropped.modes_with_share_above(0.02) == 6
    assert abs(dropped.weight_tv - 0.25) < 0.03
    assert dropped.covered.tolist() == [True] * 6 + [False] * 2
    gm = toy_mixture("8gaussians")
    heavy = GaussianMixture(gm.centers, gm.std, [3, 1] * 4).sample(4000, _gen(3))
    rw = mode_statistics(heavy, mix)
    assert rw.modes_covered == 8 and abs(rw.weight_tv - 0.25) < 0.03 and rw.weight_kl > 0.1
    # a nearly-dropped mode (1 % of its share) is not covered under the 25 % fair-share rule
    w = torch.ones(8)
    w[0] = 0.01
    sparse = mode_statistics(GaussianMixture(gm.centers, gm.std, w).sample(4000, _gen(4)), mix)
    assert sparse.modes_covered == 7 and not bool(sparse.covered[0])
    noise = mode_statistics(torch.rand(2000, 2, generator=_gen()) * 12 - 6, mix)
    assert noise.share_within_3std < 0.5
    bad = _eight(100, 5)
    bad[:10] = float("nan")
    assert mode_statistics(bad, mix).share_within_3std <= 0.9


def test_checkerboard_share() -> None:
    assert checkerboard_share(make_toy("checkerboard", 500, generator=_gen())) == 1.0
    u = torch.rand(4000, 2, generator=_gen()) * 8 - 4
    assert abs(checkerboard_share(u) - 0.5) < 0.03


# ---------------------------------------------------------------------------------------------- grid


def test_grid_log_normalizer_exact_and_nll() -> None:
    gm = toy_mixture("8gaussians")

    def energy(x: torch.Tensor) -> torch.Tensor:
        return -gm.log_prob(x) + 3.7

    log_z = grid_log_normalizer(energy, n_grid=200)
    assert log_z.dtype == torch.float64
    assert abs(float(log_z) + 3.7) < 1e-3
    test = make_toy_dataset("8gaussians", n_train=1, n_test=1000, seed=0).test
    assert test is not None
    true_nll = float(-gm.log_prob(test.double()).mean())
    assert abs(grid_nll(energy, test, n_grid=200, dtype=torch.float64) - true_nll) < 1e-4


class _ModuleEnergy(nn.Module):
    """A float64 nn.Module energy with a condition ``t`` that shifts the energy (log Z shifts by -t)."""

    def __init__(self, gm: GaussianMixture) -> None:
        super().__init__()
        self.gm = gm
        self.offset = nn.Parameter(torch.tensor(1.5, dtype=torch.float64))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        assert x.dtype == torch.float64 and t.shape == (x.shape[0],)
        return -self.gm.log_prob(x) + self.offset + t


def test_grid_infers_module_dtype_and_expands_cond() -> None:
    e = _ModuleEnergy(toy_mixture("8gaussians"))
    log_z = grid_log_normalizer(e, n_grid=150, cond={"t": torch.tensor([0.5], dtype=torch.float64)})
    assert abs(float(log_z) + 2.0) < 1e-3
    with pytest.raises(ValueError, match="leading dimension 1"):
        grid_log_normalizer(e, n_grid=10, cond={"t": torch.zeros(2, dtype=torch.float64)})


def test_grid_mode_weights() -> None:
    gm = GaussianMixture([[-2.0, 0.0], [2.0, 0.0], [0.0, 3.0]], 0.5, [0.2, 0.3, 0.5])
    w = grid_mode_weights(lambda x: -gm.log_prob(x), gm.reference(), n_grid=200)
    assert w.shape == (3,) and w.dtype == torch.float64
    assert torch.allclose(w, torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64), atol=1e-3)


# ---------------------------------------------------------------------------------------------- FID


def test_frechet_distance_matches_scipy() -> None:
    from scipy import linalg

    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 16))
    b = rng.normal(size=(150, 16)) @ rng.normal(size=(16, 16)) * 0.5 + 0.3
    m1, s1 = a.mean(0), np.cov(a, rowvar=False)
    m2, s2 = b.mean(0), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    ref = float(((m1 - m2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))
    assert math.isclose(frechet_distance(m1, s1, m2, s2), ref, rel_tol=1e-8)
    assert abs(frechet_distance(m1, s1, m1, s1)) < 1e-8
    mt, st = feature_statistics(torch.from_numpy(a))
    assert np.allclose(mt.numpy(), m1) and np.allclose(st.numpy(), s1)


def test_judge_loads_and_classifies_heldout() -> None:
    b = load_digits_judge()
    assert b is load_digits_judge()  # cached
    manifest = json.loads((JUDGE_DIR / "MANIFEST.json").read_text())
    assert b.mu.shape == (64,) and b.sigma.shape == (64, 64) and b.mu.dtype == torch.float64
    assert sum(p.numel() for p in b.judge.parameters()) == 85066
    ds = load_digits_dataset(test_fraction=0.5, seed=0)
    full = load_digits_dataset()
    from ebmcore.data import digits_split_indices

    _, te = digits_split_indices(0.5, 0)
    assert full.y is not None and ds.test is not None
    with torch.no_grad():
        acc = float((b.judge(ds.test).argmax(1) == full.y[te]).float().mean())
    assert acc > 0.97
    assert abs(acc - manifest["accuracy"]["heldout_H2"]) < 1e-6
    for f in JUDGE_DIR.iterdir():
        assert f.stat().st_size < 1_000_000


def test_digits_fid_real_near_floor_and_noise_far() -> None:
    ds = load_digits_dataset(test_fraction=0.5, seed=0)  # x = H1: real digits the reference never saw
    b = load_digits_judge()
    full = digits_fid(ds.x)
    assert full.n == 898 and full.floor_n == 898
    assert abs(full.fid - full.floor) < 1e-3  # the floor at 898 is exactly H1 vs the reference
    sub = ds.x[torch.randperm(898, generator=_gen())[:500]]
    r = digits_fid(sub)
    i = int((b.floor_n == 500).nonzero())
    assert r.floor_n == 500 and abs(r.fid - r.floor) < 5 * float(b.floor_std[i])
    assert r.class_tv < 0.1 and r.confidence > 0.95
    noise = digits_fid(torch.rand(500, 1, 8, 8, generator=_gen()) * 2 - 1)
    assert noise.fid > 50 * r.floor
    assert len(noise.class_histogram) == 10
    full_y = load_digits_dataset(test_fraction=0.5, seed=0).y
    assert full_y is not None
    dropped = digits_fid(ds.x[full_y < 5])
    assert dropped.fid > 20 * dropped.floor and abs(dropped.class_tv - 0.5) < 0.05
    with pytest.raises(ValueError, match="non-finite"):
        digits_fid(torch.full((10, 1, 8, 8), float("nan")))


def test_judge_sha_mismatch_raises(tmp_path: Path) -> None:
    d = tmp_path / "judge"
    shutil.copytree(JUDGE_DIR, d)
    load_digits_judge(d)  # intact copy loads
    w = d / "digits_judge.safetensors"
    data = bytearray(w.read_bytes())
    data[-1] ^= 0x01
    w.write_bytes(bytes(data))
    with pytest.raises(JudgeIntegrityError, match="sha256 mismatch"):
        load_digits_judge(d)
    (d / "MANIFEST.json").unlink()
    with pytest.raises(JudgeIntegrityError, match="missing"):
        load_digits_judge(d)


class _StandIn:
    """A fixed random linear feature extractor on (B, 3, 16, 16) images in [0, 255]."""

    def __init__(self) -> None:
        self.w = torch.randn(3 * 16 * 16, 12, generator=_gen(7)) / 30
        self.calls = 0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[1:] == (3, 16, 16) and x.dtype == torch.float32
        assert x.min() >= 0 and x.max() <= 255
        self.calls += 1
        return x.reshape(x.shape[0], -1) @ self.w


def test_inception_fid_with_stand_in_extractor() -> None:
    from cleanfid.resize import make_resizer

    ds = load_digits_dataset(test_fraction=0.5, seed=0)
    assert ds.test is not None
    a, b = ds.x[:60], ds.test[:70]
    fe = _StandIn()
    got = inception_fid(a, b, feature_extractor=fe, resize=16, batch_size=25)
    assert fe.calls == 3 + 3
    resizer = make_resizer("PIL", False, "bicubic", (16, 16))

    def feats(x: torch.Tensor) -> torch.Tensor:
        imgs = ((x + 1) * 127.5).clamp(0, 255).expand(-1, 3, -1, -1).permute(0, 2, 3, 1).numpy()
        t = torch.stack([torch.from_numpy(resizer(i).transpose(2, 0, 1).copy()) for i in imgs])
        return fe(t.float()).double()

    m1, s1 = feature_statistics(feats(a))
    m2, s2 = feature_statistics(feats(b))
    assert math.isclose(got, frechet_distance(m1, s1, m2, s2), rel_tol=1e-9)
    noise = inception_fid(torch.rand(60, 1, 8, 8) * 2 - 1, b, feature_extractor=_StandIn(), resize=16)
    assert noise > got


def test_inception_fid_clean_resize_feeds_299() -> None:
    seen = []

    def fe(x: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(x.shape))
        return x.mean(dim=(2, 3)) + torch.arange(x.shape[0], dtype=x.dtype)[:, None]

    x = torch.rand(3, 1, 8, 8, generator=_gen()) * 2 - 1
    assert math.isfinite(inception_fid(x, x.flip(0), feature_extractor=fe))
    assert seen == [(3, 3, 299, 299), (3, 3, 299, 299)]


class _FakeInceptionLayers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, 2048, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(nn.functional.adaptive_avg_pool2d(x, 1))


class _FakeInception(nn.Module):
    """Stands in for NVIDIA's TorchScript file: a ``.layers`` submodule giving (B, 2048, 1, 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = _FakeInceptionLayers()

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        return self.layers(x)


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_inception_fid_local_weights_file_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import cleanfid.inception_torchscript as its

    def no_download(*a: object, **k: object) -> None:
        raise AssertionError("must not download")

    monkeypatch.setattr(its, "check_download_inception", no_download)
    torch.manual_seed(0)
    torch.jit.script(_FakeInception()).save(str(tmp_path / "inception-2015-12-05.pt"))
    x = torch.rand(3, 1, 8, 8, generator=_gen()) * 2 - 1
    y = torch.rand(4, 3, 8, 8, generator=_gen(1)) * 2 - 1
    by_dir = inception_fid(x, y, weights_path=tmp_path)
    by_file = inception_fid(x, y, weights_path=tmp_path / "inception-2015-12-05.pt")
    assert math.isfinite(by_dir) and by_dir == by_file


def test_inception_fid_needs_local_weights(tmp_path: Path) -> None:
    x = torch.zeros(4, 3, 8, 8)
    with pytest.raises(FileNotFoundError, match="inception-2015-12-05.pt"):
        inception_fid(x, x, weights_path=tmp_path)
    with pytest.raises(FileNotFoundError, match="never downloads"):
        inception_fid(x, x, weights_path=tmp_path / "inception-2015-12-05.pt")
    with pytest.raises(ValueError, match="weights_path"):
        inception_fid(x, x)
    with pytest.raises(FileNotFoundError, match="inception-2015-12-05.pt"):
        inception_fid(x, x, weights_path=tmp_path / "missing" / "other.pt")
    (tmp_path / "other.pt").write_bytes(b"not inception")
    with pytest.raises(ValueError, match="directory holding"):
        inception_fid(x, x, weights_path=tmp_path / "other.pt")


# ---------------------------------------------------------------------------------------------- evaluate


def test_evaluate_points_mixture_with_energy() -> None:
    ds = make_toy_dataset("8gaussians", n_train=1000, n_test=600, seed=0)
    gm = toy_mixture("8gaussians")
    s = _eight(600, 9)
    s[:3] = float("inf")
    out = evaluate_samples(ds, s, energy_fn=lambda x: -gm.log_prob(x), max_points=500, grid_kw={"n_grid": 150})
    assert out["count_nonfinite"] == 3 and out["n_evaluated"] == 500
    for key in ("mmd2", "energy_distance", "sliced_wasserstein", "modes_covered", "n_modes", "share_within_3std",
                "weight_kl", "weight_tv", "modes_share_gt_2pct", "nll_grid", "nll_true"):
        assert key in out and math.isfinite(out[key]), key
    assert out["modes_covered"] == 8 and out["modes_share_gt_2pct"] == 8
    assert abs(out["nll_grid"] - out["nll_true"]) < 1e-3
    assert evaluate_samples(ds, s, max_points=500) == evaluate_samples(ds, s, max_points=500)  # deterministic


def test_evaluate_reports_the_worst_sample_mode_weight_error() -> None:
    ds = make_toy_dataset("gmm", n_train=200, n_test=200, seed=0, centers=[[-3.0, 0.0], [3.0, 0.0]],
                          weights=[0.2, 0.8], std=0.5)
    s = torch.tensor([[-3.0, 0.0]] * 50 + [[3.0, 0.0]] * 50)  # shares 0.5 / 0.5 against 0.2 / 0.8
    out = evaluate_samples(ds, s)
    assert out["weight_max_abs_error"] == pytest.approx(0.3, abs=1e-6)
    far = evaluate_samples(ds, torch.full((10, 2), 50.0))  # no sample near any mode: the worst error is 1
    assert far["weight_max_abs_error"] == 1.0


def test_evaluate_checkerboard_and_dropped() -> None:
    cb = make_toy_dataset("checkerboard", n_train=500, n_test=500, seed=0)
    out = evaluate_samples(cb, make_toy("checkerboard", 500, generator=_gen()))
    assert out["checkerboard_share"] == 1.0 and "modes_covered" not in out
    ds = make_toy_dataset("8gaussians", n_train=500, n_test=500, seed=0)
    bad = evaluate_samples(ds, _drop_modes(500, 1))
    good = evaluate_samples(ds, _eight(500, 1))
    assert bad["modes_covered"] == 6 and good["modes_covered"] == 8 and bad["mmd2"] > 5 * abs(good["mmd2"])


def test_evaluate_images() -> None:
    dg = load_digits_dataset(test_fraction=0.5, seed=0)
    out = evaluate_samples(dg, dg.x[:400])
    assert set(out) >= {"digits_fid", "digits_fid_floor", "digits_fid_floor_n", "class_tv", "confidence"}
    assert out["digits_fid_floor_n"] == 400 and out["digits_fid"] < 4 * out["digits_fid_floor"]
    shares = [out[f"class_share_{k}"] for k in range(10)]
    assert sum(shares) == pytest.approx(1.0) and max(shares) == out["class_share_max"]
    assert all(0.05 < s < 0.15 for s in shares)  # real digits: every class about a tenth


def test_evaluate_other_images() -> None:
    x = torch.rand(30, 3, 4, 4, generator=_gen()) * 2 - 1
    ds = Dataset(x=x, kind="image", test=torch.rand(30, 3, 4, 4, generator=_gen(1)) * 2 - 1)
    out = evaluate_samples(ds, torch.rand(20, 3, 4, 4, generator=_gen(2)) * 2 - 1)
    assert set(out) == {"count_nonfinite", "n_evaluated", "mmd2"} and abs(out["mmd2"]) < 0.1


def test_grid_sample_draws_from_the_normalised_density() -> None:
    from ebmcore.components.samplers import GridSampler
    from ebmcore.metrics.grid import grid_sample

    torch.manual_seed(0)
    mean = torch.tensor([1.0, -0.5])

    def energy(x: torch.Tensor) -> torch.Tensor:  # N(mean, diag(0.5², 1))
        return 0.5 * (((x - mean) / torch.tensor([0.5, 1.0])) ** 2).sum(1)

    x = grid_sample(energy, 20000, box=(-6.0, 6.0), n_grid=300)
    assert x.shape == (20000, 2)
    torch.testing.assert_close(x.mean(0), mean, atol=0.03, rtol=0)
    torch.testing.assert_close(x.std(0), torch.tensor([0.5, 1.0]), atol=0.03, rtol=0)
    with pytest.raises(ValueError, match="2-D"):
        GridSampler().sample(energy, torch.zeros(4, 3))
