import numpy as np
import pytest

from edgeseg.errors import UnknownNameError
from edgeseg.losses import FOCAL_ALPHA, FOCAL_GAMMA, LOSSES, get_loss

T = np.array([1, 0, 1, 0], np.float32).reshape(1, 2, 2, 1)
P = np.array([0.9, 0.2, 0.6, 0.1], np.float32).reshape(1, 2, 2, 1)


def _bce_map(t, p):
    return -(t * np.log(p) + (1 - t) * np.log(1 - p))


def test_bce_hand_value():
    expected = np.mean(_bce_map(T, P))  # (0.1054 + 0.2231 + 0.5108 + 0.1054) / 4
    assert float(get_loss("bce")(T, P)) == pytest.approx(expected, rel=1e-5)
    assert expected == pytest.approx(0.23617, abs=1e-4)


def test_dice_hand_value():
    inter, total = 0.9 + 0.6, 2 + (0.9 + 0.2 + 0.6 + 0.1)
    assert float(get_loss("dice")(T, P)) == pytest.approx(1 - (2 * inter + 1) / (total + 1), rel=1e-5)
    # A perfect prediction has (near) zero Dice loss, an inverted one a large loss.
    assert float(get_loss("dice")(T, T)) == pytest.approx(0.0, abs=1e-5)
    assert float(get_loss("dice")(T, 1 - T)) > 0.6


def test_focal_formula_and_composition():
    b = _bce_map(T, P)
    expected = np.mean(FOCAL_ALPHA * (1 - np.exp(-b)) ** FOCAL_GAMMA * b)
    assert float(get_loss("focal")(T, P)) == pytest.approx(expected, rel=1e-5)
    assert float(get_loss("bce_dice")(T, P)) == pytest.approx(
        float(get_loss("bce")(T, P)) + float(get_loss("dice")(T, P)), rel=1e-6
    )
    assert float(get_loss("focal_dice")(T, P)) == pytest.approx(
        float(get_loss("focal")(T, P)) + float(get_loss("dice")(T, P)), rel=1e-6
    )


def test_registry_names_and_unknown():
    assert {"bce", "dice", "bce_dice", "focal"} <= set(LOSSES.names())
    with pytest.raises(UnknownNameError, match="bce_dice"):
        get_loss("bce_dcie")
