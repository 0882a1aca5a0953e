// Runs web_demo/screen.js on inputs written by tests/web/test_web_screen.py and writes its
// outputs back, so the JavaScript port can be compared with edgeseg's Python functions.
//   node screen_node.mjs jobs.json   (each job: {op, ...inputs as raw little-endian files})
import {readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {pathToFileURL} from 'node:url';

const [jobsFile, screenJs] = process.argv.slice(2);
const S = await import(pathToFileURL(screenJs).href);
const dir = (p) => join(jobsFile, '..', p);
const u8 = (p) => new Uint8Array(readFileSync(dir(p)));
const f32 = (p) => { const b = readFileSync(dir(p)); return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4); };
const put = (p, typed) => writeFileSync(dir(p), Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength));

const out = [];
for (const job of JSON.parse(readFileSync(jobsFile, 'utf8'))) {
  if (job.op === 'frame') {
    // The whole contract with a given probability map in place of the model.
    const rgb = u8(job.frame), n = job.W * job.H, rgba = new Uint8Array(n * 4);
    for (let i = 0; i < n; i++) { rgba[4 * i] = rgb[3 * i]; rgba[4 * i + 1] = rgb[3 * i + 1]; rgba[4 * i + 2] = rgb[3 * i + 2]; rgba[4 * i + 3] = 255; }
    const prob = f32(job.prob);
    const r = await S.processFrame(rgba, job.W, job.H, job.contract, async () => prob);
    put(job.id + '.small', r.small); put(job.id + '.input', r.input); put(job.id + '.mask', r.mask);
    out.push({id: job.id, box: r.box, measures: r.measures, hints: r.hints, area_fraction: r.area_fraction, confidence: r.confidence});
  } else if (job.op === 'postprocess') {
    put(job.id + '.mask', S.postprocess(f32(job.prob), job.w, job.h, job.post));
    out.push({id: job.id});
  } else if (job.op === 'quantize') {
    const q = S.quantize(f32(job.x), job.spec);
    put(job.id + '.q', q); put(job.id + '.dq', S.dequantize(q, job.spec));
    out.push({id: job.id});
  } else if (job.op === 'disk') {
    out.push({id: job.id, offsets: S.diskOffsets(job.r)});
  } else if (job.op === 'crop') {
    out.push({id: job.id, boxes: job.frames.map(([H, W]) => S.cropBox(H, W, job.h, job.w))});
  }
}
writeFileSync(dir('results.json'), JSON.stringify(out));
