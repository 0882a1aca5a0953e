import numpy as np
import pytest

from edgeseg.errors import ConfigError
from edgeseg.runtime.tta import FlipTTARunner


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    from edgeseg._keras import keras
    from edgeseg.models import create_model
    from edgeseg.runtime import load_runner

    keras.utils.set_random_seed(1)
    path = tmp_path_factory.mktemp("m") / "m.keras"
    create_model("unet_w025", (32, 48, 3)).save(path)
    return load_runner(path)


# The same runner on the same inputs: only the mean's additions may round differently, at most
# 3 half-ulps of a sum <= 4 (3 * 2**-22, /4 after the division): 1e-6 bounds it on any CPU.
ATOL = 1e-6


def test_flip_tta_is_the_mean_over_flips_in_the_original_frame(runner):
    x = np.random.default_rng(0).random((2, 32, 48, 3), dtype=np.float32)
    base = runner(x)
    h = runner(x[:, :, ::-1].copy())[:, :, ::-1]
    np.testing.assert_allclose(FlipTTARunner(runner, "h")(x), (base + h) / 2, rtol=0, atol=ATOL)
    v = runner(x[:, ::-1].copy())[:, ::-1]
    hv = runner(x[:, ::-1, ::-1].copy())[:, ::-1, ::-1]
    np.testing.assert_allclose(FlipTTARunner(runner, "hv")(x), (base + h + v + hv) / 4, rtol=0, atol=ATOL)


def test_tta_is_invariant_to_the_flip_it_averages(runner):
    x = np.random.default_rng(1).random((1, 32, 48, 3), dtype=np.float32)
    tta = FlipTTARunner(runner, "h")
    # The same two terms added in the other order (addition commutes).
    np.testing.assert_allclose(tta(x[:, :, ::-1].copy())[:, :, ::-1], tta(x), rtol=0, atol=ATOL)
    assert tta.input_size == runner.input_size and tta.name == "keras+tta_h"


def test_unknown_mode(runner):
    with pytest.raises(ConfigError, match="h, hv"):
        FlipTTARunner(runner, "x")
