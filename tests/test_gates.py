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


def test_family_table_against_the_widest_float():
    from edgeseg.gates import GateResult, family_table

    def g(art, ref, dice):
        return GateResult(art, "tflite", "static_wi8_ai8", 10**6, "f", "validation", 150, ref, 0.7, dice, 0.6,
                          ref - dice, 0.0, 0.99, 0.01, True)

    table = family_table([("unet_w025", 0.25, [g("q", 0.80, 0.79)]), ("unet_w100", 1.0, [g("q", 0.85, 0.845)])])
    assert "Reference: the float unet_w100 (Dice 0.8500)" in table
    rows = [line for line in table.splitlines() if line.startswith("| unet_")]
    assert rows[0].startswith("| unet_w100") and rows[0].endswith("| -0.0050 | -0.0050 |")
    assert rows[1].startswith("| unet_w025") and rows[1].endswith("| -0.0100 | -0.0600 |")
