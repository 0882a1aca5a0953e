"""Building blocks shared by the edgeseg models, and the custom layers they need.

Every op here has a TFLite builtin (CONV_2D, MAX_POOL_2D, RESIZE_NEAREST_NEIGHBOR, EQUAL, CAST,
MUL, ...), so every model converts with ``OpsSet.TFLITE_BUILTINS`` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from edgeseg._keras import keras, tf


def round_channels(channels: float, divisor: int = 8) -> int:
    """Round a (width-scaled) channel count to the nearest multiple of ``divisor``, at least ``divisor``.

    Multiples of 8 keep the convs aligned with the SIMD/accelerator tile widths of mobile
    runtimes. As in timm's ``make_divisible``, never go more than 10% below the request.
    """
    rounded = max(divisor, int(channels + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * channels:
        rounded += divisor
    return rounded


def image_input(input_shape: Sequence[int]) -> Any:
    """The model input: ``(N, H, W, C)`` float32 in [0, 1], named ``image``."""
    return keras.Input(shape=tuple(input_shape), dtype="float32", name="image")


def conv_block(
    x: Any,
    filters: int | Sequence[int],
    *,
    batch_norm: bool,
    name: str,
    n_convs: int = 2,
) -> Any:
    """``[3x3 conv (+ BN) + ReLU] x n``, 'same' padding; layers ``{name}_conv{i}``, ``_bn{i}``, ``_relu{i}``.

    Args:
        x: ``(N, H, W, C_in)`` feature map.
        filters: one count for every conv, or one per conv (then ``n_convs`` is ignored).
        batch_norm: put BatchNorm between each conv and its ReLU. The conv keeps its bias either
            way, so the no-BN parameter counts match the published ones.
        name: layer-name prefix, e.g. ``enc1``.
        n_convs: number of convs when ``filters`` is one int.

    Returns:
        ``(N, H, W, filters[-1])`` feature map.
    """
    per_conv = [filters] * n_convs if isinstance(filters, int) else list(filters)
    for i, f in enumerate(per_conv, start=1):
        x = keras.layers.Conv2D(
            f, 3, padding="same", kernel_initializer="he_normal", name=f"{name}_conv{i}"
        )(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(name=f"{name}_bn{i}")(x)
        x = keras.layers.ReLU(name=f"{name}_relu{i}")(x)
    return x


def up_conv(x: Any, filters: int, *, name: str) -> Any:
    """2x2 stride-2 transposed conv: ``(N, H, W, C) -> (N, 2H, 2W, filters)``."""
    return keras.layers.Conv2DTranspose(filters, 2, strides=2, padding="same", name=name)(x)


def segmentation_head(x: Any) -> Any:
    """1x1 conv to one channel + sigmoid: ``(N, H, W, C) -> (N, H, W, 1)`` float32 in [0, 1].

    The sigmoid layer is forced to float32: under a mixed_float16 policy a float16 sigmoid
    rounds probabilities near 0/1 and the loss would see 0/1 exactly.
    """
    x = keras.layers.Conv2D(1, 1, name="head_conv")(x)
    return keras.layers.Activation("sigmoid", dtype="float32", name="head")(x)


def _nearest_upsample(x: tf.Tensor, factor: int) -> tf.Tensor:
    """Repeat every pixel ``factor`` x ``factor`` times (TFLite RESIZE_NEAREST_NEIGHBOR).

    For an integer factor nearest-neighbour resizing maps output pixel i to input i // factor
    (with or without half-pixel centres), i.e. exactly a pixel repeat.
    """
    h, w = x.shape[1], x.shape[2]
    if h is None or w is None:  # only for models built without a fixed size
        dyn = tf.shape(x)
        size = tf.stack([dyn[1] * factor, dyn[2] * factor])
    else:
        size = (h * factor, w * factor)
    return tf.image.resize(x, size, method="nearest")


@keras.utils.register_keras_serializable(package="edgeseg")
class PoolIndexMask(keras.layers.Layer):
    """Where each max of a non-overlapping max-pool came from, as a 0/1 mask (SegNet's indices).

    ``MaxPoolWithArgmax`` has no TFLite builtin, so the indices are kept as a mask instead:
    ``mask = cast(x == nearest_upsample(maxpool(x)))``.

    Inputs: ``[x, pooled]`` with ``x`` ``(N, H, W, C)`` and ``pooled = MaxPooling2D(k)(x)``
    ``(N, H/k, W/k, C)`` (passed in so the pool is computed once, by the encoder).
    Output: ``(N, H, W, C)`` in the compute dtype, 1.0 where ``x`` equals its window's max.

    Ties: every position that equals its window's max gets a 1 (e.g. a window of four ReLU
    zeros gives four ones), so :class:`MaxUnpool` then copies the value to all of them, where
    ``MaxPoolWithArgmax`` would keep only the first. Ties need exactly equal activations, which
    in practice means all-zero windows after ReLU.
    """

    def __init__(self, pool_size: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pool_size = int(pool_size)

    def call(self, inputs: Sequence[tf.Tensor]) -> tf.Tensor:
        x, pooled = inputs
        return tf.cast(tf.equal(x, _nearest_upsample(pooled, self.pool_size)), self.compute_dtype)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape[0]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "pool_size": self.pool_size}


@keras.utils.register_keras_serializable(package="edgeseg")
class MaxUnpool(keras.layers.Layer):
    """SegNet unpooling: put each value back where its encoder window's max was.

    Inputs: ``[x, mask]`` with ``x`` ``(N, H, W, C)`` and ``mask`` ``(N, kH, kW, C)`` from the
    matching :class:`PoolIndexMask`. Output: ``nearest_upsample(x) * mask``, ``(N, kH, kW, C)``:
    ``x[i, j]`` at the max position(s) of window ``(i, j)``, zero elsewhere (see the ties note on
    :class:`PoolIndexMask`).
    """

    def __init__(self, size: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.size = int(size)

    def build(self, input_shape: Any) -> None:
        x_shape, mask_shape = (tf.TensorShape(s) for s in input_shape)
        # A decoder width that differs from the encoder's at this level would broadcast
        # silently (C=1) or fail late; say which level is wrong now.
        if x_shape[-1] != mask_shape[-1]:
            raise ValueError(
                f"{self.name}: feature map has {x_shape[-1]} channels but the pool mask has "
                f"{mask_shape[-1]}; the decoder conv before an unpool must output that level's "
                "encoder channels"
            )
        super().build(input_shape)

    def call(self, inputs: Sequence[tf.Tensor]) -> tf.Tensor:
        x, mask = inputs
        return _nearest_upsample(x, self.size) * tf.cast(mask, x.dtype)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape[1]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "size": self.size}


CUSTOM_LAYERS: tuple[type[keras.layers.Layer], ...] = (PoolIndexMask, MaxUnpool)
