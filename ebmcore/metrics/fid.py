r"""Fréchet distances: the offline DigitsFID for 8x8 digits and Inception FID from a local weights file.

FID (Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium",
NeurIPS 2017) is the Fréchet distance between Gaussians fitted to network features of two image sets:
:math:`\lVert\mu_1-\mu_2\rVert^2 + \mathrm{tr}(\Sigma_1 + \Sigma_2 - 2(\Sigma_1\Sigma_2)^{1/2})`.

**DigitsFID.** Inception features mean little on 8x8 grey digits, and the Inception weights cannot be
shipped. ebmcore therefore ships a small frozen CNN judge (:class:`DigitsJudge`, trained by
``scripts/train_digits_judge.py`` on the stratified half H1 of scikit-learn's digits) and the mean and
covariance of its 64-d penultimate pre-activation features on the other half H2 (899 images, never seen by
the judge). :func:`digits_fid` compares samples with that reference and also reports the real-data floor:
the FID that N *real* digits get (N drawn from H1, which the reference never saw), tabulated for several
N, because FID is strongly biased upward at small N. Always report DigitsFID at a fixed N next to the
floor at that N. The shipped files are verified against ``judge/MANIFEST.json`` (sha256) on load.

**Inception FID.** :func:`inception_fid` uses clean-fid's building blocks (its "clean" PIL-bicubic
resizer and ``InceptionV3W``) with a weights file that you provide; nothing is ever downloaded.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
from collections.abc import Callable
from pathlib import Path

import attrs
import numpy as np
import torch
from torch import Tensor, nn

__all__ = [
    "INCEPTION_WEIGHTS_NAME",
    "JUDGE_DIR",
    "DigitsJudge",
    "DigitsJudgeBundle",
    "FIDResult",
    "JudgeIntegrityError",
    "digits_fid",
    "feature_statistics",
    "frechet_distance",
    "inception_fid",
    "load_digits_judge",
]

#: Directory of the shipped judge files.
JUDGE_DIR = Path(__file__).resolve().parent / "judge"
JUDGE_WEIGHTS = "digits_judge.safetensors"
JUDGE_REFERENCE = "digits_reference.safetensors"
JUDGE_MANIFEST = "MANIFEST.json"
#: File name of NVIDIA's TorchScript Inception used by clean-fid / StyleGAN2-ADA.
INCEPTION_WEIGHTS_NAME = "inception-2015-12-05.pt"


# --------------------------------------------------------------------------------------------------
# Fréchet distance
# --------------------------------------------------------------------------------------------------


def _f64(a: Tensor | np.ndarray) -> Tensor:
    if isinstance(a, np.ndarray):
        return torch.from_numpy(np.asarray(a, dtype=np.float64))
    return a.detach().to(device="cpu", dtype=torch.float64)


def _psd_sqrt(s: Tensor) -> Tensor:
    evals, evecs = torch.linalg.eigh(0.5 * (s + s.T))
    return (evecs * evals.clamp_min(0.0).sqrt()) @ evecs.T


def frechet_distance(
    mu1: Tensor | np.ndarray, sigma1: Tensor | np.ndarray, mu2: Tensor | np.ndarray, sigma2: Tensor | np.ndarray
) -> float:
    r"""Fréchet distance between :math:`N(\mu_1, \Sigma_1)` and :math:`N(\mu_2, \Sigma_2)`, in float64 on CPU.

    :math:`\mathrm{tr}(\Sigma_1\Sigma_2)^{1/2}` is computed as :math:`\sum_i \sqrt{\lambda_i}` with
    :math:`\lambda_i` the eigenvalues of the symmetric PSD matrix :math:`\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2}`
    (same spectrum as :math:`\Sigma_1\Sigma_2`), so no complex arithmetic or imaginary residue arises;
    eigenvalues below 0 from round-off are clamped to 0. Agrees with ``scipy.linalg.sqrtm`` to round-off.

    Arguments:
        mu1, mu2: ``(D,)`` means (tensors or numpy arrays).
        sigma1, sigma2: ``(D, D)`` covariances (tensors or numpy arrays).

    Returns:
        The distance (a float, ``>= 0`` up to round-off).

    Raises:
        ValueError: the shapes do not fit together.

    Examples:
        For equal covariances only the means count, :math:`\lVert\mu_1-\mu_2\rVert^2`; for
        :math:`\Sigma_1 = I, \Sigma_2 = 4I` in 2-D the covariance term is :math:`2 (1 + 4 - 2 \cdot 2) = 2`:

        >>> import torch
        >>> from ebmcore.metrics import frechet_distance
        >>> eye = torch.eye(2)
        >>> frechet_distance(torch.zeros(2), eye, torch.tensor([3.0, 4.0]), eye)
        25.0
        >>> frechet_distance(torch.zeros(2), eye, torch.zeros(2), 4 * eye)
        2.0
    """
    m1, m2, s1, s2 = _f64(mu1), _f64(mu2), _f64(sigma1), _f64(sigma2)
    if m1.shape != m2.shape or s1.shape != s2.shape or s1.shape != (m1.shape[0], m1.shape[0]):
        raise ValueError(f"shape mismatch: mu {tuple(m1.shape)}/{tuple(m2.shape)}, sigma {tuple(s1.shape)}/{tuple(s2.shape)}")
    r1 = _psd_sqrt(s1)
    m = r1 @ s2 @ r1
    tr_covmean = torch.linalg.eigvalsh(0.5 * (m + m.T)).clamp_min(0.0).sqrt().sum()
    diff = m1 - m2
    return float(diff @ diff + s1.trace() + s2.trace() - 2.0 * tr_covmean)


def feature_statistics(features: Tensor | np.ndarray) -> tuple[Tensor, Tensor]:
    """Mean ``(D,)`` and unbiased covariance ``(D, D)`` (divisor ``N - 1``) of ``(N, D)`` features, float64 CPU.

    Arguments:
        features: ``(N, D)`` features, ``N >= 2`` (tensor or numpy array).

    Returns:
        ``(mu, sigma)``: ``(D,)`` and ``(D, D)`` float64 CPU tensors.

    Examples:
        Feature statistics of two sets, then their Fréchet distance (0 for the same set):

        >>> import torch
        >>> from ebmcore.metrics import feature_statistics, frechet_distance
        >>> mu, sigma = feature_statistics(torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]]))
        >>> mu.tolist(), [[round(v, 4) for v in row] for row in sigma.tolist()]
        ([1.0, 1.0], [[1.3333, 0.0], [0.0, 1.3333]])
        >>> feats = torch.randn(50, 3)
        >>> abs(frechet_distance(*feature_statistics(feats), *feature_statistics(feats))) < 1e-9
        True
    """
    f = _f64(features)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"features must be (N >= 2, D), got {tuple(f.shape)}")
    mu = f.mean(0)
    fc = f - mu
    return mu, fc.T @ fc / (f.shape[0] - 1)


# --------------------------------------------------------------------------------------------------
# The digits judge
# --------------------------------------------------------------------------------------------------


class DigitsJudge(nn.Module):
    """Small CNN classifier for 8x8 digits in ``[-1, 1]``, the feature network of DigitsFID.

    ``conv3x3(1->32) -> ReLU -> conv3x3(32->64) -> ReLU -> maxpool2 -> flatten(1024) -> fc(1024->64)
    -> [features] -> ReLU -> fc(64->10)``; 85,066 parameters. :meth:`features` is the 64-d penultimate
    *pre-activation* (post-ReLU features have dead units, which makes their covariance singular).

    Examples:
        An untrained judge (the trained one comes from :func:`load_digits_judge`):

        >>> import torch
        >>> from ebmcore.metrics import DigitsJudge
        >>> judge = DigitsJudge()
        >>> x = torch.zeros(4, 1, 8, 8)
        >>> tuple(judge(x).shape), tuple(judge.features(x).shape), sum(p.numel() for p in judge.parameters())
        ((4, 10), (4, 64), 85066)
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 4 * 4, 64)
        self.fc2 = nn.Linear(64, 10)

    def features(self, x: Tensor) -> Tensor:
        """``(B, 1, 8, 8)`` (or ``(B, 64)``) in ``[-1, 1]`` -> ``(B, 64)`` penultimate pre-activation."""
        x = x.reshape(x.shape[0], 1, 8, 8)
        h = torch.relu(self.conv1(x))
        h = torch.relu(self.conv2(h))
        h = nn.functional.max_pool2d(h, 2)
        return self.fc1(h.flatten(1))

    def forward(self, x: Tensor) -> Tensor:
        """Class logits ``(B, 10)``."""
        return self.fc2(torch.relu(self.features(x)))


class JudgeIntegrityError(RuntimeError):
    """A shipped judge file is missing or does not match the sha256 recorded in ``MANIFEST.json``.

    Examples:
        >>> import tempfile
        >>> from ebmcore.metrics import JudgeIntegrityError, load_digits_judge
        >>> with tempfile.TemporaryDirectory() as tmp:  # a folder without the judge's files
        ...     try:
        ...         load_digits_judge(tmp)
        ...     except JudgeIntegrityError as err:
        ...         print(str(err).split(";")[0].endswith("MANIFEST.json"))
        True
    """


@attrs.frozen(eq=False)
class DigitsJudgeBundle:
    """The loaded, verified DigitsFID assets.

    Attributes:
        judge: the frozen :class:`DigitsJudge` (eval mode, CPU, float32, no grad).
        mu: ``(64,)`` float64 reference feature mean (held-out half H2, 899 images).
        sigma: ``(64, 64)`` float64 reference feature covariance.
        floor_n: ``(T,)`` long, sample sizes at which the floor was tabulated.
        floor_mean, floor_std: ``(T,)`` float64, mean and standard deviation over random subsets of H1 of
            FID(N real digits, reference).
        manifest: the parsed ``MANIFEST.json``.

    Examples:
        >>> from ebmcore.metrics import load_digits_judge
        >>> bundle = load_digits_judge()
        >>> tuple(bundle.mu.shape), tuple(bundle.sigma.shape), bundle.judge.training
        ((64,), (64, 64), False)
        >>> floor, n_tabulated = bundle.floor_at(250)  # the floor at the tabulated N nearest to 250
        >>> n_tabulated in bundle.floor_n.tolist(), floor > 0
        (True, True)
    """

    judge: DigitsJudge
    mu: Tensor
    sigma: Tensor
    floor_n: Tensor
    floor_mean: Tensor
    floor_std: Tensor
    manifest: dict

    def floor_at(self, n: int) -> tuple[float, int]:
        """``(floor, n_tabulated)``: the floor at the tabulated sample size nearest to ``n``."""
        i = int((self.floor_n - n).abs().argmin())
        return float(self.floor_mean[i]), int(self.floor_n[i])


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_judge_files(directory: Path) -> dict:
    """Check every file listed in ``directory/MANIFEST.json`` against its sha256; return the manifest."""
    mpath = directory / JUDGE_MANIFEST
    if not mpath.is_file():
        raise JudgeIntegrityError(f"missing {mpath}; reinstall ebmcore or rerun scripts/train_digits_judge.py")
    manifest = json.loads(mpath.read_text())
    for name in (JUDGE_WEIGHTS, JUDGE_REFERENCE):
        entry = manifest.get("files", {}).get(name)
        path = directory / name
        if entry is None:
            raise JudgeIntegrityError(f"{mpath} lists no sha256 for {name}")
        if not path.is_file():
            raise JudgeIntegrityError(f"missing judge file {path}")
        got = _sha256(path)
        if got != entry["sha256"]:
            raise JudgeIntegrityError(
                f"sha256 mismatch for {path}: file has {got}, {mpath} expects {entry['sha256']}. "
                "The shipped DigitsFID judge was modified; DigitsFID numbers would not be comparable."
            )
    return manifest


@functools.lru_cache(maxsize=4)
def _load_bundle(directory: str, hashes: tuple[str, ...]) -> DigitsJudgeBundle:
    from safetensors.torch import load_file

    d = Path(directory)
    manifest = json.loads((d / JUDGE_MANIFEST).read_text())
    judge = DigitsJudge()
    judge.load_state_dict(load_file(str(d / JUDGE_WEIGHTS)))
    judge.eval().requires_grad_(False)
    ref = load_file(str(d / JUDGE_REFERENCE))
    return DigitsJudgeBundle(
        judge=judge,
        mu=ref["mu"].to(torch.float64),
        sigma=ref["sigma"].to(torch.float64),
        floor_n=ref["floor_n"].to(torch.long),
        floor_mean=ref["floor_mean"].to(torch.float64),
        floor_std=ref["floor_std"].to(torch.float64),
        manifest=manifest,
    )


def load_digits_judge(directory: str | os.PathLike[str] | None = None) -> DigitsJudgeBundle:
    """Load the DigitsFID judge and reference from ``directory`` (default: the shipped :data:`JUDGE_DIR`).

    On every call the sha256 of each file is checked against ``MANIFEST.json`` (raises
    :class:`JudgeIntegrityError` on any mismatch or missing file; hashing the ~375 KB takes about a
    millisecond); the files are read with safetensors (no pickle). The loaded bundle is cached per
    directory and file hashes.

    Arguments:
        directory: folder holding ``MANIFEST.json``, ``digits_judge.safetensors`` and
            ``digits_reference.safetensors``; ``None`` for the shipped judge.

    Returns:
        The verified :class:`DigitsJudgeBundle` (the judge frozen, in eval mode, on the CPU).

    Raises:
        JudgeIntegrityError: a file is missing or its sha256 differs from the manifest.

    Examples:
        >>> from ebmcore.metrics import load_digits_judge
        >>> bundle = load_digits_judge()
        >>> bundle is load_digits_judge(), sorted(bundle.manifest["files"])  # cached; what was verified
        (True, ['digits_judge.safetensors', 'digits_reference.safetensors'])
    """
    d = (Path(directory) if directory is not None else JUDGE_DIR).resolve()
    manifest = verify_judge_files(d)
    hashes = tuple(manifest["files"][name]["sha256"] for name in (JUDGE_WEIGHTS, JUDGE_REFERENCE))
    return _load_bundle(str(d), hashes)


# --------------------------------------------------------------------------------------------------
# DigitsFID
# --------------------------------------------------------------------------------------------------


@attrs.frozen
class FIDResult:
    """Result of :func:`digits_fid`.

    Attributes:
        fid: DigitsFID of the samples against the shipped reference.
        n: number of samples used.
        floor: FID of ``floor_n`` real held-out digits against the reference (mean over random subsets):
            the best value a perfect sampler can expect at that sample size.
        floor_n: the tabulated sample size nearest to ``n`` at which ``floor`` was measured.
        class_tv: total-variation distance between the histogram of the judge's predicted classes and
            uniform (0 = all ten digits equally often, 0.9 = a single digit).
        confidence: mean max-softmax probability of the judge on the samples.
        class_histogram: ``(10,)`` predicted-class frequencies.

    Examples:
        >>> from ebmcore.data import load_digits_dataset
        >>> from ebmcore.metrics import digits_fid
        >>> result = digits_fid(load_digits_dataset().x[:300])  # 300 real digits
        >>> result.n, result.floor_n, len(result.class_histogram), round(sum(result.class_histogram), 6)
        (300, 300, 10, 1.0)
        >>> result.class_tv < 0.1, result.confidence > 0.9
        (True, True)
    """

    fid: float
    n: int
    floor: float
    floor_n: int
    class_tv: float
    confidence: float
    class_histogram: tuple[float, ...]


@torch.no_grad()
def digits_judge_outputs(
    samples: Tensor, *, bundle: DigitsJudgeBundle | None = None, batch_size: int = 1024
) -> tuple[Tensor, Tensor]:
    """``(features (N, 64), logits (N, 10))`` of the judge on ``samples`` ``(N, 1, 8, 8)`` or ``(N, 64)``
    in ``[-1, 1]``. Computed on CPU in float32 (the judge is tiny; this keeps the metric device-independent)."""
    b = bundle or load_digits_judge()
    x = samples.detach().to(device="cpu", dtype=torch.float32).reshape(samples.shape[0], 1, 8, 8)
    feats, logits = [], []
    for i in range(0, x.shape[0], batch_size):
        f = b.judge.features(x[i : i + batch_size])
        feats.append(f)
        logits.append(b.judge.fc2(torch.relu(f)))
    return torch.cat(feats), torch.cat(logits)


def digits_fid(samples: Tensor, *, bundle: DigitsJudgeBundle | None = None) -> FIDResult:
    """DigitsFID of ``samples`` (``(N, 1, 8, 8)`` or ``(N, 64)``, ``[-1, 1]`` scale like
    :func:`~ebmcore.data.images.load_digits_dataset`) against the shipped reference, with the floor.

    Samples are not clipped. Use the same N for every method you compare (898 is the largest N with a
    measured floor); the floor at the nearest tabulated N is returned and ``floor_n`` says which.

    Arguments:
        samples: ``(N, 1, 8, 8)`` or ``(N, 64)`` samples, ``N >= 2``, finite.
        bundle: the judge and reference (``None``: the shipped one, :func:`load_digits_judge`).

    Returns:
        The :class:`FIDResult` (DigitsFID, the floor at the nearest tabulated N, class balance).

    Raises:
        ValueError: fewer than 2 samples, a wrong event size, or non-finite samples.

    Examples:
        Real digits score near the floor, uniform noise far above it:

        >>> import torch
        >>> from ebmcore.data import load_digits_dataset
        >>> from ebmcore.metrics import digits_fid
        >>> real = digits_fid(load_digits_dataset(test_fraction=0.5).x[:200])  # 200 digits of H1
        >>> noise = digits_fid(torch.rand(200, 1, 8, 8) * 2 - 1)
        >>> real.floor_n, real.fid < 2 * real.floor, noise.fid > 20 * real.floor
        (200, True, True)
    """
    if samples.shape[0] < 2 or samples[0].numel() != 64:
        raise ValueError(f"digits_fid needs (N >= 2, 1, 8, 8) samples, got {tuple(samples.shape)}")
    if not bool(torch.isfinite(samples).all()):
        raise ValueError("digits_fid got non-finite samples; filter or count them first")
    b = bundle or load_digits_judge()
    feats, logits = digits_judge_outputs(samples, bundle=b)
    mu, sigma = feature_statistics(feats)
    fid = frechet_distance(mu, sigma, b.mu, b.sigma)
    probs = torch.softmax(logits.to(torch.float64), dim=1)
    hist = torch.bincount(probs.argmax(1), minlength=10).to(torch.float64) / probs.shape[0]
    class_tv = float(0.5 * (hist - 0.1).abs().sum())
    floor, floor_n = b.floor_at(samples.shape[0])
    return FIDResult(
        fid=fid,
        n=int(samples.shape[0]),
        floor=floor,
        floor_n=floor_n,
        class_tv=class_tv,
        confidence=float(probs.max(1).values.mean()),
        class_histogram=tuple(float(v) for v in hist),
    )


# --------------------------------------------------------------------------------------------------
# Inception FID with a local weights file
# --------------------------------------------------------------------------------------------------


def _inception_extractor(weights_path: str | os.PathLike[str], device: torch.device) -> Callable[[Tensor], Tensor]:
    p = Path(weights_path)
    if not p.exists():
        raise FileNotFoundError(
            f"Inception weights not found at {p}: expected {INCEPTION_WEIGHTS_NAME} (or a folder holding it). "
            "ebmcore never downloads weights; copy the file there."
        )
    if p.is_dir():
        folder = p
    elif p.name == INCEPTION_WEIGHTS_NAME:
        folder = p.parent
    else:
        raise ValueError(
            f"weights_path must be a directory holding {INCEPTION_WEIGHTS_NAME} or that file itself, got {p}"
        )
    if not (folder / INCEPTION_WEIGHTS_NAME).is_file():
        raise FileNotFoundError(
            f"Inception weights not found: expected {folder / INCEPTION_WEIGHTS_NAME} (NVIDIA's TorchScript "
            f"{INCEPTION_WEIGHTS_NAME}, as used by clean-fid and StyleGAN2-ADA). ebmcore never downloads it; "
            "copy it there from a trusted source."
        )
    from cleanfid.inception_torchscript import InceptionV3W  # lazy: optional dependency

    model = InceptionV3W(str(folder), download=False, resize_inside=False).to(device).eval()
    return model


def _to_feature_input(x: Tensor, resizer: Callable[[np.ndarray], np.ndarray] | None) -> Tensor:
    """``[-1, 1]`` ``(B, C, H, W)`` -> float32 ``[0, 255]`` ``(B, 3, H', W')`` as clean-fid feeds its model."""
    x = ((x.detach().to(device="cpu", dtype=torch.float32) + 1.0) * 127.5).clamp_(0.0, 255.0)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if x.shape[1] != 3:
        raise ValueError(f"images must have 1 or 3 channels, got {x.shape[1]}")
    if resizer is None:
        return x.contiguous()
    arr = x.permute(0, 2, 3, 1).numpy()
    out = [torch.from_numpy(np.ascontiguousarray(resizer(img).transpose(2, 0, 1))) for img in arr]
    return torch.stack(out).to(torch.float32)


@torch.no_grad()
def _features(
    images: Tensor,
    extractor: Callable[[Tensor], Tensor],
    resizer: Callable[[np.ndarray], np.ndarray] | None,
    batch_size: int,
    device: torch.device,
) -> Tensor:
    out = []
    for i in range(0, images.shape[0], batch_size):
        batch = _to_feature_input(images[i : i + batch_size], resizer).to(device)
        f = extractor(batch)
        out.append(f.reshape(f.shape[0], -1).to(device="cpu", dtype=torch.float64))
    return torch.cat(out)


def inception_fid(
    samples: Tensor,
    real: Tensor,
    *,
    weights_path: str | os.PathLike[str] | None = None,
    feature_extractor: Callable[[Tensor], Tensor] | None = None,
    resize: str | int | None = "clean",
    batch_size: int = 50,
    device: torch.device | str = "cpu",
) -> float:
    """Standard (clean-fid "clean" mode) Inception FID between two image tensors, fully offline.

    Images ``(N, C, H, W)`` in ``[-1, 1]`` (C = 1 is repeated to 3 channels) are mapped to ``[0, 255]``,
    resized per image with clean-fid's resizer (``"clean"``: PIL bicubic to 299x299 in float, no
    quantisation), and embedded with clean-fid's ``InceptionV3W`` built from the local file
    ``weights_path`` (a directory holding ``inception-2015-12-05.pt`` or that file) with
    ``download=False``. The weights are a TorchScript archive: load them only from a trusted source.

    Args:
        samples, real: the two image sets.
        weights_path: the local Inception weights; required unless ``feature_extractor`` is given.
        feature_extractor: instead of Inception, any callable ``(B, 3, H', W')`` float in ``[0, 255]`` ->
            ``(B, D)`` (for tests, or other feature networks).
        resize: ``"clean"`` (299x299 PIL bicubic, clean-fid), an int ``s`` (PIL bicubic to ``s x s``), or
            ``None`` (no resizing).
        batch_size, device: feature extraction batching and device.

    Returns:
        The FID (a float).

    Raises:
        FileNotFoundError: the weights file is missing (names the path expected). Nothing is downloaded.

    Examples:
        Without the weights file the error says where it goes:

        >>> import pathlib, tempfile, torch
        >>> from ebmcore.metrics import inception_fid
        >>> images = torch.rand(32, 3, 8, 8) * 2 - 1
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     try:
        ...         inception_fid(images, images, weights_path=pathlib.Path(tmp) / "inception-2015-12-05.pt")
        ...     except FileNotFoundError as err:
        ...         print(str(err).replace(tmp, "<tmp>"))
        Inception weights not found at <tmp>/inception-2015-12-05.pt: expected inception-2015-12-05.pt (or a folder holding it). ebmcore never downloads weights; copy the file there.

        Any other feature network can stand in (here the first 4 pixel values in ``[0, 255]``, no resizing):

        >>> first_pixels = lambda batch: batch.flatten(1)[:, :4]
        >>> abs(inception_fid(images, images, feature_extractor=first_pixels, resize=None)) < 1e-6
        True
        >>> inception_fid(images, images * 0.5, feature_extractor=first_pixels, resize=None) > 1000
        True
    """
    device = torch.device(device)
    if feature_extractor is None:
        if weights_path is None:
            raise ValueError(
                f"inception_fid needs weights_path (a local {INCEPTION_WEIGHTS_NAME}) or a feature_extractor"
            )
        feature_extractor = _inception_extractor(weights_path, device)
    resizer = None
    if resize is not None:
        from cleanfid.resize import build_resizer, make_resizer  # lazy: optional dependency

        if resize == "clean":
            resizer = build_resizer("clean")
        elif isinstance(resize, int):
            resizer = make_resizer("PIL", False, "bicubic", (resize, resize))
        else:
            raise ValueError(f"resize must be 'clean', an int or None, got {resize!r}")
    f1 = _features(samples, feature_extractor, resizer, batch_size, device)
    f2 = _features(real, feature_extractor, resizer, batch_size, device)
    mu1, s1 = feature_statistics(f1)
    mu2, s2 = feature_statistics(f2)
    out = frechet_distance(mu1, s1, mu2, s2)
    if not math.isfinite(out):
        raise FloatingPointError("non-finite FID (non-finite features?)")
    return out
