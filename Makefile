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

# Train unet_w025 briefly on the embedded real ISIC 2017 sample, score it on the sample's test
# split, and draw lesion outlines. It trains at 96x128 (4x fewer pixels than the 192x256 default)
# so it fits in a few minutes on 2 CPU cores; each run gets a new folder.
demo: $(STAMP)
	set -e; \
	run=$$($(BIN)/edgeseg train --model unet_w025 --size 96x128 --batch-size 4 --epochs 25 --project runs/demo | tee /dev/stderr | sed -n 's/^run: //p'); \
	$(BIN)/edgeseg eval "$$run" --split test; \
	$(BIN)/edgeseg predict "$$run" $(SAMPLE)/test "$$run/predict"; \
	echo "demo done: curves $$run/curves.png, scores $$run/eval/test/metrics.json, overlays $$run/predict/"

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
