"""``--make N``: synthetic JPEG photos in class folders, for a benchmark anyone can rerun offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def make_photos(root: Path, count: int, size: tuple[int, int], classes: int = 5) -> None:
    """JPEGs cut from the two real photographs scikit-learn ships (random crops, flips and
    exposure), so decoding costs what photos cost: noise-like pixels would make entropy decoding
    dominate and hide what DCT-domain downscaling saves."""
    from sklearn.datasets import load_sample_images

    photos = [Image.fromarray(image) for image in load_sample_images().images]
    rng = np.random.default_rng(0)
    for i in range(count):
        photo = photos[i % len(photos)]
        side = rng.uniform(0.5, 1.0)
        width, height = int(photo.width * side), int(photo.height * side)
        left, top = rng.integers(0, photo.width - width + 1), rng.integers(0, photo.height - height + 1)
        image = photo.crop((left, top, left + width, top + height)).resize(size, Image.Resampling.BILINEAR)
        if rng.random() < 0.5:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        exposure = np.clip(np.asarray(image, dtype=np.float32) * rng.uniform(0.8, 1.2), 0, 255)
        image = Image.fromarray(exposure.astype(np.uint8))
        folder = root / f"class{i % classes}"
        folder.mkdir(parents=True, exist_ok=True)
        image.save(folder / f"{i:06d}.jpg", quality=90)
