"""Multi-worker training for real: two ``edgeseg train`` processes joined by ``TF_CONFIG`` on
127.0.0.1 (MultiWorkerMirroredStrategy) train a few steps on the embedded ISIC sample, and give
what one process with the same global batch gives.

Why the two runs can agree: augmentation and BatchNorm are off (BatchNorm would normalise each
worker's half-batch on its own statistics), both workers build the same seeded input stream and
each takes its half of every global batch, and Keras divides the summed loss by the *global*
batch, so the all-reduced gradient is the one-process gradient up to float32 summation order.

The tolerance, derived: Adam moves a weight by ``lr * m_hat / (sqrt(v_hat) + eps)``; for the
first steps ``|m_hat / sqrt(v_hat)| <= 1``, so after ``S`` steps a weight differs by at most
``2 * lr * S`` even if its gradient flipped sign between the runs (a gradient within float
rounding of 0). Where the gradient is not near 0, a relative gradient error ``d`` (float32 sums:
about 1e-6) changes the update by ~``lr * d``. So: every weight within ``2 * lr * S``, and the
mean absolute difference below ``lr * 1e-2`` (sign flips are rare), and the training losses of
each step equal to 1e-4 relative.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

STEPS, LR, BATCH = 3, 1e-3, 4


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train_cmd(sample_root: Path, project: Path) -> list[str]:
    return [sys.executable, "-m", "edgeseg.cli", "train", "--data", str(sample_root), "--model", "unet_w025",
            "--size", "64x96", "--batch-size", str(BATCH), "--epochs", "1", "--max-steps", str(STEPS),
            "--lr", str(LR), "--no-augment", "--no-batch-norm", "--mixed-precision", "off", "--seed", "0",
            "--project", str(project), "--name", "run"]


def _weights(run: Path) -> dict[str, np.ndarray]:
    import h5py

    out: dict[str, np.ndarray] = {}
    with h5py.File(run / "checkpoints" / "last.weights.h5", "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def _losses(run: Path) -> list[float]:
    with open(run / "history.csv") as f:
        return [float(r["loss"]) for r in csv.DictReader(f)]


@pytest.mark.slow
def test_two_workers_on_loopback_equal_one_worker_with_the_global_batch(sample_root, tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2", "OMP_NUM_THREADS": "1"}
    ports = [_free_port(), _free_port()]
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    multi = tmp_path / "multi"
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        procs.append(subprocess.Popen(_train_cmd(sample_root, multi), env={**env, "TF_CONFIG": tf_config},
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [p.communicate(timeout=900)[0] for p in procs]
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out[-3000:]
    assert "multi_worker strategy" in outputs[0]
    assert sorted(os.listdir(multi)) == ["run"]  # only the chief wrote into the project
    assert f"run: {multi / 'run'}" in outputs[0] and f"run: {multi / 'run'}" not in outputs[1]
    assert json.loads((multi / "run" / "environment.json").read_text())["replicas"] == 2

    single = tmp_path / "single"
    one = subprocess.run(_train_cmd(sample_root, single), env=env, capture_output=True, text=True, timeout=900)
    assert one.returncode == 0, one.stdout[-3000:] + one.stderr[-3000:]

    a, b = _weights(multi / "run"), _weights(single / "run")
    assert a.keys() == b.keys() and len(a) > 10
    diffs = np.concatenate([np.abs(a[k].astype(np.float64) - b[k]).ravel() for k in a])
    moved = np.concatenate([np.abs(b[k]).ravel() for k in b])
    print(f"max |dw| {diffs.max():.3g}, mean {diffs.mean():.3g}, weights {diffs.size}, mean |w| {moved.mean():.3g}")
    assert diffs.max() <= 2 * LR * STEPS
    assert diffs.mean() <= LR * 1e-2
    np.testing.assert_allclose(_losses(multi / "run"), _losses(single / "run"), rtol=1e-4)


def test_only_the_chief_writes_the_run():
    from edgeseg.distribute import is_chief

    two = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    assert is_chief(None) and is_chief("")
    assert is_chief(json.dumps({"cluster": two, "task": {"type": "worker", "index": 0}}))
    assert not is_chief(json.dumps({"cluster": two, "task": {"type": "worker", "index": 1}}))
    with_chief = {**two, "chief": ["127.0.0.1:3"]}
    assert is_chief(json.dumps({"cluster": with_chief, "task": {"type": "chief", "index": 0}}))
    assert not is_chief(json.dumps({"cluster": with_chief, "task": {"type": "worker", "index": 0}}))
