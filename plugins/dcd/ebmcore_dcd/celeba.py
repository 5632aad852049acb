"""CelebA at 32x32 from a local folder of aligned JPEGs (never downloaded), for the time-dependent recipe.

Reads ``<root>/img_align_celeba/*.jpg`` (the official aligned-and-cropped release, 178x218) in sorted order,
center-crops 140x140 and resizes to 32x32 (the usual CelebA-32 preprocessing), scaled to ``[-1, 1]``. The last
``test_fraction`` of the sorted files is held out as ``test``. ``max_images`` caps memory (all 202,599 images
take 2.5 GB as float32).
"""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np
import torch
from attrs import validators as v

from ebmcore import DatasetConfig
from ebmcore.data import Dataset

__all__ = ["CelebA32Config", "load_celeba32"]


@attrs.frozen(kw_only=True)
class CelebA32Config(DatasetConfig):
    """Config of the ``celeba32`` data set.

    Attributes:
        root: folder holding ``img_align_celeba/``.
        max_images: read at most this many images (``None``: all).
        test_fraction: share of the (sorted) images held out as the test set.
    """

    root: str = "data"
    max_images: int | None = attrs.field(default=None, validator=v.optional(v.ge(2)))
    test_fraction: float = attrs.field(default=0.05, validator=[v.ge(0), v.lt(1)])


def load_celeba32(cfg: CelebA32Config, seed: int) -> Dataset:
    """Load CelebA-32 as described in the module docstring; ``seed`` is unused (the split is by file order).

    Raises:
        FileNotFoundError: naming the folder expected (nothing is downloaded).
    """
    from PIL import Image

    folder = Path(cfg.root) / "img_align_celeba"
    files = sorted(folder.glob("*.jpg"))
    if not files:
        raise FileNotFoundError(
            f"CelebA expected as JPEG files in {folder} (the aligned release, img_align_celeba.zip unpacked); "
            f"nothing is downloaded"
        )
    files = files[: cfg.max_images] if cfg.max_images else files
    out = np.empty((len(files), 3, 32, 32), dtype=np.float32)
    for i, f in enumerate(files):
        with Image.open(f) as im:
            im = im.convert("RGB")
            w, h = im.size
            s = min(140, w, h)
            left, top = (w - s) // 2, (h - s) // 2
            im = im.crop((left, top, left + s, top + s)).resize((32, 32), Image.BILINEAR)
            out[i] = np.asarray(im, dtype=np.float32).transpose(2, 0, 1) / 127.5 - 1.0
    x = torch.from_numpy(out)
    n_test = int(round(cfg.test_fraction * len(files)))
    test = x[len(files) - n_test :] if n_test else None
    return Dataset(x=x[: len(files) - n_test].contiguous(), kind="image", test=test, name="celeba32")
