// Loading an exported artifact (model file + manifest.json + golden/) and proving, in this
// browser, that it computes what the Python reference computed: the golden self-check runs the
// artifact's golden frame through screen.js and the engine and compares every stage.

import {LiteRtEngine, ModelError} from './engine.js';
import {DEFAULT_HINTS, DEFAULT_POSTPROCESS, processFrame, screeningHints} from './screen.js';

/** The artifacts to try, in order: from models.json (edgeseg serve-web), else the fixed routes. */
export async function listCandidates() {
  try {
    const r = await fetch('models.json', {cache: 'no-cache'});
    if (r.ok) {
      const body = await r.json();
      if (Array.isArray(body.models) && body.models.length) return body.models;
    }
  } catch { /* static hosting without models.json */ }
  return [{label: 'model', base: 'model/', file: 'model.tflite'}, {label: 'model-fallback', base: 'model-fallback/', file: 'model.tflite', optional: true}];
}

async function fetchOk(url, what) {
  let r;
  try {
    r = await fetch(url, {cache: 'no-cache'});
  } catch (e) {
    throw new ModelError('missing', `${what} could not be fetched from ${url} (${e.message || e}); is the server running?`);
  }
  if (!r.ok) throw new ModelError('missing', `${what} is missing: ${url} returned ${r.status} ${r.statusText || ''}`.trim() + '.');
  return r;
}

export function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The screening contract the page needs from a manifest, with the same defaults as Python. */
export function contractOf(manifest) {
  const need = ['input', 'output', 'input_size', 'normalisation', 'sha256', 'file'];
  const missing = need.filter((k) => manifest[k] === undefined || manifest[k] === null);
  if (missing.length) throw new ModelError('manifest', `manifest.json lacks ${missing.join(', ')}; it is not an edgeseg artifact manifest`);
  const post = {...DEFAULT_POSTPROCESS, ...(manifest.postprocess || {}), threshold: (manifest.postprocess || {}).threshold ?? manifest.threshold ?? 0.5};
  return {input_size: manifest.input_size, normalisation: manifest.normalisation, postprocess: post,
    hints: {...DEFAULT_HINTS, ...(manifest.hints || {})}};
}

/** Fetch, verify and compile one artifact. Throws ModelError with a user-facing message. */
export async function loadArtifact(candidate, onStatus = () => {}) {
  const base = candidate.base.endsWith('/') ? candidate.base : candidate.base + '/';
  onStatus(`fetching ${base}manifest.json`);
  const mr = await fetchOk(base + 'manifest.json', 'The model manifest');
  let manifest;
  try { manifest = await mr.json(); } catch (e) {
    throw new ModelError('manifest', `${base}manifest.json is not valid JSON (${e.message}); re-export the artifact`);
  }
  const contract = contractOf(manifest);
  const file = candidate.file || 'model.tflite';
  onStatus(`fetching ${base}${file}`);
  const bytes = new Uint8Array(await (await fetchOk(base + file, 'The model file')).arrayBuffer());
  const sha = hex(await crypto.subtle.digest('SHA-256', bytes));
  if (sha !== manifest.sha256) {
    throw new ModelError('mismatch', `the model file does not match its manifest: sha256 ${sha.slice(0, 12)}… but manifest.json says ${String(manifest.sha256).slice(0, 12)}…; ` +
      'the file was changed or replaced after export, so the page refuses to run it');
  }
  if (bytes.length < 8 || String.fromCharCode(...bytes.subarray(4, 8)) !== 'TFL3') {
    throw new ModelError('corrupt', `the model file ${base}${file} is corrupt or not a TFLite model (no TFL3 identifier, ${bytes.length} bytes)`);
  }
  onStatus(`compiling ${candidate.label}`);
  const engine = await LiteRtEngine.create(bytes, manifest);
  return {candidate, base, file, manifest, contract, engine, sha256: sha, size: bytes.length};
}

async function decodePng(url) {
  const blob = await (await fetchOk(url, 'A golden image')).blob();
  const bmp = await createImageBitmap(blob, {colorSpaceConversion: 'none', premultiplyAlpha: 'none'});
  const canvas = new OffscreenCanvas(bmp.width, bmp.height);
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  ctx.drawImage(bmp, 0, 0);
  return {data: ctx.getImageData(0, 0, bmp.width, bmp.height).data, width: bmp.width, height: bmp.height};
}

async function f32(url) {
  return new Float32Array(await (await fetchOk(url, 'A golden tensor')).arrayBuffer());
}

function iou(a, b) {
  let inter = 0, union = 0;
  for (let i = 0; i < a.length; i++) { const x = a[i] > 0, y = b[i] > 0; inter += x && y; union += x || y; }
  return union ? inter / union : 1;
}

/**
 * The artifact's golden frame through this page: crop box, input tensor, model output, mask,
 * measures and hints against the Python reference. Returns {available, passed, ...numbers};
 * `passed` needs the exact crop box, an input within 1e-6, mean |output| difference <= 0.01 and
 * mask IoU >= 0.98 (model output and final mask).
 */
export async function goldenCheck(loaded) {
  const g = loaded.base + 'golden/';
  let record;
  try {
    const r = await fetch(g + 'golden.json', {cache: 'no-cache'});
    if (!r.ok) return {available: false, passed: null, reason: `no golden vectors (${r.status})`};
    record = await r.json();
  } catch (e) { return {available: false, passed: null, reason: String(e.message || e)}; }
  const image = await decodePng(g + record.image.file);
  const goldInput = await f32(g + record.input.file);
  const goldOutput = await f32(g + record.output.file);
  const goldMask = await decodePng(g + record.mask.file);
  const result = await processFrame(image.data, image.width, image.height, loaded.contract, (x) => loaded.engine.run(x));
  let inMax = 0, outSum = 0, outMax = 0;
  for (let i = 0; i < goldInput.length; i++) inMax = Math.max(inMax, Math.abs(result.input[i] - goldInput[i]));
  // The model on the reference input too, so a resize difference cannot hide an engine difference.
  const prob = await loaded.engine.run(goldInput);
  const t = loaded.contract.postprocess.threshold;
  const a = new Uint8Array(prob.length), b = new Uint8Array(prob.length);
  for (let i = 0; i < prob.length; i++) {
    const d = Math.abs(prob[i] - goldOutput[i]); outSum += d; outMax = Math.max(outMax, d);
    a[i] = prob[i] > t; b[i] = goldOutput[i] > t;
  }
  const maskRef = new Uint8Array(goldMask.width * goldMask.height);
  for (let i = 0; i < maskRef.length; i++) maskRef[i] = goldMask.data[i * 4] > 127 ? 1 : 0;
  const box = result.box, gb = record.crop_box;
  const boxOk = box.x === gb.x && box.y === gb.y && box.w === gb.w && box.h === gb.h;
  const hints = screeningHints(result.measures, loaded.contract.hints);
  const firedPage = hints.filter((h) => h.fired).map((h) => h.name).join(',');
  const firedRef = record.hints.filter((h) => h.fired).map((h) => h.name).join(',');
  const measureDiff = {};
  for (const k of Object.keys(record.measures)) {
    const ref = record.measures[k];
    measureDiff[k] = Math.abs(result.measures[k] - ref) / Math.max(Math.abs(ref), 1e-9);
  }
  const out = {
    available: true, crop_box_equal: boxOk, input_max_abs_diff: inMax,
    output_mean_abs_diff: outSum / prob.length, output_max_abs_diff: outMax,
    output_mask_iou: iou(a, b), frame_mask_iou: iou(result.mask, maskRef),
    measures_rel_diff: measureDiff, measures: result.measures, hints_fired: firedPage, hints_fired_reference: firedRef,
  };
  out.passed = boxOk && inMax <= 1e-6 && out.output_mean_abs_diff <= 0.01 && out.output_mask_iou >= 0.98 && out.frame_mask_iou >= 0.98;
  return out;
}
