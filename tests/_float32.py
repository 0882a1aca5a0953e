"""How far two float32 evaluations of one network may differ when only the kernels differ.

Keras (Eigen), LiteRT (XNNPACK or its builtin kernels) and ONNX Runtime (MLAS) compute the same
sums in different orders, and the order changes with the CPU: 8-lane AVX2/FMA on Zen 3, 16-lane
AVX-512 on Zen 5. A tolerance taken from one machine's result fails on the other; this one is
derived from the arithmetic instead:

- A K-term float32 dot product summed in another order differs by about ``sqrt(K) * u`` relative
  to the sum of |terms| (u = 2**-24, float32's unit roundoff; Higham & Mary's probabilistic bound,
  with a factor ``LAMBDA`` for confidence; the worst case ``K * u`` is orders too loose).
- Layers with batch-normalised, ReLU-bounded inputs pass a relative error on without gain, and
  independent rounding errors of successive layers add in quadrature: ``sqrt(sum of K) * u``.
- The sigmoid's slope is at most 1/4; its own implementations differ by a few ulp of 1.0.

So probabilities may differ by ``LAMBDA * sqrt(sum K) * u * S / 4 + SIGMOID_ULPS * 2 * u``, S the
logit scale (at least 1). For the tiny U-Net (sum K = 15067) that is 6.0e-6; measured 3.3e-7 on
Zen 5 (XNNPACK against Keras).
"""

from __future__ import annotations

import math

import numpy as np

U = 2.0 ** -24  # float32 unit roundoff: half of np.finfo(np.float32).eps
LAMBDA = 3.0
SIGMOID_ULPS = 4


def reduction_lengths(model) -> list[int]:  # noqa: ANN001 (a keras.Model)
    """The reduction length K of every layer with a kernel (conv, depthwise, transposed, dense)."""
    ks = []
    for layer in model.submodules if hasattr(model, "submodules") else model.layers:
        kernel = getattr(layer, "kernel", None) if not hasattr(layer, "depthwise_kernel") else layer.depthwise_kernel
        if kernel is None:
            continue
        shape = tuple(kernel.shape)
        name = type(layer).__name__
        if "Depthwise" in name:
            ks.append(shape[0] * shape[1])
        elif "Transpose" in name:  # (kh, kw, out, in): at most kh * kw * in terms per output
            ks.append(shape[0] * shape[1] * shape[3])
        else:
            ks.append(int(np.prod(shape[:-1])))
    return ks


def kernel_tolerance(model, probabilities: np.ndarray | None = None) -> float:  # noqa: ANN001
    """Absolute tolerance on sigmoid probabilities between two float32 kernel families (see the
    module docstring); ``probabilities`` (a reference output) give the logit scale S."""
    scale = 1.0
    if probabilities is not None:
        p = np.clip(np.asarray(probabilities, np.float64), 1e-7, 1 - 1e-7)
        scale = max(1.0, float(np.abs(np.log(p) - np.log1p(-p)).max()))
    return LAMBDA * math.sqrt(sum(reduction_lengths(model))) * U * scale / 4 + SIGMOID_ULPS * 2 * U
