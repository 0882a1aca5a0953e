"""Training losses, registered by name. Each takes ``(y_true, y_pred)`` of shape (N, H, W, 1),
``y_true`` in {0, 1} and ``y_pred`` probabilities, and returns a scalar.

Losses compose: ``bce_dice`` is ``bce + dice``, ``focal_dice`` is ``focal + dice``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edgeseg.registry import Registry

LossFn = Callable[[Any, Any], Any]
LOSSES: Registry[Callable[[], LossFn]] = Registry("loss")

EPS = 1e-7
SMOOTH = 1.0
FOCAL_ALPHA = 0.8
FOCAL_GAMMA = 2.0


def _prep(y_true: Any, y_pred: Any) -> tuple[Any, Any]:
    from edgeseg._keras import tf

    # Under mixed precision the head still emits float32, but cast anyway: the loss is a sum over
    # ~50k pixels and float16 would lose it.
    y_pred = tf.clip_by_value(tf.cast(y_pred, tf.float32), EPS, 1.0 - EPS)
    return tf.cast(y_true, tf.float32), y_pred


def _bce_map(y_true: Any, y_pred: Any) -> Any:
    from edgeseg._keras import tf

    return -(y_true * tf.math.log(y_pred) + (1.0 - y_true) * tf.math.log(1.0 - y_pred))


def bce(y_true: Any, y_pred: Any) -> Any:
    """Binary cross-entropy, mean over pixels and images."""
    from edgeseg._keras import tf

    y_true, y_pred = _prep(y_true, y_pred)
    return tf.reduce_mean(_bce_map(y_true, y_pred))


def dice(y_true: Any, y_pred: Any) -> Any:
    """1 - soft Dice per image (smoothed by 1 so empty masks are defined), mean over images."""
    from edgeseg._keras import tf

    y_true, y_pred = _prep(y_true, y_pred)
    axes = [1, 2, 3]
    inter = tf.reduce_sum(y_true * y_pred, axes)
    total = tf.reduce_sum(y_true, axes) + tf.reduce_sum(y_pred, axes)
    return tf.reduce_mean(1.0 - (2.0 * inter + SMOOTH) / (total + SMOOTH))


def focal(y_true: Any, y_pred: Any) -> Any:
    """Focal loss in the form ``alpha * (1 - exp(-BCE))**gamma * BCE`` (alpha 0.8, gamma 2)."""
    from edgeseg._keras import tf

    y_true, y_pred = _prep(y_true, y_pred)
    b = _bce_map(y_true, y_pred)
    return tf.reduce_mean(FOCAL_ALPHA * tf.pow(1.0 - tf.exp(-b), FOCAL_GAMMA) * b)


def _sum(*terms: LossFn) -> LossFn:
    def loss(y_true: Any, y_pred: Any) -> Any:
        return sum(t(y_true, y_pred) for t in terms)

    return loss


LOSSES.add("bce", lambda: bce)
LOSSES.add("dice", lambda: dice)
LOSSES.add("bce_dice", lambda: _sum(bce, dice))
LOSSES.add("focal", lambda: focal)
LOSSES.add("focal_dice", lambda: _sum(focal, dice))


def get_loss(name: str) -> LossFn:
    """The loss function registered as ``name`` (raises listing the valid names)."""
    fn = LOSSES.get(name)()
    fn.__name__ = name  # Keras logs and serialises the loss by this name
    return fn
