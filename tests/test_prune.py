"""Pruning end to end with real tfmot on a tiny real run (embedded ISIC sample, 64x96)."""

import json
import shutil

import numpy as np
import pytest

from edgeseg.errors import ConfigError, RunError
from edgeseg.finetune import resume
from edgeseg.prune import PruneConfig, ScheduleSteps, gzip_size, prune, sparsity_report
from edgeseg.run import RunDir


@pytest.fixture(scope="module")
def pruned(float_run, digest):
    before = digest(float_run.path)
    run = prune(float_run.path, PruneConfig(sparsity=0.5, epochs=1, max_steps=4), runs_root=float_run.path.parent)
    return run, before


def test_measured_sparsity_reaches_the_target(pruned):
    from edgeseg.runtime.keras_runner import load_keras_model

    run, _ = pruned
    report = json.loads((run.path / "prune_report.json").read_text())
    # Measured again, independently of the report, on the saved stripped model.
    model = load_keras_model(run.path / "checkpoints" / "best.keras")
    measured = sparsity_report(model, report["pruned_layers"])
    assert measured["overall"] == pytest.approx(0.5, abs=0.02)  # 0 % if the schedule never fired
    assert all(v["sparsity"] == pytest.approx(0.5, abs=0.02) for v in measured["layers"].values())
    assert report["sparsity"]["pruned_layers"] == pytest.approx(measured["overall"])
    # Every 3x3 and transposed conv is pruned; the 1-channel logits conv is kept dense, with why.
    assert "dec1_upconv" in report["pruned_layers"] and "enc1_conv1" in report["pruned_layers"]
    assert "head_conv" not in report["pruned_layers"] and "logits" in report["skipped_layers"]["head_conv"]
    assert report["sparsity"]["layers"]["head_conv"] == 0.0


def test_stripped_model_is_a_plain_keras_model(pruned):
    from edgeseg.runtime.base import load_runner
    from edgeseg.runtime.keras_runner import load_keras_model

    run, _ = pruned
    model = load_keras_model(run.path / "checkpoints" / "best.keras")
    assert not any("prune" in type(layer).__name__.lower() or hasattr(layer, "pruning_step")
                   for layer in model.layers)
    assert [layer.name for layer in model.layers if layer.weights][0] == "enc1_conv1"  # original names
    runner = load_runner(run.path)  # a pruned run is a normal run to the rest of edgeseg
    y = runner(np.zeros((1, 64, 96, 3), np.float32))
    assert y.shape == (1, 64, 96, 1) and 0.0 <= y.min() and y.max() <= 1.0


def test_report_sizes_and_dice(pruned, float_run):
    run, _ = pruned
    r = json.loads((run.path / "prune_report.json").read_text())
    assert "does not speed up TFLite/XNNPACK" in r["note"]
    size = r["size"]
    assert size["keras_gzip_bytes"] == gzip_size(run.path / "checkpoints" / "best.keras")
    # The source's stored checkpoint also holds Adam's moments: not the baseline to compare with.
    assert size["source_checkpoint_bytes"] == (float_run.path / "checkpoints" / "best.keras").stat().st_size
    # Against the same float model saved the same way (no optimizer state): zeros compress.
    assert size["keras_gzip_bytes"] < 0.75 * size["source_keras_gzip_bytes"]
    # The raw file does not shrink: zeros are still stored as float32.
    assert size["keras_bytes"] == pytest.approx(size["source_keras_bytes"], rel=0.01)
    dice = r["validation_dice"]
    assert 0.0 <= dice["before"] <= 1.0 and 0.0 <= dice["after"] <= 1.0
    assert dice["change"] == pytest.approx(dice["after"] - dice["before"])


def test_new_run_records_its_source_and_leaves_it_untouched(pruned, float_run, digest):
    run, before = pruned
    assert run.path != float_run.path and run.path.name == "float-pruned"
    assert digest(float_run.path) == before
    record = json.loads((run.path / "prune.json").read_text())
    assert RunDir.open(record["source"]).path == float_run.path.resolve()
    assert record["source_model_sha256"] == before["checkpoints/best.keras"]
    assert PruneConfig(**record["prune"]) == PruneConfig(sparsity=0.5, epochs=1, max_steps=4)
    # 12 pairs / batch 4 = 3 steps (max_steps 4 does not bind); the ramp ends on the last one.
    assert record["schedule"] == {"kind": "poly", "begin_step": 0, "end_step": 3, "frequency": 1,
                                  "total_steps": 3}
    cfg = RunDir.open(run.path).config()
    assert (cfg.train.epochs, cfg.train.learning_rate, cfg.train.max_steps) == (1, 1e-4, 4)
    assert (run.path / "splits.json").read_text() == (float_run.path / "splits.json").read_text()
    assert (run.path / "checkpoints" / "last.keras").is_file()


def test_resume_continues_a_pruning_run_at_the_final_mask(pruned, tmp_path):
    from edgeseg.runtime.keras_runner import load_keras_model

    run, _ = pruned
    copy = RunDir(shutil.copytree(run.path, tmp_path / "pruned", symlinks=True))  # the links stay links
    with pytest.raises(RunError, match="already finished"):
        resume(copy.path)
    resume(copy.path, epochs=2)  # last.keras holds the wrappers, masks and pruning step
    assert json.loads((copy.path / "state.json").read_text())["epoch"] == 2
    model = load_keras_model(copy.path / "checkpoints" / "best.keras")
    names = json.loads((copy.path / "prune.json").read_text())["pruned_layers"]
    assert sparsity_report(model, names)["overall"] == pytest.approx(0.5, abs=0.02)


def test_m_by_n_2_4_structure(float_run, tmp_path):
    from tensorflow_model_optimization.python.core.sparsity.keras.pruning_utils import is_pruned_m_by_n

    from edgeseg._keras import tf
    from edgeseg.runtime.keras_runner import load_keras_model

    cfg = PruneConfig(sparsity=0.5, schedule="constant", m_by_n="2:4", epochs=1, max_steps=2)
    run = prune(float_run.path, cfg, runs_root=tmp_path, name="mbn")
    model = load_keras_model(run.path / "checkpoints" / "best.keras")
    names = json.loads((run.path / "prune.json").read_text())["pruned_layers"]
    for name in names:
        kernel = model.get_layer(name).kernel.numpy()
        # tfmot's grouping: the kernel transposed to TFLite layout (last axis -> first), groups of
        # 4 consecutive values along the TF kernel's axis 2 (a Conv2D's input channels).
        assert is_pruned_m_by_n(tf.constant(kernel), (2, 4), last_channel="C_OUT"), name
        rows = np.transpose(kernel, (3, 0, 1, 2)).reshape(-1, kernel.shape[2])
        pad = (-rows.shape[1]) % 4
        groups = np.pad(rows, ((0, 0), (0, pad))).reshape(rows.shape[0], -1, 4)
        assert (np.count_nonzero(groups, axis=-1) <= 2).all(), name
    report = json.loads((run.path / "prune_report.json").read_text())
    assert report["sparsity"]["layers"]["enc2_conv1"] == pytest.approx(0.5)
    # 3 input channels form one padded group of 4 that keeps 2: a third is zero.
    assert report["sparsity"]["layers"]["enc1_conv1"] == pytest.approx(1 / 3)


def test_schedule_lands_on_its_end_step():
    assert ScheduleSteps.for_steps(4) == ScheduleSteps(begin_step=0, end_step=3, frequency=1)
    assert ScheduleSteps.for_steps(1) == ScheduleSteps(begin_step=0, end_step=1, frequency=1)
    for total in (2, 7, 100, 1000, 12345):
        s = ScheduleSteps.for_steps(total)
        assert s.begin_step < s.end_step <= total and (s.end_step - s.begin_step) % s.frequency == 0
        assert s.frequency <= 100


@pytest.mark.parametrize("kwargs, match", [
    ({"sparsity": 0}, "sparsity must be in"),
    ({"sparsity": 1.2}, "sparsity must be in"),
    ({"sparsity": 1.0}, "sparsity must be in"),
    ({"schedule": "cubic"}, "schedule must be one of"),
    ({"epochs": 0}, "epochs"),
    ({"max_steps": 0}, "max steps"),
    ({"m_by_n": "2-4", "schedule": "constant"}, "M:N"),
    ({"m_by_n": "4:4", "schedule": "constant"}, "0 < M < N"),
    ({"m_by_n": "2:4"}, "schedule 'constant'"),
    ({"m_by_n": "1:4", "schedule": "constant"}, "pass sparsity 0.25"),
])
def test_invalid_config(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        PruneConfig(**kwargs)


def test_missing_source_or_checkpoint(float_run, tmp_path):
    with pytest.raises(RunError, match="no such run directory"):
        prune(tmp_path / "nope", PruneConfig(), runs_root=tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    shutil.copy(float_run.path / "config.json", empty / "config.json")
    with pytest.raises(RunError, match="no checkpoint"):
        prune(empty, PruneConfig(), runs_root=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]  # nothing created
