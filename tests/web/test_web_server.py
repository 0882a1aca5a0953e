"""``edgeseg serve-web`` and edgeseg.web: what is served (and what is not), the headers the page
relies on, and a clear error for every artifact it cannot serve. No browser needed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _webtools import REPO, WEB, copy_artifact

from edgeseg.defaults import DEFAULT_ARTIFACT, SHIPPED
from edgeseg.errors import RunError
from edgeseg.web import check_web_dir, make_server, plan_models, resolve_model_file, start_background

FP32 = DEFAULT_ARTIFACT.parent.parent / "tflite_fp32" / "model.tflite"
pytestmark = pytest.mark.skipif(not DEFAULT_ARTIFACT.is_file(), reason="the shipped model (edgeseg.defaults.SHIPPED) is missing")


@pytest.fixture()
def web_dir(tmp_path):
    """A copy of the page with a stand-in vendor/ folder, so these tests need no npm install."""
    dest = tmp_path / "web"
    shutil.copytree(WEB, dest, ignore=shutil.ignore_patterns("node_modules", "vendor"))
    (dest / "vendor" / "litertjs" / "core").mkdir(parents=True)
    (dest / "vendor" / "litertjs" / "wasm").mkdir()
    (dest / "vendor" / "litertjs" / "core" / "index.js").write_text("export {};\n")
    (dest / "vendor" / "litertjs" / "wasm" / "x.wasm").write_bytes(b"\0asm\1\0\0\0")
    (dest / "node_modules" / "secret").mkdir(parents=True)
    (dest / "node_modules" / "secret" / "index.js").write_text("// not for the browser\n")
    return dest


@pytest.fixture()
def server(web_dir):
    s = make_server(plan_models(), port=0, web_dir=web_dir)
    start_background(s)
    yield s
    s.shutdown()
    s.server_close()


def get(server, path, method="GET"):
    req = urllib.request.Request(server.url.rstrip("/") + path, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_plan_defaults_to_the_shipped_int8_model_with_its_float_fallback():
    models = plan_models()
    assert models[0].route == "model"
    assert models[0].folder == DEFAULT_ARTIFACT.parent and models[0].manifest["input"]["dtype"] == "int8"
    assert models[0].sha256_ok
    if FP32.is_file():
        assert models[1].route == "model-fallback" and models[1].manifest["recipe"] == "fp32"
    assert len(plan_models(use_fallback=False)) == 1
    # A float artifact has no fallback of its own; a folder works as well as the file.
    if FP32.is_file():
        assert [m.label for m in plan_models(FP32.parent)] == ["tflite_fp32"]


def test_serves_the_page_the_models_and_nothing_else(server):
    status, headers, body = get(server, "/")
    assert status == 200 and b"Content-Security-Policy" in body and b"connect-src 'self'" in body
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin" and headers["Cross-Origin-Embedder-Policy"] == "require-corp"
    models = json.loads(get(server, "/models.json")[2])["models"]
    assert models[0]["base"] == "model/" and models[0]["input_dtype"] == "int8"
    assert get(server, "/model/model.tflite")[2] == DEFAULT_ARTIFACT.read_bytes()
    assert get(server, "/model/manifest.json")[2] == (DEFAULT_ARTIFACT.parent / "manifest.json").read_bytes()
    assert get(server, "/model/golden/golden.json")[0] == 200
    if FP32.is_file():
        assert get(server, "/model-fallback/model.tflite")[2] == FP32.read_bytes()
    assert get(server, "/vendor/litertjs/wasm/x.wasm")[1]["Content-type"] == "application/wasm"
    assert get(server, "/manifest.webmanifest")[1]["Content-type"] == "application/manifest+json"
    for path in ("/node_modules/secret/index.js", "/package.json", "/vendor.mjs", "/model/", "/model/../../../pyproject.toml",
                 "/%2e%2e/pyproject.toml", "/vendor/", "/.gitignore", "/model-missing/model.tflite"):
        assert get(server, path)[0] == 404, path


def test_refuses_uploads_and_logs_every_request(server):
    assert get(server, "/", method="POST")[0] == 405
    assert get(server, "/model/model.tflite", method="PUT")[0] == 405
    assert get(server, "/", method="HEAD")[0] == 200
    methods = [m for m, _, _ in server.requests.snapshot()]
    assert methods == ["POST", "PUT", "HEAD"]


def test_unusable_artifacts_are_refused_with_a_clear_error(tmp_path):
    with pytest.raises(RunError, match="no such artifact"):
        plan_models(tmp_path / "nope" / "model.tflite")
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(DEFAULT_ARTIFACT, bare / "model.tflite")
    with pytest.raises(RunError, match="no manifest.json"):
        resolve_model_file(bare / "model.tflite")
    onnx = SHIPPED / "onnx_static_wi8_ai8-weights8"
    if onnx.is_dir():
        with pytest.raises(RunError, match="runs TFLite models"):
            resolve_model_file(onnx)
    gone = copy_artifact(DEFAULT_ARTIFACT, tmp_path / "gone")
    gone.unlink()
    with pytest.raises(RunError, match="model file missing"):
        resolve_model_file(gone.parent)
    changed = copy_artifact(DEFAULT_ARTIFACT, tmp_path / "changed")
    changed.write_bytes(changed.read_bytes()[:-1] + b"\0")
    assert not plan_models(changed, use_fallback=False)[0].sha256_ok  # served, and the page refuses it


def test_web_dir_without_npm_install_is_explained(tmp_path, web_dir):
    shutil.rmtree(web_dir / "vendor")
    with pytest.raises(RunError, match="npm ci"):
        check_web_dir(web_dir)
    with pytest.raises(RunError, match="index.html"):
        check_web_dir(tmp_path / "empty")


def test_cli_serves_and_errors_in_one_line(tmp_path, web_dir):
    code = ("import sys; import edgeseg.cli.serve_web; from edgeseg.cli import main; sys.exit(main(sys.argv[1:]))")
    bad = subprocess.run([sys.executable, "-c", code, "serve-web", str(tmp_path / "missing.tflite")],
                         check=False, capture_output=True, text=True, timeout=60, cwd=REPO)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "no such artifact" in bad.stderr
    proc = subprocess.Popen([sys.executable, "-c", code, "serve-web", "--port", "0", "--web-dir", str(web_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)
    try:
        lines = []
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if line.startswith("serving "):
                break
        url = lines[-1].split()[1]
        assert url.startswith("http://localhost:"), lines
        assert any(line.startswith("model: ") and "tflite_static_wi8_ai8_int8io" in line for line in lines)
        with urllib.request.urlopen(url + "models.json", timeout=10) as r:
            assert json.loads(r.read())["models"][0]["label"] == "tflite_static_wi8_ai8_int8io"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
