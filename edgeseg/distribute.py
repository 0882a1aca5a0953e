"""Device set-up: GPU memory growth, mixed precision, and the tf.distribute strategy.

- no GPU: the default strategy (CPU);
- one or more local GPUs: ``MirroredStrategy`` over all of them;
- ``TF_CONFIG`` naming a cluster of several workers: ``MultiWorkerMirroredStrategy``. Start the
  same ``edgeseg train`` command on every machine, each with its own ``TF_CONFIG`` task index,
  e.g. ``TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task":
  {"type": "worker", "index": 0}}'``. Worker 0 (the chief) writes the run directory.
"""

from __future__ import annotations

import json
from typing import Any

from edgeseg.errors import ConfigError

STRATEGIES = ("default", "mirrored", "multi_worker")


def choose_strategy(n_gpus: int, tf_config: str | None) -> str:
    """Pure choice of strategy name from the visible GPU count and the ``TF_CONFIG`` text."""
    if tf_config:
        try:
            cluster = json.loads(tf_config).get("cluster", {})
        except (json.JSONDecodeError, AttributeError) as e:
            raise ConfigError(f"TF_CONFIG is not valid JSON ({e})") from None
        workers = len(cluster.get("worker", [])) + len(cluster.get("chief", []))
        if workers > 1:
            return "multi_worker"
    return "mirrored" if n_gpus >= 1 else "default"


def is_chief(tf_config: str | None) -> bool:
    """Whether this process writes the run: yes without ``TF_CONFIG``; with it, the ``chief`` task,
    or worker 0 when the cluster names no chief (TensorFlow's own convention)."""
    if not tf_config:
        return True
    try:
        cfg = json.loads(tf_config)
        task, cluster = cfg.get("task", {}), cfg.get("cluster", {})
    except (json.JSONDecodeError, AttributeError) as e:
        raise ConfigError(f"TF_CONFIG is not valid JSON ({e})") from None
    kind, index = task.get("type", "worker"), int(task.get("index", 0))
    if kind == "chief":
        return True
    return kind == "worker" and index == 0 and not cluster.get("chief")


def use_mixed_precision(setting: str, n_gpus: int) -> bool:
    """``auto`` means float16 compute on GPUs only: on CPUs it is slower than float32."""
    return setting == "on" or (setting == "auto" and n_gpus > 0)


def setup(mixed_precision: str) -> tuple[Any, dict[str, Any]]:
    """Configure devices and return ``(strategy, info)``; call before building any model."""
    import os

    from edgeseg._keras import keras, tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            # Grab memory as needed, so evaluation or a second process can share the card.
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised in this process
            pass
    kind = choose_strategy(len(gpus), os.environ.get("TF_CONFIG"))
    mp = use_mixed_precision(mixed_precision, len(gpus))
    keras.mixed_precision.set_global_policy("mixed_float16" if mp else "float32")
    strategy = {
        "default": tf.distribute.get_strategy,
        "mirrored": tf.distribute.MirroredStrategy,
        "multi_worker": tf.distribute.MultiWorkerMirroredStrategy,
    }[kind]()
    info = {
        "strategy": kind,
        "replicas": strategy.num_replicas_in_sync,
        "gpus": [g.name for g in gpus],
        "mixed_precision": mp,
    }
    return strategy, info
