"""OnnxRunner on small hand-built ONNX graphs whose answer is a formula.

``prob = sigmoid(mean over channels of x)`` in both layouts and with fixed or dynamic batch, so
layout handling and batching are checked exactly; the real exported U-Net (parity with Keras on
ISIC images, float32 and int8) is tested in tests/export/test_onnx.py through this runner.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from edgeseg.config import Normalisation
from edgeseg.errors import RunError
from edgeseg.runtime.base import Runner, load_runner
from edgeseg.runtime.onnx_runner import OnnxRunner, load_onnx

H, W = 8, 12  # non-square, so an H/W mix-up fails


def _save(path: Path, nodes: list, inp: tuple, out: tuple, in_type: int = TensorProto.FLOAT) -> Path:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", in_type, list(inp))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(out))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # readable by every ORT 1.1x+
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _nhwc(path: Path, batch: int | str = 1) -> Path:
    """(batch, H, W, 3) -> sigmoid(mean over C) -> (batch, H, W, 1)."""
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["m"], axes=[3], keepdims=1),
        helper.make_node("Sigmoid", ["m"], ["y"]),
    ]
    return _save(path, nodes, (batch, H, W, 3), (batch, H, W, 1))


def _nchw(path: Path, batch: int | str = 1) -> Path:
    """(batch, 3, H, W) -> sigmoid(mean over C) -> NHWC (batch, H, W, 1), as tf2onnx's NCHW export."""
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["m"], axes=[1], keepdims=1),
        helper.make_node("Transpose", ["m"], ["t"], perm=[0, 2, 3, 1]),
        helper.make_node("Sigmoid", ["t"], ["y"]),
    ]
    return _save(path, nodes, (batch, 3, H, W), (batch, H, W, 1))


# A mean of 3 values in [0, 1] (2 roundings) and MLAS's logistic, a rational approximation within
# a few ulp, the same on AVX2 and AVX-512: 8 ulp of 1.0 (8 * 2**-23 = 9.5e-7) bounds the difference.
ATOL = 8 * float(np.finfo(np.float32).eps)


def _expected(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x.mean(axis=-1, keepdims=True)))


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    """5 images: not a multiple of 2, so a fixed batch of 2 needs padding."""
    return np.random.default_rng(0).random((5, H, W, 3), dtype=np.float32)


@pytest.mark.parametrize("batch", [1, 2, "N"], ids=["batch1", "batch2", "dynamic"])
@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
def test_layouts_and_batches(tmp_path: Path, x: np.ndarray, layout: str, batch: int | str) -> None:
    build = _nhwc if layout == "NHWC" else _nchw
    runner = OnnxRunner(build(tmp_path / "m.onnx", batch), Normalisation(), num_threads=1)
    assert runner.layout == layout and runner.input_size == (H, W)
    out = runner(x)
    assert out.shape == (5, H, W, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out, _expected(x), atol=ATOL)
    assert runner(x[:0]).shape == (0, H, W, 1)


def test_runner_protocol_and_options(tmp_path: Path) -> None:
    norm = Normalisation(scale=2 / 255, offset=-1.0)
    runner = OnnxRunner(_nhwc(tmp_path / "m.onnx"), norm, num_threads=1)
    assert isinstance(runner, Runner)
    assert runner.name == "onnx" and runner.path == tmp_path / "m.onnx" and runner.normalisation == norm
    assert runner._session.get_session_options().intra_op_num_threads == 1
    assert runner.providers == ["CPUExecutionProvider"]


def test_providers_are_a_preference_list(tmp_path: Path) -> None:
    import onnxruntime as ort

    path = _nhwc(tmp_path / "m.onnx")
    both = OnnxRunner(path, Normalisation(), providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert both.providers[-1] == "CPUExecutionProvider"
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        with pytest.raises(RunError, match="CUDAExecutionProvider"):
            OnnxRunner(path, Normalisation(), providers=["CUDAExecutionProvider"])


def test_load_runner_picks_onnx_by_suffix(tmp_path: Path, x: np.ndarray) -> None:
    runner = load_runner(_nhwc(tmp_path / "model.ONNX"))
    assert isinstance(runner, OnnxRunner) and runner.normalisation == Normalisation()
    np.testing.assert_allclose(runner(x), _expected(x), atol=ATOL)
    assert isinstance(load_onnx(tmp_path / "model.ONNX", None), OnnxRunner)


def test_wrong_input_size_raises(tmp_path: Path) -> None:
    runner = OnnxRunner(_nhwc(tmp_path / "m.onnx"), Normalisation())
    with pytest.raises(RunError, match=r"expects \(N, 8, 12, 3\)"):
        runner(np.zeros((1, W, H, 3), np.float32))


# --- damaged and foreign files -------------------------------------------------------------


def _one_line(e: pytest.ExceptionInfo, path: Path) -> None:
    message = str(e.value)
    assert str(path) in message and "\n" not in message


@pytest.mark.parametrize("damage", ["random", "truncated", "empty"])
def test_corrupted_file_raises_run_error(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "bad.onnx"
    good = _nhwc(tmp_path / "good.onnx").read_bytes()
    data = {
        "random": np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "truncated": good[: len(good) // 2],
        "empty": b"",
    }[damage]
    path.write_bytes(data)
    with pytest.raises(RunError) as e:
        OnnxRunner(path, Normalisation())
    _one_line(e, path)


def test_missing_file_raises_run_error(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="no such ONNX file"):
        OnnxRunner(tmp_path / "nope.onnx", Normalisation())


def _foreign(path: Path, case: str) -> Path:
    if case == "vector":  # a classifier-like (1, 10) -> (1, 10) model
        return _save(path, [helper.make_node("Relu", ["x"], ["y"])], (1, 10), (1, 10))
    if case == "two_channel_output":
        nodes = [helper.make_node("Slice", ["x", "s", "e", "a"], ["y"])]
        graph = helper.make_graph(
            nodes,
            "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, H, W, 3])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, H, W, 2])],
            [helper.make_tensor(n, TensorProto.INT64, [1], [v]) for n, v in (("s", 0), ("e", 2), ("a", 3))],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        onnx.save(model, str(path))
        return path
    if case == "uint8_input":
        nodes = [helper.make_node("Cast", ["x"], ["c"], to=TensorProto.FLOAT),
                 helper.make_node("ReduceMean", ["c"], ["y"], axes=[3], keepdims=1)]
        return _save(path, nodes, (1, H, W, 3), (1, H, W, 1), in_type=TensorProto.UINT8)
    if case == "one_channel_input":
        return _save(path, [helper.make_node("Sigmoid", ["x"], ["y"])], (1, H, W, 1), (1, H, W, 1))
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["vector", "two_channel_output", "uint8_input", "one_channel_input"])
def test_foreign_model_raises_run_error(tmp_path: Path, case: str) -> None:
    path = _foreign(tmp_path / f"{case}.onnx", case)
    with pytest.raises(RunError) as e:
        OnnxRunner(path, Normalisation())
    _one_line(e, path)
