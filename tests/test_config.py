import dataclasses

import numpy as np
import pytest

from edgeseg.config import AugmentConfig, DataConfig, Normalisation, RunConfig, TrainConfig
from edgeseg.errors import ConfigError, UnknownNameError
from edgeseg.registry import Registry


def test_run_config_json_round_trip(tmp_path):
    cfg = RunConfig(
        data=DataConfig(root="/x", height=128, width=160, augment=AugmentConfig(rotation=5.0)),
        train=TrainConfig(epochs=3, loss="focal"),
    )
    path = cfg.save(tmp_path / "config.json")
    assert RunConfig.load(path) == cfg


def test_frozen_and_replace():
    cfg = TrainConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.epochs = 3  # type: ignore[misc]
    assert dataclasses.replace(cfg, epochs=3).epochs == 3


@pytest.mark.parametrize(
    "make",
    [
        lambda: DataConfig(root="x", height=8),
        lambda: DataConfig(root="x", batch_size=0),
        lambda: DataConfig(root="x", val_fraction=0.6, test_fraction=0.5),
        lambda: TrainConfig(epochs=0),
        lambda: TrainConfig(mixed_precision="maybe"),
        lambda: AugmentConfig(zoom=1.5),
        lambda: AugmentConfig(saturation=1.0),
        lambda: AugmentConfig(hue=0.6),
        lambda: TrainConfig(ema=1.0),
        lambda: TrainConfig(ema=0.0),
    ],
)
def test_invalid_configs_raise(make):
    with pytest.raises(ConfigError):
        make()


def test_bad_config_file(tmp_path):
    (tmp_path / "c.json").write_text('{"data": {"root": "x", "colour": 1}}')
    with pytest.raises(ConfigError, match="c.json"):
        RunConfig.load(tmp_path / "c.json")
    with pytest.raises(ConfigError, match="no such config"):
        RunConfig.load(tmp_path / "missing.json")


def test_normalisation_is_one_definition_for_numpy_and_tf():
    from edgeseg._keras import tf

    n = Normalisation()
    px = np.array([0, 128, 255], np.uint8)
    np.testing.assert_allclose(n.apply(px), [0.0, 128 / 255, 1.0], rtol=1e-6)
    np.testing.assert_allclose(n.apply(tf.constant(px)).numpy(), n.apply(px), rtol=1e-6)
    assert n.apply(px).dtype == np.float32


def test_registry_errors_list_names():
    r: Registry[int] = Registry("widget")
    r.add("alpha", 1)
    r.add("beta", 2)
    assert r.get("beta") == 2 and r.names() == ["alpha", "beta"] and "alpha" in r
    with pytest.raises(UnknownNameError, match=r"unknown widget 'alpah'; choose one of: alpha, beta. Did you mean 'alpha'"):
        r.get("alpah")
    with pytest.raises(ValueError):
        r.add("alpha", 3)


def test_atomic_writes_leave_no_temp_and_normal_permissions(tmp_path):
    import os

    from edgeseg.io import atomic_path, current_umask, write_json

    path = write_json(tmp_path / "a.json", {"x": 1})
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~current_umask()
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "b.bin") as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("crash mid-write")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]  # no b.bin, no temp file


def test_committed_recipes_are_valid_configs():
    from edgeseg.defaults import REPO
    from edgeseg.losses import LOSSES
    from edgeseg.models import MODELS
    from edgeseg.train import SCHEDULES

    recipes = sorted((REPO / "recipes").glob("*.json"))
    assert recipes
    for path in recipes:
        cfg = RunConfig.load(path)
        assert cfg.model.name in MODELS and cfg.train.loss in LOSSES and cfg.train.schedule in SCHEDULES
