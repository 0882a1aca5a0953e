import numpy as np
import pytest

from edgeseg.errors import ConfigError
from edgeseg.evaluate import EvalResult
from edgeseg.gates import budget_for, gate, gate_table, load_budgets, mask_agreement
from edgeseg.metrics import confusion, summarize
from edgeseg.postprocess import PostprocessConfig

TRUE = np.array([[[1, 1], [0, 0]], [[1, 0], [0, 0]]], np.uint8)


def _result(pred):
    c = confusion(pred, TRUE)
    return EvalResult(("a", "b"), c, summarize(c), PostprocessConfig(), tuple(pred))


def test_gate_drop_agreement_and_verdict():
    ref = _result(TRUE.copy())  # perfect: Dice 1, 1
    cand_pred = TRUE.copy()
    cand_pred[1, 1, 1] = 1  # image b: tp=1 fp=1 -> Dice 2/3
    cand = _result(cand_pred)
    g = gate(ref, cand, artifact="x", format="tflite", recipe="static_wi8_ai8", size_bytes=10,
             reference_name="float", split="validation", budget=0.2)
    assert g.reference_dice == 1.0
    assert g.dice == pytest.approx((1 + 2 / 3) / 2)
    assert g.dice_drop == pytest.approx(1 - (1 + 2 / 3) / 2)
    assert g.mask_agreement == pytest.approx((1 + 2 / 3) / 2)  # the reference equals the truth here
    assert g.passed
    tight = gate(ref, cand, artifact="x", format="tflite", recipe="r", size_bytes=10, reference_name="f",
                 split="validation", budget=0.1)
    assert not tight.passed
    table = gate_table([g, tight])
    assert "| pass |" in table and "| FAIL |" in table and "-0.1667" in table


def test_gate_needs_same_pairs():
    ref = _result(TRUE)
    other = EvalResult(("b", "a"), ref.counts, ref.scores, ref.post, ref.masks)
    with pytest.raises(ValueError):
        gate(ref, other, artifact="x", format="f", recipe="r", size_bytes=1, reference_name="f", split="s", budget=0.1)
    with pytest.raises(ValueError):
        mask_agreement(ref, EvalResult(ref.stems, ref.counts, ref.scores, ref.post, None))


def test_budgets_file_and_override(tmp_path):
    budgets = load_budgets()  # the shipped quantize/gates.toml
    assert budget_for("static_wi8_ai8", budgets) == 0.01
    assert budget_for("fp32", budgets) < budget_for("static_wi8_ai8", budgets)
    assert budget_for("static_wi8_ai8", budgets, override=0.05) == 0.05
    f = tmp_path / "g.toml"
    f.write_text("[default]\nmax_dice_drop = 0.02\n[recipes.fp16]\nmax_dice_drop = 0.003\n")
    b = load_budgets(f)
    assert budget_for("fp16", b) == 0.003 and budget_for("qat_wi8_ai8", b) == 0.02
    f.write_text("[default\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_budgets(f)
    with pytest.raises(ConfigError, match="no such gates file"):
        load_budgets(tmp_path / "none.toml")
