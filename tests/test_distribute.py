import json

import pytest

from edgeseg.distribute import choose_strategy, use_mixed_precision
from edgeseg.errors import ConfigError


def test_strategy_choice():
    assert choose_strategy(0, None) == "default"
    assert choose_strategy(1, None) == "mirrored"
    assert choose_strategy(4, None) == "mirrored"
    two = json.dumps({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}})
    assert choose_strategy(0, two) == "multi_worker"
    one = json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 0}})
    assert choose_strategy(2, one) == "mirrored"
    with pytest.raises(ConfigError, match="TF_CONFIG"):
        choose_strategy(0, "{not json")


def test_mixed_precision_choice():
    assert use_mixed_precision("auto", 0) is False
    assert use_mixed_precision("auto", 1) is True
    assert use_mixed_precision("off", 8) is False
    assert use_mixed_precision("on", 0) is True


def test_setup_on_this_machine_uses_default_strategy_on_cpu():
    from edgeseg._keras import keras, tf
    from edgeseg.distribute import setup

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("GPU machine")
    strategy, info = setup("auto")
    assert info == {"strategy": "default", "replicas": 1, "gpus": [], "mixed_precision": False}
    assert keras.mixed_precision.global_policy().name == "float32"
    assert strategy.num_replicas_in_sync == 1
