import pytest

from edgeseg.models import create_model
from edgeseg.models.stats import count_macs


@pytest.mark.parametrize("name,gmacs", [("unet_w025", 3.03), ("unet_w050", 12.07), ("unet_w100", 48.17)])
def test_unet_macs_at_256(name, gmacs):
    # Reference figures from ../shared/STACK.md (GMACs per 256x256 image).
    assert count_macs(create_model(name, (256, 256, 3), batch_norm=False)) / 1e9 == pytest.approx(gmacs, abs=0.01)


def test_macs_scale_linearly_with_pixels():
    small = count_macs(create_model("unet_w025", (64, 64, 3)))
    big = count_macs(create_model("unet_w025", (128, 128, 3)))
    assert big == 4 * small
