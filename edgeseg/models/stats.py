"""Model cost: parameters and multiply-accumulates (MACs) per image, counted from the layers."""

from __future__ import annotations

from typing import Any

from edgeseg._keras import keras


def count_macs(model: Any) -> int:
    """MACs for one image at the model's input size (convolutions and dense layers; the
    element-wise ops, pooling and BatchNorm are a rounding error on a U-Net and are left out)."""
    total = 0
    for layer in _leaf_layers(model):
        if isinstance(layer, keras.layers.DepthwiseConv2D):  # not a Conv2D subclass in tf_keras
            kh, kw, cin, mult = layer.depthwise_kernel.shape
            _, h, w, _ = layer.output_shape
            total += h * w * kh * kw * cin * mult
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
            kh, kw, *_ = layer.kernel.shape
            if isinstance(layer, keras.layers.Conv2DTranspose):
                # Every input pixel scatters a kh x kw x cout patch.
                _, h, w, cin = layer.input_shape
                cout = layer.filters
                total += h * w * kh * kw * cin * cout
            else:
                _, h, w, cout = layer.output_shape
                cin = layer.input_shape[-1] // max(1, getattr(layer, "groups", 1))
                total += h * w * kh * kw * cin * cout
        elif isinstance(layer, keras.layers.Dense):
            total += int(layer.kernel.shape[0]) * int(layer.kernel.shape[1])
    return int(total)


def _leaf_layers(model: Any):  # noqa: ANN202
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _leaf_layers(layer)
        else:
            yield layer
