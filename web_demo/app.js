// The screening page: rear camera -> exported model (LiteRT.js, on this device) -> lesion outline,
// area, confidence, FPS and the screening hints of `edgeseg camera`. Freeze keeps a frame and its
// mask; Save downloads image, mask and JSON. Nothing is uploaded: the only requests this page
// makes are GETs for its own files (see the content security policy in index.html).
//
// window.edgeseg exposes the state for tests and curious users: engine, fps, the last result,
// the golden self-check, and the frozen frame's pixels and mask.

import {goldenCheck, listCandidates, loadArtifact} from './artifact.js';
import {ModelError} from './engine.js';
import {processFrame} from './screen.js';

const $ = (id) => document.getElementById(id);
const ui = {
  engine: $('engine'), fps: $('fps'), video: $('video'), view: $('view'), frozenTag: $('frozen-tag'),
  measure: $('measure'), hints: $('hints'), message: $('message'), notice: $('notice'), status: $('status'),
  freeze: $('freeze'), save: $('save'),
};

const state = {
  phase: 'starting', model: null, engine: null, selfCheck: null, fallbacks: [], errors: [],
  fps: 0, frames: 0, last: null, frozen: null, saved: [], camera: null, offlineReady: false,
};

const debug = {
  get phase() { return state.phase; },
  get fps() { return state.fps; },
  get frames() { return state.frames; },
  get engine() { return state.engine; },
  get model() { return state.model && {label: state.model.candidate.label, base: state.model.base, file: state.model.file, sha256: state.model.sha256, recipe: state.model.manifest.recipe, input_dtype: state.model.manifest.input.dtype}; },
  get selfCheck() { return state.selfCheck; },
  get fallbacks() { return state.fallbacks; },
  get errors() { return state.errors; },
  get camera() { return state.camera; },
  get last() { return state.last && record(state.last.result, state.last.W, state.last.H, state.last.fps); },
  get frozen() { return state.frozen && record(state.frozen.result, state.frozen.W, state.frozen.H, state.frozen.fps); },
  get saved() { return state.saved; },
  get offlineReady() { return state.offlineReady; },
  get message() { return ui.message.hidden ? '' : ui.message.textContent; },
  get notice() { return ui.notice.hidden ? '' : ui.notice.textContent; },
  /** The frozen frame as {width, height, rgba: number[] (RGBA), mask: number[] {0,1}} (tests). */
  frozenPixels() {
    const f = state.frozen;
    return f && {width: f.W, height: f.H, rgba: Array.from(f.rgba), mask: Array.from(f.result.mask)};
  },
  freeze: () => setFrozen(true),
  resume: () => setFrozen(false),
};
window.edgeseg = debug;

function setStatus(text) { ui.status.textContent = text; }

function showError(text) {
  ui.message.textContent = text;
  ui.message.hidden = false;
}

function showNotice(text) {
  ui.notice.textContent = text;
  ui.notice.hidden = false;
}

function fail(text) {
  state.phase = 'error';
  state.errors.push(text);
  showError(text);
  setStatus('stopped');
  ui.freeze.disabled = true;
}

// --- model ---------------------------------------------------------------------------------

function describeArtifact(c, manifest) {
  const dtype = manifest?.input?.dtype || c.input_dtype;
  const kind = dtype && dtype !== 'float32' ? dtype : (manifest?.recipe || c.recipe || 'float32');
  return `${c.label} (${kind})`;
}

async function loadModel() {
  const candidates = await listCandidates();
  const reasons = [];
  for (const c of candidates) {
    let loaded;
    try {
      loaded = await loadArtifact(c, (s) => setStatus(s + '…'));
      setStatus(`checking ${c.label} against its golden frame…`);
      const check = await goldenCheck(loaded);
      if (check.available && !check.passed) {
        loaded.engine.delete();
        throw new ModelError('golden', `its output in this browser differs from the Python reference on the golden frame ` +
          `(model output: mask IoU ${check.output_mask_iou.toFixed(3)}, mean |Δp| ${check.output_mean_abs_diff.toFixed(4)}; ` +
          `full frame: mask IoU ${check.frame_mask_iou.toFixed(3)})`);
      }
      state.selfCheck = check;
      return {loaded, reasons};
    } catch (e) {
      if (c.optional && e instanceof ModelError && e.kind === 'missing' && reasons.length) continue;
      const why = e instanceof ModelError ? e.message : `unexpected error: ${e.message || e}`;
      reasons.push({label: c.label, kind: e.kind || 'error', message: why});
      console.warn(`artifact ${c.label}:`, e);
    }
  }
  return {loaded: null, reasons};
}

// --- camera --------------------------------------------------------------------------------

function cameraMessage(e) {
  switch (e && e.name) {
    case 'NotAllowedError': case 'SecurityError': case 'PermissionDeniedError':
      return 'Camera permission was denied. Allow camera access for this page (address bar → site settings → Camera) and reload. The image never leaves this device.';
    case 'NotFoundError': case 'OverconstrainedError': case 'DevicesNotFoundError':
      return 'No camera was found on this device.';
    case 'NotReadableError': case 'TrackStartError':
      return 'The camera could not be started: another app may be using it. Close it and reload.';
    default:
      return `The camera could not be started (${(e && (e.name || e.message)) || e}).`;
  }
}

async function startCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new Error('This page needs a secure origin for the camera: open it over https:// or http://localhost (on a phone: `adb reverse tcp:8000 tcp:8000`).');
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: false, video: {facingMode: {ideal: 'environment'}, width: {ideal: 1280}, height: {ideal: 720}},
    });
  } catch (e) {
    throw new Error(cameraMessage(e));
  }
  ui.video.srcObject = stream;
  await ui.video.play();
  if (!ui.video.videoWidth) await new Promise((r) => ui.video.addEventListener('loadedmetadata', r, {once: true}));
  const track = stream.getVideoTracks()[0];
  const s = track.getSettings ? track.getSettings() : {};
  state.camera = {label: track.label, width: ui.video.videoWidth, height: ui.video.videoHeight, facingMode: s.facingMode || null, frameRate: s.frameRate || null};
}

// --- frame loop ----------------------------------------------------------------------------

const grab = {canvas: null, ctx: null};
let frameCounter = 0, processedCounter = -1;

function watchFrames() {
  if (ui.video.requestVideoFrameCallback) {
    const tick = () => { frameCounter++; ui.video.requestVideoFrameCallback(tick); };
    ui.video.requestVideoFrameCallback(tick);
  } else {
    frameCounter = NaN;  // no frame callbacks: process as fast as possible
  }
}

function nextFrame() {
  if (Number.isNaN(frameCounter) || frameCounter !== processedCounter) return new Promise((r) => setTimeout(r, 0));
  return new Promise((r) => ui.video.requestVideoFrameCallback(() => r()));
}

function grabFrame() {
  const W = ui.video.videoWidth, H = ui.video.videoHeight;
  if (!W || !H) return null;
  if (!grab.canvas || grab.canvas.width !== W || grab.canvas.height !== H) {
    grab.canvas = new OffscreenCanvas(W, H);
    grab.ctx = grab.canvas.getContext('2d', {willReadFrequently: true, alpha: false});
  }
  grab.ctx.drawImage(ui.video, 0, 0, W, H);
  return {rgba: grab.ctx.getImageData(0, 0, W, H).data, W, H};
}

const times = [];
function tickFps(t) {
  times.push(t);
  while (times.length > 1 && t - times[0] > 3000) times.shift();
  if (times.length >= 2) state.fps = (times.length - 1) / ((t - times[0]) / 1000);
}

// One processing loop at a time: a loop ends when the page leaves 'running' (after its frame in
// flight); a new one queues behind it, so Freeze/Resume in quick succession never runs two.
let loopChain = Promise.resolve();
function startLoop() {
  loopChain = loopChain.then(loop).catch((e) => fail(`Processing stopped: ${e.message || e}`));
}

async function loop() {
  while (state.phase === 'running') {
    const seen = frameCounter;
    const frame = grabFrame();
    if (!frame) { await new Promise((r) => setTimeout(r, 30)); continue; }
    const result = await processFrame(frame.rgba, frame.W, frame.H, state.model.contract, (x) => state.model.engine.run(x));
    processedCounter = seen;
    if (state.phase !== 'running') break;  // frozen meanwhile: keep the frozen frame on screen
    state.frames++;
    tickFps(performance.now());
    state.last = {...frame, result, fps: state.fps, time: new Date()};
    draw(state.last);
    await nextFrame();
  }
}

function outline(mask, W, H, thickness) {
  // Lesion pixels with a background 4-neighbour (or on the frame edge), widened to `thickness`.
  const edge = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      if (!mask[i]) continue;
      if (x === 0 || y === 0 || x === W - 1 || y === H - 1 || !mask[i - 1] || !mask[i + 1] || !mask[i - W] || !mask[i + W]) edge[i] = 1;
    }
  }
  if (thickness <= 1) return edge;
  const r = thickness >> 1, wide = new Uint8Array(W * H), tmp = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let v = 0;
      for (let d = -r; d <= r && !v; d++) { const xx = x + d; if (xx >= 0 && xx < W) v = edge[y * W + xx]; }
      tmp[y * W + x] = v;
    }
  }
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let v = 0;
      for (let d = -r; d <= r && !v; d++) { const yy = y + d; if (yy >= 0 && yy < H) v = tmp[yy * W + x]; }
      wide[y * W + x] = v;
    }
  }
  return wide;
}

function draw(f) {
  const {W, H, result} = f;
  if (ui.view.width !== W || ui.view.height !== H) { ui.view.width = W; ui.view.height = H; }
  const ctx = ui.view.getContext('2d');
  const img = new ImageData(new Uint8ClampedArray(f.rgba), W, H);
  const edge = outline(result.mask, W, H, Math.max(2, Math.round(H / 240)));
  for (let i = 0; i < edge.length; i++) {
    if (edge[i]) { img.data[i * 4] = 0; img.data[i * 4 + 1] = 255; img.data[i * 4 + 2] = 0; }
  }
  ctx.putImageData(img, 0, 0);
  const b = result.box;
  ctx.strokeStyle = 'rgba(255,255,255,.8)';
  ctx.lineWidth = 1;
  ctx.strokeRect(b.x + 0.5, b.y + 0.5, b.w - 1, b.h - 1);
  ui.measure.textContent = `lesion ${(100 * result.area_fraction).toFixed(1)}% of frame, confidence ${result.confidence.toFixed(2)}` +
    ` · inference ${result.latency_ms.inference.toFixed(0)} ms`;
  ui.fps.textContent = `${f.fps.toFixed(1)} FPS`;
  const fired = result.hints.filter((h) => h.fired);
  ui.hints.replaceChildren(...(fired.length ? fired.map((h) => li(`! ${h.message}`, '')) : [li('✓ good frame for screening', 'ok')]));
}

function li(text, cls) { const e = document.createElement('li'); e.textContent = text; if (cls) e.className = cls; return e; }

// --- freeze and save ------------------------------------------------------------------------

function setFrozen(on) {
  if (on && state.phase === 'running' && state.last) {
    state.phase = 'frozen';
    state.frozen = state.last;
    draw(state.frozen);
  } else if (!on && state.phase === 'frozen') {
    state.phase = 'running';
    state.frozen = null;
    startLoop();
  }
  const frozen = state.phase === 'frozen';
  ui.freeze.textContent = frozen ? 'Resume' : 'Freeze';
  ui.freeze.setAttribute('aria-pressed', String(frozen));
  ui.frozenTag.hidden = !frozen;
  return frozen;
}

function record(result, W, H, fps) {
  const firedNames = result.hints.filter((h) => h.fired).map((h) => h.name);
  return {
    area_fraction: result.area_fraction, confidence: result.confidence, crop_box: result.box,
    measures: result.measures, hints: firedNames, hint_values: result.hints, latency_ms: result.latency_ms,
    fps, frame: {width: W, height: H},
  };
}

function stamp(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

async function pngBlob(rgba, W, H) {
  const c = new OffscreenCanvas(W, H);
  c.getContext('2d').putImageData(new ImageData(rgba, W, H), 0, 0);
  return c.convertToBlob({type: 'image/png'});
}

function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url; a.download = name; a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

async function save() {
  if (state.phase === 'running') setFrozen(true);
  const f = state.frozen || state.last;
  if (!f) return;
  const name = `edgeseg-${stamp(f.time)}`;
  const maskRgba = new Uint8ClampedArray(f.W * f.H * 4);
  for (let i = 0; i < f.result.mask.length; i++) {
    const v = f.result.mask[i] ? 255 : 0;
    maskRgba[i * 4] = maskRgba[i * 4 + 1] = maskRgba[i * 4 + 2] = v; maskRgba[i * 4 + 3] = 255;
  }
  const m = state.model;
  const json = {
    app: 'edgeseg web', saved_at: new Date().toISOString(), uploaded: false,
    files: {image: `${name}_image.png`, mask: `${name}_mask.png`},
    ...record(f.result, f.W, f.H, f.fps),
    model: {label: m.candidate.label, file: m.base + m.file, sha256: m.sha256, format: m.manifest.format, recipe: m.manifest.recipe,
      input: m.manifest.input, output: m.manifest.output, model_name: m.manifest.model_name},
    engine: state.engine, fallbacks: state.fallbacks, self_check: state.selfCheck,
    postprocess: m.contract.postprocess, hint_config: m.contract.hints, normalisation: m.contract.normalisation,
    camera: state.camera,
  };
  const files = [
    [await pngBlob(new Uint8ClampedArray(f.rgba), f.W, f.H), json.files.image],
    [await pngBlob(maskRgba, f.W, f.H), json.files.mask],
    [new Blob([JSON.stringify(json, null, 1)], {type: 'application/json'}), `${name}.json`],
  ];
  for (const [blob, fileName] of files) {
    download(blob, fileName);
    await new Promise((r) => setTimeout(r, 250));  // browsers drop rapid-fire downloads
  }
  state.saved.push(files.map(([, n]) => n));
  setStatus(`saved ${files.map(([, n]) => n).join(', ')} to this device`);
}

// --- offline -------------------------------------------------------------------------------

async function registerServiceWorker() {
  if (!('serviceWorker' in navigator)) return;
  try {
    navigator.serviceWorker.addEventListener('message', (event) => {
      if (event.data?.type !== 'cached') return;
      state.offlineReady = event.data.missing === 0;
      document.getElementById('offline').hidden = !state.offlineReady;
    });
    await navigator.serviceWorker.register('sw.js');
    const reg = await navigator.serviceWorker.ready;
    // Files fetched before the worker took over are cached now, so the next visit works offline.
    const urls = [location.href.split('#')[0], ...performance.getEntriesByType('resource').map((e) => e.name)]
      .filter((u) => u.startsWith(location.origin));
    reg.active?.postMessage({type: 'cache', urls: [...new Set(urls)]});
  } catch (e) {
    console.warn('service worker not registered:', e);
  }
}

// --- start ---------------------------------------------------------------------------------

async function main() {
  ui.freeze.addEventListener('click', () => setFrozen(state.phase !== 'frozen'));
  ui.save.addEventListener('click', () => save().catch((e) => showError(`Saving failed: ${e.message || e}`)));

  state.phase = 'loading';
  setStatus('loading the model…');
  let model;
  try {
    model = await loadModel();
  } catch (e) {
    fail(`The model could not be loaded: ${e.message || e}`);
    return;
  }
  if (!model.loaded) {
    const lines = model.reasons.map((r) => `• ${r.label}: ${r.message}`);
    fail(`The model could not be loaded, so the page cannot screen.\n${lines.join('\n')}`);
    ui.engine.textContent = 'no model';
    return;
  }
  const {loaded, reasons} = model;
  state.model = loaded;
  state.fallbacks = reasons;
  const d = loaded.engine.describe();
  state.engine = {...d, artifact: loaded.candidate.label, recipe: loaded.manifest.recipe, input_dtype: loaded.manifest.input.dtype};
  ui.engine.textContent = `${describeArtifact(loaded.candidate, loaded.manifest)} · ${d.runtime} · ${d.text}`;
  if (reasons.length) {
    showNotice(`Running the fallback ${describeArtifact(loaded.candidate, loaded.manifest)}: ` +
      reasons.map((r) => `${r.label} could not be used (${r.message})`).join('; '));
  }
  registerServiceWorker();

  state.phase = 'camera';
  setStatus('starting the camera…');
  try {
    await startCamera();
  } catch (e) {
    fail(e.message);
    return;
  }
  const sc = state.selfCheck;
  setStatus(`camera ${state.camera.width}×${state.camera.height}` +
    (sc && sc.available ? ` · golden self-check passed (mask IoU ${sc.frame_mask_iou.toFixed(3)} vs Python)` : ''));
  ui.freeze.disabled = false;
  ui.save.disabled = false;
  state.phase = 'running';
  watchFrames();
  startLoop();
}

main();
