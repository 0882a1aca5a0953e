"""Joint image+mask augmentation with TensorFlow ops, for use inside ``tf.data``.

Geometry (rotation, zoom, shear, flips) is applied to the image and the mask together in one
projective transform, so they can never drift apart; photometric changes (brightness, contrast,
saturation, hue) touch the image only. All randomness is *stateless* and keyed by a per-sample
seed, so a resumed run replays exactly the augmentations the interrupted one would have drawn.
"""

from __future__ import annotations

import math
from typing import Any

from edgeseg._keras import tf
from edgeseg.config import AugmentConfig


def _uniform(seed: Any, lo: float, hi: float) -> Any:
    return tf.random.stateless_uniform([], seed, minval=lo, maxval=hi, dtype=tf.float32)


def affine_matrix(height: int, width: int, angle: Any, shear: Any, scale: Any) -> Any:
    """The 8-vector of ``ImageProjectiveTransformV3`` for a rotation/shear/zoom about the centre.

    It maps *output* pixel (x, y) to the *input* pixel it samples. Angles are in radians; ``scale``
    > 1 samples a larger input area, i.e. zooms out.
    """
    c, s = tf.cos(angle), tf.sin(angle)
    t = tf.tan(shear)
    # M = R(angle) @ Shear(shear) @ diag(scale, scale)
    a0, a1 = c * scale, (c * t - s) * scale
    b0, b1 = s * scale, (s * t + c) * scale
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    a2 = cx - (a0 * cx + a1 * cy)
    b2 = cy - (b0 * cx + b1 * cy)
    zero = tf.zeros_like(a0)
    return tf.stack([a0, a1, a2, b0, b1, b2, zero, zero])


def augment(image: Any, mask: Any, seed: Any, cfg: AugmentConfig) -> tuple[Any, Any]:
    """Augment one pair.

    Args:
        image: (H, W, 3) float32 in [0, 1].
        mask: (H, W, 1) float32 in {0, 1}.
        seed: int32/int64 tensor of shape (2,); the same seed gives the same result.
        cfg: the ranges; ``cfg.enabled=False`` returns the inputs unchanged.

    Returns:
        The augmented ``(image, mask)``: same shapes and dtypes, the image clipped to [0, 1] and
        the mask still exactly binary.
    """
    if not cfg.enabled:
        return image, mask
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=9)
    height, width = image.shape[0], image.shape[1]

    if cfg.rotation or cfg.shear or cfg.zoom:
        rot = math.radians(cfg.rotation)
        shr = math.radians(cfg.shear)
        m = affine_matrix(
            height,
            width,
            _uniform(seeds[0], -rot, rot),
            _uniform(seeds[1], -shr, shr),
            _uniform(seeds[2], 1.0 - cfg.zoom, 1.0 + cfg.zoom),
        )
        both = tf.concat([image, mask], axis=-1)[None]
        both = tf.raw_ops.ImageProjectiveTransformV3(
            images=both,
            transforms=m[None],
            output_shape=tf.constant([height, width], tf.int32),
            fill_value=0.0,
            interpolation="BILINEAR",
            # Reflection keeps skin texture at the borders instead of black wedges the model
            # would learn to ignore.
            fill_mode="REFLECT",
        )[0]
        image, mask = both[..., :3], both[..., 3:]
        # Bilinear sampling blurs the mask edge; re-binarise at the midpoint.
        mask = tf.cast(mask > 0.5, tf.float32)

    for axis, enabled, s in ((1, cfg.hflip, seeds[3]), (0, cfg.vflip, seeds[4])):
        if enabled:
            flip = _uniform(s, 0.0, 1.0) < 0.5
            image = tf.where(flip, tf.reverse(image, [axis]), image)
            mask = tf.where(flip, tf.reverse(mask, [axis]), mask)

    if cfg.brightness:
        image = image + _uniform(seeds[5], -cfg.brightness, cfg.brightness)
    if cfg.contrast:
        mean = tf.reduce_mean(image, axis=[0, 1], keepdims=True)
        image = (image - mean) * _uniform(seeds[6], 1.0 - cfg.contrast, 1.0 + cfg.contrast) + mean
    if cfg.saturation or cfg.hue:
        image = tf.clip_by_value(image, 0.0, 1.0)  # the HSV round trip needs [0, 1] input
    if cfg.saturation:
        image = tf.image.adjust_saturation(image, _uniform(seeds[7], 1.0 - cfg.saturation, 1.0 + cfg.saturation))
    if cfg.hue:
        image = tf.image.adjust_hue(image, _uniform(seeds[8], -cfg.hue, cfg.hue))
    return tf.clip_by_value(image, 0.0, 1.0), mask
