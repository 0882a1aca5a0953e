// Inference engines for the page: LiteRT.js (the exported .tflite) on WebGPU or Wasm/XNNPACK.
//
// LiteRT.js's public Tensor API knows float32, int32 and uint8 only, so a full-integer model
// (int8 input and output, the phone artifact) is driven through the same Wasm bindings that
// loadAndCompile() uses internally: the bytes are quantized here with the manifest's scale and
// zero point, exactly as edgeseg's Python TFLite runner does (screen.js quantize/dequantize).
// Float models go through the public API and may use WebGPU.

import * as litert from './vendor/litertjs/core/index.js';
import {dequantize, quantize} from './screen.js';

const WASM_DIR = new URL('./vendor/litertjs/wasm/', import.meta.url).href;
let runtime = null;  // {lrt, threads, webgpu, version}

/** An error whose message is shown to the user as is. */
export class ModelError extends Error {
  constructor(kind, message) { super(message); this.kind = kind; }
}

/** Load the LiteRT.js Wasm runtime once: threaded when the page is cross-origin isolated. */
export async function initRuntime() {
  if (runtime) return runtime;
  let threads = false;
  try {
    threads = self.crossOriginIsolated === true && await litert.supportsFeature('threads') &&
      await litert.supportsFeature('relaxedSimd');
  } catch { threads = false; }
  let lrt;
  try {
    lrt = await litert.loadLiteRt(WASM_DIR, threads ? {threads: true} : {});
  } catch (e) {
    if (!threads) throw e;
    threads = false;
    lrt = await litert.loadLiteRt(WASM_DIR, {});
  }
  // loadLiteRt() already asked for a WebGPU device (none in a browser without a usable GPU).
  let webgpu = null;
  try {
    const device = litert.getWebGpuDevice();
    if (device) webgpu = (device.adapterInfo && (device.adapterInfo.description || device.adapterInfo.vendor)) || 'GPU';
  } catch { webgpu = null; }
  let version = '';
  try { version = (await (await fetch(new URL('./vendor/litertjs/VERSION', import.meta.url))).text()).trim(); } catch { /* optional */ }
  runtime = {lrt, threads, threadCount: lrt.liteRtWasm.getThreadCount(), webgpu, version};
  return runtime;
}

const ELEMENT = {1: 'float32', 3: 'uint8', 9: 'int8'};

function dims(rankedType) {
  const layout = rankedType.layout(), vec = layout.dimensions(), out = [];
  for (let i = 0; i < vec.size(); i++) out.push(vec.get(i));
  vec.delete(); layout.delete();
  return out;
}

function sameShape(a, b) { return a.length === b.length && a.every((v, i) => v === Number(b[i])); }

/** Check the model's own tensors against the manifest; throw ModelError('mismatch') if they differ. */
function checkContract(manifest, input, output) {
  const problems = [];
  const [h, w] = manifest.input_size;
  if (!sameShape(input.shape, manifest.input.shape)) problems.push(`input shape ${JSON.stringify(input.shape)} but the manifest says ${JSON.stringify(manifest.input.shape)}`);
  else if (input.shape[1] !== h || input.shape[2] !== w || input.shape[3] !== 3) problems.push(`input shape ${JSON.stringify(input.shape)} does not match the manifest's input_size ${h}×${w}×3`);
  if (input.dtype !== manifest.input.dtype) problems.push(`input type ${input.dtype} but the manifest says ${manifest.input.dtype}`);
  if (!sameShape(output.shape, manifest.output.shape)) problems.push(`output shape ${JSON.stringify(output.shape)} but the manifest says ${JSON.stringify(manifest.output.shape)}`);
  if (output.dtype !== manifest.output.dtype) problems.push(`output type ${output.dtype} but the manifest says ${manifest.output.dtype}`);
  for (const [role, t] of [['input', manifest.input], ['output', manifest.output]]) {
    if (t.dtype !== 'float32' && !(t.scale > 0 && Number.isInteger(t.zero_point))) problems.push(`the manifest gives the ${t.dtype} ${role} no scale/zero point`);
  }
  if (problems.length) throw new ModelError('mismatch', `the model does not match its manifest: ${problems.join('; ')}`);
}

/** A compiled model. `await engine.run(x)`: normalised float32 NHWC input -> float32 probabilities. */
export class LiteRtEngine {
  static async create(bytes, manifest, {accelerator = 'auto'} = {}) {
    const rt = await initRuntime();
    const integer = manifest.input.dtype !== 'float32' || manifest.output.dtype !== 'float32';
    // Integer models run on Wasm/XNNPACK, whose int8 kernels they were made for (LiteRT.js's
    // public WebGPU path takes float tensors); float models use WebGPU when the browser has it.
    const useGpu = !integer && rt.webgpu && accelerator !== 'wasm';
    const engine = integer ? new IntegerEngine(rt, bytes, manifest) : new FloatEngine(rt, bytes, manifest, useGpu ? 'webgpu' : 'wasm');
    try {
      await engine.compile();
    } catch (e) {
      engine.delete();
      throw e;
    }
    return engine;
  }

  describe() {
    const rt = this.rt;
    const cpu = `Wasm/XNNPACK, ${rt.threads ? rt.threadCount + ' threads' : '1 thread'}`;
    const acc = this.accelerator === 'webgpu' ? `WebGPU (${rt.webgpu})`
      : this.accelerator === 'webgpu+wasm' ? `WebGPU (${rt.webgpu}) + ${cpu}` : cpu;
    return {runtime: `LiteRT.js ${rt.version}`.trim(), accelerator: this.accelerator, text: acc, threads: rt.threads ? rt.threadCount : 1};
  }
}

class IntegerEngine extends LiteRtEngine {
  constructor(rt, bytes, manifest) { super(); Object.assign(this, {rt, bytes, manifest, accelerator: 'wasm'}); }

  async compile() {
    const w = this.rt.lrt.liteRtWasm, env = this.rt.lrt.getDefaultEnvironment();
    this.ptr = w._malloc(this.bytes.byteLength);
    w.HEAPU8.set(this.bytes, this.ptr);
    try {
      this.model = w.loadModel(env.liteRtEnvironment, this.ptr, this.bytes.byteLength);
      this.compiled = await w.compileModel(env.liteRtEnvironment, this.model, {
        environment: env, accelerator: 'wasm', cpuOptions: {numThreads: w.getThreadCount()}, gpuOptions: {}, webNNOptions: {},
      });
    } catch (e) {
      this.delete();
      throw new ModelError('corrupt', `LiteRT.js could not load the model file (${e.message || e}); the file is corrupt or not a TFLite model`);
    }
    if (this.model.getNumSignatures() < 1) throw new ModelError('corrupt', 'the model file has no signature to run');
    const sig = this.model.getSignature(0);
    const nIn = sig.inputNames().size(), nOut = sig.outputNames().size();
    sig.delete();
    if (nIn !== 1 || nOut !== 1) throw new ModelError('mismatch', `the model has ${nIn} inputs and ${nOut} outputs; the page needs one of each`);
    this.inType = this.model.getInputTensorType(0, 0);
    const outType = this.model.getOutputTensorType(0, 0);
    this.input = {shape: dims(this.inType), dtype: ELEMENT[this.inType.elementType().value] || `element type ${this.inType.elementType().value}`};
    this.output = {shape: dims(outType), dtype: ELEMENT[outType.elementType().value] || `element type ${outType.elementType().value}`};
    outType.delete();
    checkContract(this.manifest, this.input, this.output);
    this.inBytes = this.inType.bytes();
  }

  async run(x) {
    const w = this.rt.lrt.liteRtWasm, env = this.rt.lrt.getDefaultEnvironment();
    const q = quantize(x, this.manifest.input);
    const buf = w.LiteRtTensorBuffer.createManaged(env.liteRtEnvironment, w.LiteRtTensorBufferType.HOST_MEMORY, this.inType, this.inBytes);
    let outs;
    try {
      const p = buf.lock(w.LiteRtTensorBufferLockMode.WRITE);
      w.HEAPU8.set(new Uint8Array(q.buffer, q.byteOffset, q.byteLength), p);
      buf.unlock();
      outs = await this.compiled.run(0, [buf]);
    } finally { buf.delete(); }
    try {
      const out = outs[0], n = out.packedSize();
      const p = out.lock(w.LiteRtTensorBufferLockMode.READ);
      const raw = w.HEAPU8.slice(p, p + n);
      out.unlock();
      const typed = this.output.dtype === 'int8' ? new Int8Array(raw.buffer) : new Uint8Array(raw.buffer);
      return dequantize(typed, this.manifest.output);
    } finally { for (const o of outs) o.delete(); }
  }

  delete() {
    for (const k of ['compiled', 'inType', 'model']) { try { this[k]?.delete(); } catch { /* gone */ } this[k] = null; }
    if (this.ptr) { this.rt.lrt.liteRtWasm._free(this.ptr); this.ptr = 0; }
  }
}

class FloatEngine extends LiteRtEngine {
  constructor(rt, bytes, manifest, accelerator) { super(); Object.assign(this, {rt, bytes, manifest, accelerator}); }

  async compile() {
    try {
      this.model = await litert.loadAndCompile(this.bytes, {accelerator: this.accelerator});
    } catch (e) {
      if (this.accelerator === 'webgpu') { this.accelerator = 'wasm'; return this.compile(); }
      throw new ModelError('corrupt', `LiteRT.js could not load the model file (${e.message || e}); the file is corrupt or not a TFLite model`);
    }
    // Without JSPI, LiteRT.js recompiles a model WebGPU cannot run whole on Wasm: report what runs.
    this.accelerator = (this.model.options && this.model.options.accelerator) || this.accelerator;
    if (this.accelerator === 'webgpu' && !this.model.isFullyAccelerated) this.accelerator = 'webgpu+wasm';
    const ins = this.model.getInputDetails(), outs = this.model.getOutputDetails();
    if (ins.length !== 1 || outs.length !== 1) throw new ModelError('mismatch', `the model has ${ins.length} inputs and ${outs.length} outputs; the page needs one of each`);
    this.input = {shape: Array.from(ins[0].shape), dtype: ins[0].dtype};
    this.output = {shape: Array.from(outs[0].shape), dtype: outs[0].dtype};
    checkContract(this.manifest, this.input, this.output);
  }

  async run(x) {
    const t = new litert.Tensor(x, this.input.shape);
    let outs;
    try { outs = await this.model.run(t); } finally { t.delete(); }
    try {
      const host = outs[0].accelerator === 'wasm' ? outs[0] : await outs[0].copyTo('wasm');
      const data = host.toTypedArray();
      if (host !== outs[0]) host.delete();
      return data;
    } finally { for (const o of outs) o.delete(); }
  }

  delete() { try { this.model?.delete(); } catch { /* gone */ } this.model = null; }
}
