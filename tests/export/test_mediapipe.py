"""The shipped uint8-IO phone model in MediaPipe Tasks' ImageSegmenter (issue 19): it runs with
its metadata on a real image and its confidence mask matches edgeseg's Runner to the output's
quantization step. MediaPipe lives in its own environment (.venv-mediapipe, `make mediapipe-venv`;
`make test` builds it); without it these tests skip, except under CI=true, where they fail."""

import json
import os

import cv2
import numpy as np
import pytest

from edgeseg.defaults import DEFAULT_ARTIFACT
from edgeseg.export.mediapipe import MP_PYTHON

UINT8 = DEFAULT_ARTIFACT.parent.parent / DEFAULT_ARTIFACT.parent.name.replace("_int8io", "_uint8io") / "model.tflite"

needs_mp = pytest.mark.skipif(not MP_PYTHON.is_file() and os.environ.get("CI") != "true",
                              reason="no .venv-mediapipe (run `make mediapipe-venv`)")


def test_uint8_copy_is_the_int8_model_shifted_by_128(tmp_path):
    """u = q + 128 with the same scale: exactly the same real values, so the outputs agree to the bit."""
    from ai_edge_litert.interpreter import Interpreter

    from edgeseg.export.retype import uint8_io_copy

    dst = uint8_io_copy(DEFAULT_ARTIFACT, tmp_path / "u8.tflite")
    a, b = Interpreter(str(DEFAULT_ARTIFACT)), Interpreter(str(dst))
    a.allocate_tensors()
    b.allocate_tensors()
    ia, ib = a.get_input_details()[0], b.get_input_details()[0]
    oa, ob = a.get_output_details()[0], b.get_output_details()[0]
    assert (ib["dtype"], ob["dtype"]) == (np.uint8, np.uint8)
    assert ib["quantization"] == (ia["quantization"][0], ia["quantization"][1] + 128)
    assert ob["quantization"] == (oa["quantization"][0], oa["quantization"][1] + 128)
    u = np.random.default_rng(0).integers(0, 256, ib["shape"], dtype=np.uint8)
    a.set_tensor(ia["index"], (u.astype(np.int16) - 128).astype(np.int8))
    b.set_tensor(ib["index"], u)
    a.invoke()
    b.invoke()
    np.testing.assert_array_equal(a.get_tensor(oa["index"]).astype(np.int16) + 128, b.get_tensor(ob["index"]))


def test_shipped_uint8_artifact_is_gated_and_its_sha256_covers_the_metadata():
    from edgeseg.artifact import read_manifest, sha256_file

    m = read_manifest(UINT8)  # raises on a sha256 mismatch
    assert m is not None and m.sha256 == sha256_file(UINT8)
    assert (m.input.dtype, m.output.dtype) == ("uint8", "uint8")
    assert m.gate["passed"] and m.gate["split"] == "validation"
    meta = json.loads((UINT8.parent / "model.metadata.json").read_text())
    sub = meta["subgraph_metadata"][0]
    norm = sub["input_tensor_metadata"][0]["process_units"][0]
    assert norm["options_type"] == "NormalizationOptions"
    # MediaPipe's (pixel - mean) / std is the manifest's pixel * scale + offset.
    n = m.input_normalisation()
    assert norm["options"]["mean"] == [pytest.approx(-n.offset / n.scale)]
    assert norm["options"]["std"] == [pytest.approx(1 / n.scale)]
    assert sub["output_tensor_metadata"][0]["associated_files"][0]["name"] == "labels.txt"
    assert m.export_config["tflite_metadata"]["labels"] == ["lesion"]
    assert m.export_config["tflite_metadata"]["activation"] == "none"  # the sigmoid is inside the graph
    assert UINT8.read_bytes().find(b"lesion") > 0  # labels.txt is packed into the file


@needs_mp
def test_mediapipe_image_segmenter_matches_our_runner(sample_root, tmp_path):
    from edgeseg.data.decode import read_image
    from edgeseg.data.pipeline import resize_image
    from edgeseg.export.mediapipe import segment
    from edgeseg.runtime import load_runner

    runner = load_runner(UINT8)
    # A real test image at the model's own size, lossless: both sides then see the same pixels
    # (no resampling on either side to disagree about).
    image = resize_image(read_image(sorted((sample_root / "test" / "images").glob("*.jpg"))[0]), runner.input_size)
    png = tmp_path / "image.png"
    cv2.imwrite(str(png), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    conf = np.load(segment(UINT8, png, tmp_path / "conf.npy"))
    ours = runner(runner.normalisation.apply(image[None]).astype(np.float32))[0, ..., 0]
    assert conf.shape == ours.shape
    # Both read the same uint8 output; one output step allows for a different input rounding.
    step = runner.output_spec.scale
    assert float(np.abs(conf - ours).max()) <= step + 1e-7, float(np.abs(conf - ours).max())
    assert ours.max() > 0.5  # the lesion was found at all
