"""Training end to end on the embedded real sample, with a small input size to stay fast."""

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgeseg.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from edgeseg.errors import RunError
from edgeseg.run import RunDir
from edgeseg.train import resume, train


def _cfg(sample_root, epochs, **train_kw):
    return RunConfig(
        data=DataConfig(root=str(sample_root), height=64, width=96, batch_size=4, limit=12),
        model=ModelConfig(name="unet_w025"),
        train=TrainConfig(epochs=epochs, max_steps=2, **train_kw),
    )


def _weights(run):
    from edgeseg.runtime.keras_runner import load_keras_model

    return load_keras_model(run.last_model).get_weights()


@pytest.fixture(scope="module")
def straight(sample_root, tmp_path_factory):
    """A run trained for 3 epochs without interruption."""
    return train(_cfg(sample_root, 3, tensorboard=True), runs_root=tmp_path_factory.mktemp("runs"), name="straight")


def test_run_directory_contents(straight):
    p = straight.path
    for name in ("config.json", "splits.json", "environment.json", "history.csv", "curves.png", "state.json"):
        assert (p / name).is_file(), name
    for name in ("last.keras", "last.weights.h5", "best.keras"):
        assert (p / "checkpoints" / name).is_file(), name
    assert list((p / "tensorboard").rglob("events.out.tfevents.*"))  # --tensorboard logs
    state = json.loads((p / "state.json").read_text())
    assert state["epoch"] == 3 and state["finished"] is True
    rows = (p / "history.csv").read_text().strip().splitlines()
    assert rows[0].split(",")[:2] == ["epoch", "dice"] and len(rows) == 4
    splits = json.loads((p / "splits.json").read_text())
    assert splits["source"] == "folders" and len(splits["splits"]["train"]) == 12
    assert RunConfig.load(p / "config.json").train.epochs == 3


def test_resume_continues_exactly(straight, sample_root, tmp_path):
    # Interrupted after epoch 1, then resumed to 3: the same weights as the straight run.
    run = train(_cfg(sample_root, 1), runs_root=tmp_path, name="interrupted")
    resumed = resume(run.path, epochs=3)
    for a, b in zip(_weights(straight), _weights(resumed)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    rows = (resumed.path / "history.csv").read_text().strip().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "1", "2"]
    assert RunConfig.load(resumed.path / "config.json").train.epochs == 3


def _plain_layout_copy(run, dest, epoch):
    """A copy of ``run`` in the layout before atomic epoch commits (plain files, no
    ``checkpoints/current``), its state set back to ``epoch``: what an older edgeseg left."""
    path = shutil.copytree(run.path, dest)  # follows the symlinks: plain files
    shutil.rmtree(path / "checkpoints" / "current")
    for d in (path / "checkpoints").glob("epoch-*"):
        shutil.rmtree(d)
    state = json.loads((path / "state.json").read_text())
    state.update(epoch=epoch, finished=False)
    (path / "state.json").write_text(json.dumps(state))
    return path


def test_resume_replays_an_epoch_cut_short(straight, tmp_path):
    # An older run, crashed during epoch 3 after its CSV row but before its checkpoint landed
    # (the atomic commit rules this out for new runs: tests/test_crash_safety.py).
    path = _plain_layout_copy(straight, tmp_path / "cut", epoch=2)
    resume(path)
    rows = (path / "history.csv").read_text().strip().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "1", "2"]  # epoch 3 re-run, not duplicated
    assert json.loads((path / "state.json").read_text())["epoch"] == 3
    assert (path / "checkpoints" / "current").is_symlink()  # converted at its first commit


def test_never_overwrites_and_numbers_new_runs(sample_root, tmp_path):
    a = RunDir.create(tmp_path, None, "unet_w025")
    b = RunDir.create(tmp_path, None, "unet_w025")
    assert (a.path.name, b.path.name) == ("unet_w025", "unet_w025-2")
    with pytest.raises(RunError, match="already exists"):
        train(_cfg(sample_root, 1), runs_root=tmp_path, name="unet_w025")


def test_resume_errors(straight, tmp_path):
    with pytest.raises(RunError, match="no such run directory"):
        resume(tmp_path / "nope")
    with pytest.raises(RunError, match="already finished"):
        resume(straight.path)
    with pytest.raises(RunError, match="not an edgeseg run"):
        resume(tmp_path)


def test_resume_falls_back_to_weights_when_the_model_file_is_corrupt(straight, tmp_path, capsys):
    path = _plain_layout_copy(straight, tmp_path / "corrupt", epoch=2)
    (path / "checkpoints" / "last.keras").write_bytes(b"not a zip")
    resume(path)
    assert "resuming from" in capsys.readouterr().out
    assert json.loads((path / "state.json").read_text())["epoch"] == 3


def test_warm_start_copies_weights_across_input_sizes(tiny_run, tmp_path, cli, sample_root):
    import numpy as np

    from edgeseg.errors import ConfigError
    from edgeseg.models import create_model
    from edgeseg.runtime import load_runner
    from edgeseg.train import warm_start

    run = tiny_run("warm-src")
    bigger = create_model("unet_w025", (96, 128, 3))
    warm_start(bigger, run.path)
    for a, b in zip(bigger.get_weights(), load_runner(run.path).model.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ConfigError, match="do not fit"):
        warm_start(create_model("unet_w050", (64, 96, 3)), run.path)
    r = cli("train", "--data", sample_root, "--init-weights", tmp_path / "nope", "--project", tmp_path / "runs", "--epochs", "1")
    cli.assert_clean_error(r, "nope", "no such run or .keras file")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_cosine_lr_anneals_from_the_rate_to_the_floor():
    from edgeseg.train import cosine_lr

    t = TrainConfig(epochs=10, learning_rate=1e-3, min_lr=1e-5, schedule="cosine")
    rates = [cosine_lr(t, e) for e in range(11)]
    assert rates[0] == pytest.approx(1e-3) and rates[5] == pytest.approx((1e-3 + 1e-5) / 2)
    assert rates[10] == pytest.approx(1e-5)
    assert all(a > b for a, b in zip(rates, rates[1:]))


def test_cosine_schedule_with_weight_average(straight, sample_root, tmp_path):
    from edgeseg.runtime.keras_runner import load_keras_model
    from edgeseg.train import cosine_lr

    # lr_patience=1 would halve the rate on any flat epoch under "plateau"; the schedule owns it here.
    cfg = _cfg(sample_root, 3, schedule="cosine", lr_patience=1, learning_rate=2e-3)
    cfg = dataclasses.replace(cfg, model=ModelConfig(name="unet_w025", init_weights=str(straight.path)),
                              train=dataclasses.replace(cfg.train, ema=0.9))
    run = train(cfg, runs_root=tmp_path, name="cos")
    rows = (run.path / "history.csv").read_text().strip().splitlines()
    header = rows[0].split(",")
    lrs = [float(r.split(",")[header.index("lr")]) for r in rows[1:]]
    np.testing.assert_allclose(lrs, [cosine_lr(cfg.train, e) for e in range(3)], rtol=1e-5)
    # The average was written into the model on the epoch's last step, so the checkpoint holds it.
    model = load_keras_model(run.last_model, compile=True)
    opt = model.optimizer
    assert opt.use_ema and opt.ema_overwrite_frequency == 2
    averages = opt._model_variables_moving_average
    assert len(averages) == len(model.trainable_variables)
    for var, avg in zip(model.trainable_variables, averages):
        np.testing.assert_allclose(var.numpy(), avg.numpy(), rtol=1e-6, atol=1e-7)
    # ...and it differs from what plain Adam reaches from the same start.
    plain = train(dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, ema=None)), runs_root=tmp_path, name="plain")
    assert any(not np.allclose(a, b) for a, b in zip(_weights(run), _weights(plain)))
    resumed = resume(run.path, epochs=4)
    assert json.loads((resumed.path / "state.json").read_text())["epoch"] == 4


def test_unknown_schedule_fails_before_the_run_exists(cli, sample_root, tmp_path):
    r = cli("train", "--data", sample_root, "--schedule", "cosin", "--project", tmp_path / "runs", "--epochs", "1")
    cli.assert_clean_error(r, "cosin", "cosine")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_ema_needs_a_warm_start(cli, sample_root, tmp_path):
    from edgeseg.errors import ConfigError

    with pytest.raises(ConfigError, match="warm start"):
        _cfg(sample_root, 1, ema=0.99)
    r = cli("train", "--data", sample_root, "--ema", "0.99", "--project", tmp_path / "runs", "--epochs", "1")
    cli.assert_clean_error(r, "ema", "--init-weights")


def _sample_batch(sample_root, size, n=4):
    from edgeseg.data.pairs import find_pairs
    from edgeseg.data.pipeline import load_arrays

    pairs = find_pairs(sample_root / "train").pairs[:n]
    images, masks = load_arrays(pairs, size)
    return images.astype("float32") / 255.0, masks.astype("float32")


def test_distill_targets_keep_the_mask_and_mix_the_bce(sample_root):
    from edgeseg.losses import bce
    from edgeseg.train import distill_targets

    _, y = _sample_batch(sample_root, (32, 48))
    assert 0 < y.mean() < 1
    rng = np.random.default_rng(0)
    teacher = rng.uniform(0, 1, y.shape).astype("float32")
    pred = rng.uniform(0.01, 0.99, y.shape).astype("float32")
    for w in (0.1, 0.3, 0.49):
        soft = distill_targets(y, teacher, w).numpy()
        np.testing.assert_array_equal(soft > 0.5, y > 0.5)  # training Dice/IoU still see the mask
        mixed = (1 - w) * float(bce(y, pred)) + w * float(bce(teacher, pred))
        assert float(bce(soft, pred)) == pytest.approx(mixed, rel=1e-5)


def test_a_teacher_enters_the_training_loss(straight, sample_root):
    """train_on_batch reports the loss before its update: BCE against the blended targets."""
    from edgeseg._keras import keras
    from edgeseg.losses import bce
    from edgeseg.models import create_model
    from edgeseg.train import attach_teacher, distill_targets, load_teacher

    x, y = _sample_batch(sample_root, (32, 48))
    teacher = load_teacher(straight.path, (32, 48))  # trained at 64x96, rebuilt at the student's size
    assert teacher.input_shape[1:3] == (32, 48) and not teacher.trainable
    t = teacher(x, training=False)
    assert float(np.abs(t.numpy() - y).mean()) > 0.01  # the teacher is not just the mask

    def student():
        keras.utils.set_random_seed(1)
        m = create_model("unet_w025", (32, 48, 3))
        m.compile(optimizer=keras.optimizers.Adam(1e-3), loss=bce)
        return m

    plain, distilled = student(), student()
    attach_teacher(distilled, teacher, 0.4)
    p = distilled(x, training=True)  # same weights in both; BatchNorm uses the batch statistics
    expected_plain, expected_distilled = float(bce(y, p)), float(bce(distill_targets(y, t, 0.4), p))
    assert abs(expected_plain - expected_distilled) > 1e-3
    assert float(plain.train_on_batch(x, y)) == pytest.approx(expected_plain, rel=1e-4)
    assert float(distilled.train_on_batch(x, y)) == pytest.approx(expected_distilled, rel=1e-4)


def test_distillation_run_saves_only_the_student_and_resumes(straight, sample_root, tmp_path, cli):
    from edgeseg.errors import ConfigError

    cfg = _cfg(sample_root, 2, teacher=str(straight.path), distill_weight=0.3)
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, height=32, width=48))
    run = train(cfg, runs_root=tmp_path, name="student")
    assert json.loads((run.path / "config.json").read_text())["train"]["teacher"] == str(straight.path)
    plain = train(dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, teacher=None)), runs_root=tmp_path, name="plain")
    assert len(_weights(run)) == len(_weights(plain))  # the checkpoint is the student alone
    assert any(not np.allclose(a, b) for a, b in zip(_weights(run), _weights(plain)))
    resume(run.path, epochs=3)
    assert json.loads((run.path / "state.json").read_text())["epoch"] == 3
    # A bare .keras file cannot be rebuilt at another size; bad weights and paths fail cleanly,
    # before a run directory exists.
    with pytest.raises(ConfigError, match="64x96.*32x48"):
        train(dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, teacher=str(straight.best_model()))),
              runs_root=tmp_path / "runs", name="wrong-size")
    with pytest.raises(ConfigError, match="distill weight"):
        _cfg(sample_root, 1, distill_weight=0.5)
    r = cli("train", "--data", sample_root, "--teacher", tmp_path / "nope", "--project", tmp_path / "runs", "--epochs", "1")
    cli.assert_clean_error(r, "nope", "no such run or .keras file")
    assert not (tmp_path / "runs").exists()


# --- fine-tuning a pretrained encoder (mnv2_unet) -------------------------------------------------

MNV2_WEIGHTS = Path(__file__).resolve().parents[2] / "shared" / "weights" / "mobilenet_v2_1.0_imagenet_no_top.h5"


def test_phases_split_where_the_encoder_unfreezes():
    from edgeseg.train import _phases

    t = TrainConfig(epochs=6, freeze_encoder_epochs=2)
    assert _phases(t, 0) == [(0, 2), (2, 6)]
    assert _phases(t, 1) == [(1, 2), (2, 6)]  # resumed inside the frozen phase
    assert _phases(t, 2) == [(2, 6)]  # resumed right at the boundary: unfrozen from the start
    assert _phases(t, 4) == [(4, 6)]
    assert _phases(TrainConfig(epochs=6), 0) == [(0, 6)]


def test_cosine_restarts_at_the_unfreeze_rate():
    from edgeseg.train import cosine_lr

    t = TrainConfig(epochs=6, learning_rate=1e-3, unfreeze_lr=3e-4, min_lr=0.0, freeze_encoder_epochs=2)
    assert [cosine_lr(t, e) for e in (0, 1)] == [1e-3, 1e-3]
    assert cosine_lr(t, 2) == pytest.approx(3e-4) and cosine_lr(t, 4) == pytest.approx(1.5e-4)
    assert TrainConfig(epochs=6, learning_rate=1e-3).unfreeze_learning_rate == pytest.approx(1e-4)


def test_encoder_policy_freezes_the_backbone_and_its_batch_norm():
    from edgeseg._keras import keras
    from edgeseg.models import create_model, encoder_layers
    from edgeseg.train import set_encoder_trainable

    model = create_model("mnv2_unet", (64, 96, 3))
    enc = encoder_layers(model)
    t = TrainConfig(epochs=4, freeze_encoder_epochs=2, encoder_bn="frozen")
    set_encoder_trainable(model, t, 0)
    assert not any(layer.trainable for layer in enc)
    assert all(layer.trainable for layer in model.layers if layer not in enc)
    set_encoder_trainable(model, t, 2)
    bn = [layer for layer in enc if isinstance(layer, keras.layers.BatchNormalization)]
    assert bn and not any(layer.trainable for layer in bn)
    assert all(layer.trainable for layer in enc if layer not in bn)
    set_encoder_trainable(model, dataclasses.replace(t, encoder_bn="train"), 2)
    assert all(layer.trainable for layer in enc)


def test_encoder_options_need_a_pretrained_encoder(cli, sample_root, tmp_path):
    result = cli("train", "--data", sample_root, "--model", "unet_w025", "--freeze-encoder-epochs", "1",
                 "--epochs", "2", "--project", tmp_path)
    cli.assert_clean_error(result, "unet_w025 has no pretrained encoder", "--freeze-encoder-epochs")
    result = cli("train", "--data", sample_root, "--model", "unet_w025", "--encoder-bn-momentum", "0.9",
                 "--project", tmp_path)
    cli.assert_clean_error(result, "unet_w025 has no pretrained encoder", "--encoder-bn-momentum")
    missing = tmp_path / "nope.h5"
    result = cli("train", "--data", sample_root, "--model", "mnv2_unet", "--encoder-weights", missing,
                 "--project", tmp_path / "runs")
    cli.assert_clean_error(result, str(missing), "does not exist")
    assert not (tmp_path / "runs").exists()  # failed before any run folder was written


def test_frozen_then_unfrozen_encoder_run(sample_root, tmp_path):
    if not MNV2_WEIGHTS.is_file():
        pytest.skip(f"shared MobileNetV2 weights not found at {MNV2_WEIGHTS}")
    import csv

    from edgeseg._keras import keras
    from edgeseg.runtime.keras_runner import load_keras_model

    cfg = RunConfig(
        data=DataConfig(root=str(sample_root), height=64, width=96, batch_size=4, limit=12),
        model=ModelConfig(name="mnv2_unet", encoder_weights=str(MNV2_WEIGHTS)),
        train=TrainConfig(epochs=2, max_steps=2, freeze_encoder_epochs=1, unfreeze_lr=2e-4, encoder_bn="frozen"),
    )
    run = train(cfg, runs_root=tmp_path, name="ft")
    rows = list(csv.DictReader(open(run.path / "history.csv")))
    assert [float(r["lr"]) for r in rows] == pytest.approx([1e-3, 2e-4])
    trained = {layer.name: layer for layer in load_keras_model(run.last_model).layers}
    ref = keras.applications.MobileNetV2(include_top=False, weights=str(MNV2_WEIGHTS), input_shape=(96, 96, 3))
    # Unfrozen in epoch 2: the convs moved; BatchNorm stayed in inference mode on the file's statistics.
    assert not np.array_equal(trained["Conv1"].get_weights()[0], ref.get_layer("Conv1").get_weights()[0])
    for name in ("bn_Conv1", "block_8_project_BN", "block_16_project_BN"):
        for a, b in zip(trained[name].get_weights(), ref.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)


def test_qat_of_a_frozen_bn_run_keeps_the_encoder_statistics(sample_root, tmp_path):
    """A fine-tune starts from trained weights (no freeze phase: a 1-epoch QAT of a run with a
    1-epoch freeze used to be refused) and keeps the source's frozen encoder BatchNorm (the
    flag travels in the checkpoint; tfmot's wrappers must not undo it)."""
    if not MNV2_WEIGHTS.is_file():
        pytest.skip(f"shared MobileNetV2 weights not found at {MNV2_WEIGHTS}")
    from edgeseg.quantize.qat import QATConfig, load_qat_model, qat

    def unwrapped(layer):  # tfmot's QuantizeWrapperV2 holds the layer it wraps as .layer
        return getattr(layer, "layer", layer)
    from edgeseg.runtime.keras_runner import load_keras_model

    cfg = RunConfig(
        data=DataConfig(root=str(sample_root), height=64, width=96, batch_size=4, limit=12),
        model=ModelConfig(name="mnv2_unet", encoder_weights=str(MNV2_WEIGHTS)),
        train=TrainConfig(epochs=2, max_steps=1, freeze_encoder_epochs=1, encoder_bn="frozen"),
    )
    source = train(cfg, runs_root=tmp_path, name="ft")
    run = qat(source.path, QATConfig(epochs=1, max_steps=2, learning_rate=1e-3), runs_root=tmp_path)
    assert run.config().train.freeze_encoder_epochs == 0
    before = {layer.name: layer for layer in load_keras_model(source.best_model()).layers}
    after = {unwrapped(layer).name: layer for layer in load_qat_model(run.best_model()).layers}
    # tfmot's wrapper owns a conv's kernel (beside its min/max); a BatchNorm keeps its own weights
    kernel = next(w for w in after["Conv1"].weights if w.name.split("/")[-1] == "kernel:0")
    assert not np.array_equal(kernel.numpy(), before["Conv1"].get_weights()[0])
    for name in ("bn_Conv1", "block_8_project_BN", "block_16_project_BN"):
        for a, b in zip(unwrapped(after[name]).get_weights(), before[name].get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    # the decoder's own BatchNorm is not the encoder's: its statistics move
    dec = [n for n in before if n.startswith("dec") and n.endswith("_bn")]
    assert dec and any(not np.array_equal(unwrapped(after[n]).get_weights()[2], before[n].get_weights()[2])
                       for n in dec)
