"""The fine-tune stage template: the registry, the shared config checks, and a new stage that is
only its parts (a toy 'plain fine-tune' on a tiny real run), resumed through its marker file."""

import json
import shutil

import pytest

from edgeseg.errors import ConfigError, RunError
from edgeseg.finetune import load_stages, resume
from edgeseg.finetune.stage import STAGES, FineTuneConfig, FineTuneStage, register, run_stage
from edgeseg.run import RunDir


def test_every_stage_module_registers_itself():
    stages = load_stages()
    assert stages.names() == ["prune", "qat"]
    markers = [stages.get(n).marker for n in stages]
    assert markers == ["prune.json", "qat.json"]
    assert all(issubclass(stages.get(n).config, FineTuneConfig) for n in stages)


@pytest.mark.parametrize("name", load_stages().names())
@pytest.mark.parametrize("kwargs, match", [
    ({"epochs": 0}, "epochs must be >= 1"),
    ({"learning_rate": 0}, "learning rate must be > 0"),
    ({"learning_rate": float("nan")}, "learning rate must be > 0"),
    ({"max_steps": 0}, "max steps must be >= 1"),
])
def test_shared_checks_in_every_stage_config(name, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        STAGES.get(name).config(**kwargs)


def test_a_config_of_another_stage_fails_before_anything_exists(tmp_path):
    from edgeseg.prune import prune
    from edgeseg.quantize.qat import QATConfig

    with pytest.raises(ConfigError, match="prune needs a PruneConfig, got QATConfig"):
        prune(tmp_path / "nope", QATConfig(), runs_root=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_two_stages_cannot_share_a_marker():
    taken = STAGES.get("prune")
    with pytest.raises(ValueError, match="already marks its runs with prune.json"):
        register(FineTuneStage(name="other", marker=taken.marker, suffix="x", config=FineTuneConfig,
                               plan=taken.plan, hooks=taken.hooks, finish=taken.finish))
    assert "other" not in STAGES


def _toy_stage(finished):
    """A stage that wraps nothing: the float model fine-tuned as it is (the least a stage is)."""
    from edgeseg.train import FitHooks, compile_model

    def plan(src, cfg, run_cfg, arrays):
        return {"train_pairs": len(arrays[0])}

    def hooks(cfg, record, run_cfg):
        from edgeseg.runtime.keras_runner import load_keras_model

        return FitHooks(build=lambda lr: compile_model(load_keras_model(record["source_model"]), run_cfg, lr))

    def finish(run, record):
        finished.append(run.state()["epoch"])
        return run

    return FineTuneStage(name="toy", marker="toy.json", suffix="toy", config=FineTuneConfig,
                         plan=plan, hooks=hooks, finish=finish)


def test_a_new_stage_is_its_parts_and_resumes_by_its_marker(float_run, tmp_path, monkeypatch):
    finished = []
    stage = _toy_stage(finished)
    monkeypatch.setitem(STAGES._entries, "toy", stage)

    run = run_stage(stage, float_run.path, FineTuneConfig(epochs=1, max_steps=2), runs_root=tmp_path)
    assert run.path.name == "float-toy" and finished == [1]
    record = json.loads((run.path / "toy.json").read_text())
    assert record["toy"] == {"epochs": 1, "learning_rate": 1e-4, "max_steps": 2}
    assert record["train_pairs"] == 12 and RunDir.open(record["source"]).path == float_run.path.resolve()
    assert RunDir.open(run.path).config().train.early_stopping_patience == 0

    copy = shutil.copytree(run.path, tmp_path / "copy", symlinks=True)
    with pytest.raises(RunError, match="already finished"):
        resume(copy)
    resume(copy, epochs=2)  # found by toy.json: the stage's hooks rebuild it, its finish reports
    assert finished == [1, 2]


def test_resume_hands_a_plain_run_to_training(float_run):
    with pytest.raises(RunError, match="already finished"):
        resume(float_run.path)
