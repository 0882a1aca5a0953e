// The frame contract of edgeseg.screen (frame.py, hints.py, postprocess.py) in plain JavaScript,
// so the page computes what `edgeseg camera` and the Python TFLite runner compute, to the bit
// where it matters (crop box, resize, normalisation, quantization, measures, hints).
//
// Pure functions over typed arrays; no DOM, so Node can import this file too (the tests do).
// Images are interleaved RGB (Uint8Array, 3 bytes a pixel) or RGBA (4 bytes, as from a canvas)
// in row-major order; masks are Uint8Array {0, 1}; probabilities Float32Array.

const f32 = Math.fround;

/** Round half to even, as OpenCV's cvRound and numpy's round do. */
export function roundHalfEven(v) {
  const r = Math.round(v);
  return (r - v === 0.5 && r % 2 !== 0) ? r - 1 : r;
}

/** Largest centred box of the frame (H, W) with the model's aspect ratio (h, w); integers only. */
export function cropBox(H, W, h, w) {
  let ch, cw;
  if (W * h > H * w) { ch = H; cw = Math.floor(H * w / h); } else { ch = Math.floor(W * h / w); cw = W; }
  return {y: Math.floor((H - ch) / 2), x: Math.floor((W - cw) / 2), h: ch, w: cw};
}

/** Copy the box out of an RGBA (channels=4) or RGB (3) frame of width W as packed RGB. */
export function cropRgb(pixels, W, box, channels = 4) {
  const out = new Uint8Array(box.w * box.h * 3);
  let o = 0;
  for (let y = box.y; y < box.y + box.h; y++) {
    let i = (y * W + box.x) * channels;
    for (let x = 0; x < box.w; x++, i += channels) {
      out[o++] = pixels[i]; out[o++] = pixels[i + 1]; out[o++] = pixels[i + 2];
    }
  }
  return out;
}

// --- resize: edgeseg.data.pipeline.resize_image = OpenCV INTER_AREA down, INTER_LINEAR up ------

// OpenCV's computeResizeAreaTab: which source pixels feed each destination pixel, with weights.
function areaTab(ssize, dsize, cn, scale) {
  const di = [], si = [], alpha = [];
  for (let dx = 0; dx < dsize; dx++) {
    const fsx1 = dx * scale, fsx2 = fsx1 + scale;
    const cellWidth = Math.min(scale, ssize - fsx1);
    let sx1 = Math.ceil(fsx1), sx2 = Math.floor(fsx2);
    sx2 = Math.min(sx2, ssize - 1);
    sx1 = Math.min(sx1, sx2);
    if (sx1 - fsx1 > 1e-3) { di.push(dx * cn); si.push((sx1 - 1) * cn); alpha.push(f32((sx1 - fsx1) / cellWidth)); }
    for (let sx = sx1; sx < sx2; sx++) { di.push(dx * cn); si.push(sx * cn); alpha.push(f32(1.0 / cellWidth)); }
    if (fsx2 - sx2 > 1e-3) {
      di.push(dx * cn); si.push(sx2 * cn);
      alpha.push(f32(Math.min(Math.min(fsx2 - sx2, 1.0), cellWidth) / cellWidth));
    }
  }
  return {di: Int32Array.from(di), si: Int32Array.from(si), alpha: Float32Array.from(alpha)};
}

const sat8 = (v) => { const r = roundHalfEven(v); return r < 0 ? 0 : r > 255 ? 255 : r; };

// OpenCV's ResizeArea_Invoker for uchar, 3 channels: float32 accumulation, row by row.
function resizeAreaGeneral(src, sw, sh, dw, dh, scaleX, scaleY) {
  const cn = 3, xt = areaTab(sw, dw, cn, scaleX), yt = areaTab(sh, dh, 1, scaleY);
  const out = new Uint8Array(dw * dh * cn), width = dw * cn;
  const buf = new Float32Array(width), sum = new Float32Array(width);
  let prevDy = yt.di[0];
  for (let j = 0; j < yt.di.length; j++) {
    const beta = yt.alpha[j], dy = yt.di[j], row = yt.si[j] * sw * cn;
    buf.fill(0);
    for (let k = 0; k < xt.di.length; k++) {
      const s = row + xt.si[k], d = xt.di[k], a = xt.alpha[k];
      buf[d] = f32(buf[d] + f32(src[s] * a));
      buf[d + 1] = f32(buf[d + 1] + f32(src[s + 1] * a));
      buf[d + 2] = f32(buf[d + 2] + f32(src[s + 2] * a));
    }
    if (dy !== prevDy) {
      const o = prevDy * width;
      for (let x = 0; x < width; x++) { out[o + x] = sat8(sum[x]); sum[x] = f32(beta * buf[x]); }
      prevDy = dy;
    } else {
      for (let x = 0; x < width; x++) sum[x] = f32(sum[x] + f32(beta * buf[x]));
    }
  }
  const o = prevDy * width;
  for (let x = 0; x < width; x++) out[o + x] = sat8(sum[x]);
  return out;
}

// OpenCV's resizeAreaFast (integer scale factors): exact integer sums; for 2x2 the SIMD rounding.
function resizeAreaFast(src, sw, sh, dw, dh, sx, sy) {
  const cn = 3, out = new Uint8Array(dw * dh * cn), area = sx * sy, scale = f32(1 / area);
  for (let dy = 0; dy < dh; dy++) {
    for (let dx = 0; dx < dw; dx++) {
      for (let c = 0; c < cn; c++) {
        let s = 0, count = 0;
        for (let yy = 0; yy < sy; yy++) {
          const y = dy * sy + yy;
          if (y >= sh) break;
          for (let xx = 0; xx < sx; xx++) {
            const x = dx * sx + xx;
            if (x >= sw) break;
            s += src[(y * sw + x) * cn + c]; count++;
          }
        }
        let v;
        if (count !== area) v = sat8(f32(s / count));
        else if (sx === 2 && sy === 2) v = (s + 2) >> 2;
        else v = sat8(f32(s * scale));
        out[(dy * dw + dx) * cn + c] = v;
      }
    }
  }
  return out;
}

// OpenCV's INTER_LINEAR coefficients: source index and weight of each destination pixel.
function linearTab(ssize, dsize) {
  const scale = 1 / (dsize / ssize), ofs = new Int32Array(dsize), a = new Float32Array(dsize);
  for (let d = 0; d < dsize; d++) {
    let fx = f32((d + 0.5) * scale - 0.5);
    let sx = Math.floor(fx);
    fx = f32(fx - sx);
    if (sx < 0) { fx = 0; sx = 0; }
    if (sx >= ssize - 1) { fx = 0; sx = ssize - 1; }
    ofs[d] = sx; a[d] = fx;
  }
  return {ofs, a};
}

// Bilinear resize with float weights (uchar input is rounded; OpenCV's uchar path is fixed-point,
// so upscaled frames may differ by one grey level: that only happens for frames smaller than
// the model input).
function resizeLinear(src, sw, sh, dw, dh, cn, toUint8) {
  const xt = linearTab(sw, dw), yt = linearTab(sh, dh);
  const out = toUint8 ? new Uint8Array(dw * dh * cn) : new Float32Array(dw * dh * cn);
  const row0 = new Float32Array(dw * cn), row1 = new Float32Array(dw * cn);
  const hres = (y, row) => {
    const base = y * sw * cn;
    for (let d = 0; d < dw; d++) {
      const sx = xt.ofs[d], a1 = xt.a[d], a0 = f32(1 - a1), sx1 = Math.min(sx + 1, sw - 1);
      for (let c = 0; c < cn; c++) {
        const v0 = src[base + sx * cn + c], v1 = src[base + sx1 * cn + c];
        row[d * cn + c] = a1 === 0 ? v0 : f32(f32(v0 * a0) + f32(v1 * a1));
      }
    }
  };
  let y0 = -1, y1 = -1;
  for (let dy = 0; dy < dh; dy++) {
    const sy = yt.ofs[dy], b1 = yt.a[dy], b0 = f32(1 - b1), sy1 = Math.min(sy + 1, sh - 1);
    if (y0 !== sy) { hres(sy, row0); y0 = sy; }
    if (y1 !== sy1) { hres(sy1, row1); y1 = sy1; }
    const o = dy * dw * cn;
    for (let x = 0; x < dw * cn; x++) {
      const v = b1 === 0 ? row0[x] : f32(f32(row0[x] * b0) + f32(row1[x] * b1));
      out[o + x] = toUint8 ? sat8(v) : v;
    }
  }
  return out;
}

/** RGB (sw×sh) -> RGB (dw×dh) exactly as edgeseg.data.pipeline.resize_image (OpenCV). */
export function resizeRgb(src, sw, sh, dw, dh) {
  if (sw === dw && sh === dh) return src;
  if (sh > dh && sw >= dw) {
    const scaleX = 1 / (dw / sw), scaleY = 1 / (dh / sh);
    const ix = roundHalfEven(scaleX), iy = roundHalfEven(scaleY);
    if (Math.abs(scaleX - ix) < Number.EPSILON && Math.abs(scaleY - iy) < Number.EPSILON) {
      return resizeAreaFast(src, sw, sh, dw, dh, ix, iy);
    }
    return resizeAreaGeneral(src, sw, sh, dw, dh, scaleX, scaleY);
  }
  return resizeLinear(src, sw, sh, dw, dh, 3, true);
}

/** Float map (sw×sh, 1 channel) -> (dw×dh), bilinear: edgeseg.postprocess.resize_prob. */
export function resizeProb(prob, sw, sh, dw, dh) {
  if (sw === dw && sh === dh) return prob;
  return resizeLinear(prob, sw, sh, dw, dh, 1, false);
}

// --- normalisation and quantization (edgeseg.config.Normalisation, runtime.tflite_runner) -------

/** uint8 RGB -> float32 model input: x = pixel * scale + offset (float32 arithmetic). */
export function normalise(rgb, norm) {
  const s = f32(norm.scale), o = f32(norm.offset), out = new Float32Array(rgb.length);
  for (let i = 0; i < rgb.length; i++) out[i] = f32(f32(rgb[i] * s) + o);
  return out;
}

/** float32 -> int8/uint8: q = clip(round(x / scale) + zero_point) (round half to even). */
export function quantize(x, spec) {
  const signed = spec.dtype === 'int8';
  const lo = signed ? -128 : 0, hi = signed ? 127 : 255, s = f32(spec.scale), zp = spec.zero_point;
  const out = signed ? new Int8Array(x.length) : new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const q = roundHalfEven(f32(x[i] / s)) + zp;
    out[i] = q < lo ? lo : q > hi ? hi : q;
  }
  return out;
}

/** int8/uint8 -> float32: (q - zero_point) * scale. */
export function dequantize(q, spec) {
  const s = f32(spec.scale), zp = f32(spec.zero_point), out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = f32(f32(q[i] - zp) * s);
  return out;
}

// --- post-processing (edgeseg.postprocess) -------------------------------------------------------

/** cv2.getStructuringElement(MORPH_ELLIPSE, (2r+1, 2r+1)) as a list of [dy, dx] offsets. */
export function diskOffsets(r) {
  const size = 2 * r + 1, c = r, invR2 = r ? 1 / (r * r) : 0, offsets = [];
  for (let i = 0; i < size; i++) {
    const dy = i - r;
    if (Math.abs(dy) > r) continue;
    const dx = roundHalfEven(c * Math.sqrt((r * r - dy * dy) * invR2));
    const j1 = Math.max(c - dx, 0), j2 = Math.min(c + dx + 1, size);
    for (let j = j1; j < j2; j++) offsets.push([dy, j - c]);
  }
  return offsets;
}

// Erode (min) or dilate (max) with the disk; pixels outside the image never count (OpenCV default).
function morph(mask, w, h, r, dilate) {
  const offs = diskOffsets(r), out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let v = dilate ? 0 : 1;
      for (const [dy, dx] of offs) {
        const yy = y + dy, xx = x + dx;
        if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
        const m = mask[yy * w + xx];
        if (dilate ? m : !m) { v = dilate ? 1 : 0; break; }
      }
      out[y * w + x] = v;
    }
  }
  return out;
}

/** Keep only the largest 8-connected lesion region (ties: the first in raster order). */
export function keepLargestComponent(mask, w, h) {
  const labels = new Int32Array(w * h), stack = new Int32Array(w * h), sizes = [0];
  let n = 0;
  for (let start = 0; start < w * h; start++) {
    if (!mask[start] || labels[start]) continue;
    n++; let top = 0, size = 0;
    stack[top++] = start; labels[start] = n;
    while (top) {
      const p = stack[--top], py = (p / w) | 0, px = p - py * w; size++;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = py + dy;
        if (yy < 0 || yy >= h) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = px + dx, q = yy * w + xx;
          if (xx < 0 || xx >= w || !mask[q] || labels[q]) continue;
          labels[q] = n; stack[top++] = q;
        }
      }
    }
    sizes.push(size);
  }
  if (n <= 1) return Uint8Array.from(mask, (v) => (v ? 1 : 0));
  let best = 1;
  for (let i = 2; i <= n; i++) if (sizes[i] > sizes[best]) best = i;
  return Uint8Array.from(labels, (l) => (l === best ? 1 : 0));
}

/** Fill background regions not 4-connected to the image border. */
export function fillHoles(mask, w, h) {
  const outside = new Uint8Array(w * h), stack = new Int32Array(w * h);
  let top = 0;
  const push = (p) => { if (!mask[p] && !outside[p]) { outside[p] = 1; stack[top++] = p; } };
  for (let x = 0; x < w; x++) { push(x); push((h - 1) * w + x); }
  for (let y = 0; y < h; y++) { push(y * w); push(y * w + w - 1); }
  while (top) {
    const p = stack[--top], y = (p / w) | 0, x = p - y * w;
    if (x > 0) push(p - 1);
    if (x < w - 1) push(p + 1);
    if (y > 0) push(p - w);
    if (y < h - 1) push(p + w);
  }
  return Uint8Array.from(outside, (o, i) => (mask[i] || !o ? 1 : 0));
}

/** Probabilities (w×h) -> mask {0, 1}: threshold, opening, closing, largest region, holes. */
export function postprocess(prob, w, h, cfg) {
  let mask = new Uint8Array(w * h);
  for (let i = 0; i < mask.length; i++) mask[i] = prob[i] > cfg.threshold ? 1 : 0;
  if (cfg.open_px) mask = morph(morph(mask, w, h, cfg.open_px, false), w, h, cfg.open_px, true);
  if (cfg.close_px) mask = morph(morph(mask, w, h, cfg.close_px, true), w, h, cfg.close_px, false);
  if (cfg.largest_component) mask = keepLargestComponent(mask, w, h);
  if (cfg.fill_holes) mask = fillHoles(mask, w, h);
  return mask;
}

/** edgeseg.screen.frame.frame_mask: model probabilities (mw×mh) -> full-frame mask (W×H). */
export function frameMask(prob, mw, mh, box, W, H, post) {
  const probCrop = resizeProb(prob, mw, mh, box.w, box.h);
  const cropMask = postprocess(probCrop, box.w, box.h, post);
  const mask = new Uint8Array(W * H);
  for (let y = 0; y < box.h; y++) mask.set(cropMask.subarray(y * box.w, (y + 1) * box.w), (box.y + y) * W + box.x);
  return {mask, cropMask, probCrop};
}

// --- screening hints (edgeseg.screen.hints) ------------------------------------------------------

export const HINTS = [
  ['blurry', 'blur_min_laplacian_var', 'below', 'too blurry: hold still or tap to focus'],
  ['too_dark', 'dark_max_mean', 'below', 'too dark: add light'],
  ['overexposed', 'bright_min_mean', 'above', 'over-exposed: reduce light or glare'],
  ['touches_border', 'border_max_fraction', 'above', 'lesion touches the frame border: centre it'],
  ['too_small', 'min_area_fraction', 'below', 'lesion too small: move closer'],
  ['no_lesion', 'no_lesion_max_fraction', 'below', 'no lesion found'],
];

export const DEFAULT_HINTS = {
  blur_min_laplacian_var: 6.0, dark_max_mean: 45.0, bright_min_mean: 225.0,
  border_max_fraction: 0.02, min_area_fraction: 0.03, no_lesion_max_fraction: 0.001,
};

export const DEFAULT_POSTPROCESS = {threshold: 0.5, open_px: 0, close_px: 0, largest_component: false, fill_holes: false};

/** The numbers behind the hints, from the resized crop (w×h RGB) and model probabilities. */
export function measures(small, prob, w, h, threshold) {
  const n = w * h, g = new Float32Array(n);
  const cr = f32(0.299), cg = f32(0.587), cb = f32(0.114);
  let greySum = 0;
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    g[i] = f32(f32(f32(cr * small[j]) + f32(cg * small[j + 1])) + f32(cb * small[j + 2]));
    greySum += g[i];
  }
  // Laplacian over interior pixels, float32 like numpy, then its population variance in float64.
  const lap = new Float64Array((w - 2) * (h - 2));
  let k = 0, lapSum = 0;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      const v = f32(f32(f32(f32(g[i - w] + g[i + w]) + g[i - 1]) + g[i + 1]) - f32(4 * g[i]));
      lap[k++] = v; lapSum += v;
    }
  }
  const lapMean = lapSum / lap.length;
  let ss = 0;
  for (let i = 0; i < lap.length; i++) { const d = lap[i] - lapMean; ss += d * d; }
  let area = 0, ring = 0;
  for (let i = 0; i < n; i++) area += prob[i] > threshold ? 1 : 0;
  const m = (y, x) => (prob[y * w + x] > threshold ? 1 : 0);
  for (let x = 0; x < w; x++) ring += m(0, x) + m(h - 1, x);
  for (let y = 1; y < h - 1; y++) ring += m(y, 0) + m(y, w - 1);
  return {laplacian_var: ss / lap.length, mean_grey: greySum / n,
    border_fraction: ring / (2 * w + 2 * (h - 2)), area_fraction: area / n};
}

/** Every hint with its value, threshold and whether it fired, in HINTS order. */
export function screeningHints(m, cfg = DEFAULT_HINTS) {
  const value = {blurry: m.laplacian_var, too_dark: m.mean_grey, overexposed: m.mean_grey,
    touches_border: m.border_fraction, too_small: m.area_fraction, no_lesion: m.area_fraction};
  const found = m.area_fraction > cfg.no_lesion_max_fraction;
  return HINTS.map(([name, field, direction, message]) => {
    const threshold = cfg[field];
    let fired = direction === 'below' ? value[name] < threshold : value[name] > threshold;
    if (name === 'too_small' || name === 'touches_border') fired = fired && found;
    return {name, value: Math.round(value[name] * 1e6) / 1e6, threshold, direction, fired, message};
  });
}

/**
 * One RGBA frame through the whole contract. `infer(input Float32Array) -> Promise<Float32Array>`
 * returns probabilities (mh×mw). Returns everything the page shows and saves, with stage timings.
 */
export async function processFrame(rgba, W, H, contract, infer, now = () => performance.now()) {
  const [mh, mw] = contract.input_size;
  const t0 = now();
  const box = cropBox(H, W, mh, mw);
  const small = resizeRgb(cropRgb(rgba, W, box, 4), box.w, box.h, mw, mh);
  const input = normalise(small, contract.normalisation);
  const t1 = now();
  const prob = await infer(input);
  const t2 = now();
  const {mask, cropMask, probCrop} = frameMask(prob, mw, mh, box, W, H, contract.postprocess);
  const m = measures(small, prob, mw, mh, contract.postprocess.threshold);
  const hints = screeningHints(m, contract.hints);
  let area = 0, confSum = 0, inCrop = 0;
  for (let i = 0; i < mask.length; i++) area += mask[i];
  for (let i = 0; i < cropMask.length; i++) if (cropMask[i]) { confSum += probCrop[i]; inCrop++; }
  const t3 = now();
  return {box, small, input, prob, mask, probCrop, measures: m, hints,
    area_fraction: area / mask.length, confidence: inCrop ? confSum / inCrop : 0,
    latency_ms: {preprocess: t1 - t0, inference: t2 - t1, postprocess: t3 - t2}};
}
