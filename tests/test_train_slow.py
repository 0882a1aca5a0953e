"""The wider U-Nets train end to end on CPU (one short epoch at the default 192x256)."""

import json

import pytest

from edgeseg.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from edgeseg.train import train


@pytest.mark.slow
@pytest.mark.parametrize("name", ["unet_w050", "unet_w100"])
def test_wide_unet_one_short_epoch(name, sample_root, tmp_path):
    cfg = RunConfig(
        data=DataConfig(root=str(sample_root), batch_size=4, limit=8),
        model=ModelConfig(name=name),
        train=TrainConfig(epochs=1, max_steps=2),
    )
    run = train(cfg, runs_root=tmp_path)
    state = json.loads(run.state_file.read_text())
    assert state["epoch"] == 1 and state["finished"]
    assert (run.checkpoints / "best.keras").is_file()
