"""From pairs to ``tf.data`` datasets.

Decoding happens once, up front, in :func:`load_arrays`: every file is read and checked before
the first training step, so a corrupt JPEG fails in seconds with its name instead of an hour into
an epoch. The decoded, resized uint8 arrays are the pipeline's cache (ISIC 2017 train at
192x256 is ~400 MB). The per-epoch stream then only gathers, augments and normalises.

Training streams are built for a whole range of epochs from stateless seeds, so
``train_dataset(initial_epoch=k)`` yields exactly the batches that an uninterrupted run would
have drawn from epoch ``k`` on: resuming replays the same data.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import cv2
import numpy as np

from edgeseg._keras import tf
from edgeseg.config import AugmentConfig, Normalisation
from edgeseg.data.augment import augment
from edgeseg.data.decode import read_pair
from edgeseg.data.pairs import Pair
from edgeseg.errors import ConfigError
from edgeseg.progress import track


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8 -> (h, w, 3) uint8 at ``size = (h, w)``; the one resize used everywhere."""
    h, w = size
    if image.shape[:2] == (h, w):
        return image
    # INTER_AREA avoids aliasing when shrinking (the usual case: camera/dermoscope -> model).
    interp = cv2.INTER_AREA if image.shape[0] > h else cv2.INTER_LINEAR
    return cv2.resize(image, (w, h), interpolation=interp)


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W) {0,1} uint8 -> (h, w) {0,1} uint8, resampled as a fraction then re-binarised."""
    h, w = size
    if mask.shape[:2] == (h, w):
        return mask
    frac = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    return (frac >= 0.5).astype(np.uint8)


def load_arrays(pairs: Sequence[Pair], size: tuple[int, int], description: str = "decoding") -> tuple[np.ndarray, np.ndarray]:
    """Decode and resize every pair.

    Returns:
        images (N, h, w, 3) uint8 and masks (N, h, w, 1) uint8 in {0, 1}.
    """

    def one(pair: Pair) -> tuple[np.ndarray, np.ndarray]:
        image, mask = read_pair(pair)
        return resize_image(image, size), resize_mask(mask, size)

    # PIL and OpenCV release the GIL while decoding/resizing, so threads do help here.
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(track(pool.map(one, pairs), description, total=len(pairs)))
    h, w = size
    images = np.stack([r[0] for r in results]) if results else np.zeros((0, h, w, 3), np.uint8)
    masks = np.stack([r[1] for r in results])[..., None] if results else np.zeros((0, h, w, 1), np.uint8)
    return images, masks


def steps_per_epoch(n: int, batch_size: int, max_steps: int | None = None) -> int:
    """Full batches per epoch (the remainder is dropped; the next epoch reshuffles)."""
    if n < batch_size:
        raise ConfigError(f"batch size {batch_size} is larger than the {n} training pairs; lower --batch-size")
    steps = n // batch_size
    return min(steps, max_steps) if max_steps else steps


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The shuffled sample order of one epoch, a pure function of (seed, epoch)."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def train_dataset(
    images: np.ndarray,
    masks: np.ndarray,
    *,
    batch_size: int,
    steps: int,
    augment_cfg: AugmentConfig,
    normalisation: Normalisation,
    seed: int,
    initial_epoch: int,
    epochs: int,
) -> Any:
    """The training stream for epochs ``[initial_epoch, epochs)``.

    Yields ``steps * (epochs - initial_epoch)`` batches of ``(x, y)``: x (B, h, w, 3) float32
    normalised input, y (B, h, w, 1) float32 in {0, 1}.
    """
    per_epoch = steps * batch_size
    order = np.concatenate(
        [epoch_order(len(images), seed, e)[:per_epoch] for e in range(initial_epoch, epochs)]
    ).astype(np.int64)
    # The global sample position keys the augmentation seed, independent of where we resumed.
    position = np.arange(initial_epoch * per_epoch, epochs * per_epoch, dtype=np.int64)
    images_t = tf.constant(images)
    masks_t = tf.constant(masks)

    def load(index: Any, pos: Any) -> tuple[Any, Any]:
        image = tf.cast(tf.gather(images_t, index), tf.float32) / 255.0
        mask = tf.cast(tf.gather(masks_t, index), tf.float32)
        image, mask = augment(image, mask, tf.stack([tf.constant(seed, tf.int64), pos]), augment_cfg)
        return normalisation.apply(image * 255.0), mask

    ds = tf.data.Dataset.from_tensor_slices((order, position))
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def eval_dataset(images: np.ndarray, masks: np.ndarray, *, batch_size: int, normalisation: Normalisation) -> Any:
    """Un-augmented ``(x, y)`` batches in order, for validation."""
    ds = tf.data.Dataset.from_tensor_slices((images, masks))
    ds = ds.map(
        lambda i, m: (normalisation.apply(i), tf.cast(m, tf.float32)), num_parallel_calls=tf.data.AUTOTUNE
    )
    return ds.batch(batch_size).cache().prefetch(tf.data.AUTOTUNE)
