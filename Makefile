# The two commands a fresh clone needs:  `make demo`  and  `make test`.
# Each creates .venv with the pinned, measured-together stack (requirements.lock) on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
SAMPLE := edgeseg/assets/isic2017_sample

.PHONY: demo test test-slow install clean-venv mediapipe-venv

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $@

# The main job on the embedded real ISIC 2017 sample, end to end, in a few minutes on 2 CPU cores
# (docs/demo.md): train unet_w025 briefly at 96x128 (4x fewer pixels than the 192x256 default),
# export int8 TFLite and ONNX gated against the float model (exit 3, a missed gate, is shown on the
# page, not fatal), bench every artifact, run the shipped model on the sample's test images with its
# shipped post-processing (largest component, holes filled: its manifest), score both models on
# those images, and write one page, RUN/demo.html. Each run gets a new folder under runs/demo/.
demo: $(STAMP)
	set -e; \
	run=$$($(BIN)/edgeseg train --model unet_w025 --size 96x128 --batch-size 4 --epochs 25 --project runs/demo | tee /dev/stderr | sed -n 's/^run: //p'); \
	$(BIN)/edgeseg export "$$run" --int8 --no-fallback || [ $$? -eq 3 ]; \
	$(BIN)/edgeseg bench "$$run" --threads 2 --runtime keras --runtime tflite --runtime ort-cpu \
		--min-runs 10 --min-seconds 0.5 --no-frame --out "$$run/bench"; \
	$(BIN)/edgeseg eval "$$run" --split test --out "$$run/eval/test"; \
	shipped=$$($(BIN)/python -c 'from edgeseg.defaults import default_artifact; print(default_artifact())'); \
	$(BIN)/edgeseg predict --largest --fill-holes "$$shipped" $(SAMPLE)/test "$$run/shipped/predict"; \
	$(BIN)/edgeseg eval "$$shipped" --data $(SAMPLE) --split test --largest --fill-holes --out "$$run/shipped/eval"; \
	$(BIN)/edgeseg demo-report "$$run"

# Browser tests need Debian's Chromium and web_demo's pinned npm packages; the script installs them
# when missing (apt-get, as root or via sudo). Without them tests/web skips, except under CI=true.
test: $(STAMP)
	bash web_demo/ci_test.sh || echo "warning: web_demo set-up failed; tests/web will skip (fail under CI)"
	$(MAKE) mediapipe-venv || echo "warning: .venv-mediapipe set-up failed; the MediaPipe test will skip (fail under CI)"
	$(BIN)/python -m pytest -m "not slow" -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow -q

# MediaPipe's metadata writer and Tasks runtime in their own pinned environment (docs/mediapipe.md):
# they cannot share requirements.lock (absl-py and numpy pins). Built once per requirements file.
MP_VENV  := .venv-mediapipe
MP_REQ   := tools/mediapipe/requirements.txt
MP_STAMP := $(MP_VENV)/.installed-$(shell cat $(MP_REQ) | cksum | cut -d' ' -f1)

mediapipe-venv: $(MP_STAMP)

$(MP_STAMP): $(MP_REQ)
	test -x $(MP_VENV)/bin/python || python3.11 -m venv $(MP_VENV) || $(PYTHON) -m venv $(MP_VENV)
	$(MP_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -r $(MP_REQ)
	$(MP_VENV)/bin/python -c "from mediapipe.tasks.python.metadata.metadata_writers import image_segmenter; from mediapipe.tasks.python import vision"
	rm -f $(MP_VENV)/.installed-* && touch $@

clean-venv:
	rm -rf $(VENV) $(MP_VENV)
