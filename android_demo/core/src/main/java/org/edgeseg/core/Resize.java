package org.edgeseg.core;

/**
 * OpenCV's {@code cv2.resize} as {@code edgeseg.data.pipeline.resize_image} and
 * {@code edgeseg.postprocess.resize_prob} use it, on interleaved arrays in row-major order.
 *
 * <p>Shrinking an RGB image is {@code INTER_AREA}; anything else is {@code INTER_LINEAR}
 * (half-pixel centres, clamped edges). Each follows OpenCV's own arithmetic step by step (float32
 * sums for area, 11-bit fixed point for uint8 bilinear, float32 for bilinear probabilities), so the
 * results match OpenCV's own code to the bit. One caveat: the x86 opencv-python wheels send float
 * {@code INTER_LINEAR} through Intel IPP, which rounds differently by a few float32 ulps (about 1e-6),
 * so against golden vectors made on x86 a pixel whose probability sits that close to the threshold
 * can flip.
 */
public final class Resize {
    private Resize() {}

    /** RGB (sw x sh) -> RGB (dw x dh) exactly as {@code resize_image}: area when the height shrinks. */
    public static byte[] rgb(byte[] src, int sw, int sh, int dw, int dh) {
        checkSize(src.length, sw, sh, 3, "rgb");
        if (sw == dw && sh == dh) return src.clone();
        if (sh > dh && sw >= dw) {
            // cv::resize works with scale = 1 / (dst/src), not src/dst; the difference matters at the 1e-16 level.
            double scaleX = 1.0 / ((double) dw / sw), scaleY = 1.0 / ((double) dh / sh);
            int ix = (int) Math.rint(scaleX), iy = (int) Math.rint(scaleY);
            if (Math.abs(scaleX - ix) < Math.ulp(1.0) && Math.abs(scaleY - iy) < Math.ulp(1.0)) {
                return areaFast(src, sw, sh, dw, dh, ix, iy);
            }
            return area(src, sw, sh, dw, dh, scaleX, scaleY);
        }
        return linearU8(src, sw, sh, dw, dh);
    }

    /** Probabilities (sw x sh, one channel) -> (dw x dh), bilinear, as {@code resize_prob}. */
    public static float[] prob(float[] src, int sw, int sh, int dw, int dh) {
        checkSize(src.length, sw, sh, 1, "prob");
        if (sw == dw && sh == dh) return src.clone();
        return linear(src, sw, sh, dw, dh, 1);
    }

    private static void checkSize(int length, int w, int h, int cn, String what) {
        if (w <= 0 || h <= 0 || (long) w * h * cn != length) {
            throw new IllegalArgumentException("resize " + what + ": " + length + " values do not make a " + w + "x" + h
                    + "x" + cn + " image");
        }
    }

    /** cvRound + saturate_cast&lt;uchar&gt;: round half to even, clamp to 0..255. */
    static byte sat8(float v) {
        double r = Math.rint(v);
        return (byte) (r < 0 ? 0 : r > 255 ? 255 : (int) r);
    }

    // --- INTER_AREA, general scale: OpenCV's computeResizeAreaTab + ResizeArea_Invoker -------------

    /** Flat table of (destination index, source index, weight) triples for one axis. */
    private record AreaTab(int[] di, int[] si, float[] alpha, int n) {}

    private static AreaTab areaTab(int ssize, int dsize, int cn, double scale) {
        int cap = 2 * ssize + 2 * dsize;
        int[] di = new int[cap], si = new int[cap];
        float[] alpha = new float[cap];
        int k = 0;
        for (int dx = 0; dx < dsize; dx++) {
            double fsx1 = dx * scale, fsx2 = fsx1 + scale;
            double cellWidth = Math.min(scale, ssize - fsx1);
            int sx1 = (int) Math.ceil(fsx1), sx2 = (int) Math.floor(fsx2);
            sx2 = Math.min(sx2, ssize - 1);
            sx1 = Math.min(sx1, sx2);
            if (sx1 - fsx1 > 1e-3) {
                di[k] = dx * cn; si[k] = (sx1 - 1) * cn; alpha[k++] = (float) ((sx1 - fsx1) / cellWidth);
            }
            for (int sx = sx1; sx < sx2; sx++) {
                di[k] = dx * cn; si[k] = sx * cn; alpha[k++] = (float) (1.0 / cellWidth);
            }
            if (fsx2 - sx2 > 1e-3) {
                di[k] = dx * cn; si[k] = sx2 * cn;
                alpha[k++] = (float) (Math.min(Math.min(fsx2 - sx2, 1.0), cellWidth) / cellWidth);
            }
        }
        return new AreaTab(di, si, alpha, k);
    }

    private static byte[] area(byte[] src, int sw, int sh, int dw, int dh, double scaleX, double scaleY) {
        AreaTab xt = areaTab(sw, dw, 3, scaleX), yt = areaTab(sh, dh, 1, scaleY);
        int width = dw * 3;
        byte[] out = new byte[dh * width];
        float[] buf = new float[width], sum = new float[width];
        int prevDy = yt.di[0];
        for (int j = 0; j < yt.n; j++) {
            float beta = yt.alpha[j];
            int dy = yt.di[j], row = yt.si[j] * sw * 3;
            java.util.Arrays.fill(buf, 0f);
            for (int k = 0; k < xt.n; k++) {
                int s = row + xt.si[k], d = xt.di[k];
                float a = xt.alpha[k];
                buf[d] += (src[s] & 0xff) * a;
                buf[d + 1] += (src[s + 1] & 0xff) * a;
                buf[d + 2] += (src[s + 2] & 0xff) * a;
            }
            if (dy != prevDy) {
                int o = prevDy * width;
                for (int x = 0; x < width; x++) {
                    out[o + x] = sat8(sum[x]);
                    sum[x] = beta * buf[x];
                }
                prevDy = dy;
            } else {
                for (int x = 0; x < width; x++) sum[x] += beta * buf[x];
            }
        }
        int o = prevDy * width;
        for (int x = 0; x < width; x++) out[o + x] = sat8(sum[x]);
        return out;
    }

    // --- INTER_AREA, integer scale: OpenCV's resizeAreaFast (integer sums) --------------------------

    private static byte[] areaFast(byte[] src, int sw, int sh, int dw, int dh, int sx, int sy) {
        byte[] out = new byte[dw * dh * 3];
        int area = sx * sy;
        float scale = 1f / area;
        for (int dy = 0; dy < dh; dy++) {
            for (int dx = 0; dx < dw; dx++) {
                for (int c = 0; c < 3; c++) {
                    int s = 0;
                    for (int yy = dy * sy; yy < dy * sy + sy; yy++) {
                        for (int xx = dx * sx; xx < dx * sx + sx; xx++) s += src[(yy * sw + xx) * 3 + c] & 0xff;
                    }
                    // OpenCV's 2x2 SIMD path rounds half up; the generic path multiplies by 1/area in float.
                    out[(dy * dw + dx) * 3 + c] = sx == 2 && sy == 2 ? (byte) ((s + 2) >> 2) : sat8(s * scale);
                }
            }
        }
        return out;
    }

    // --- INTER_LINEAR, float: OpenCV's coefficient tables, horizontal pass then vertical ------------

    /**
     * Source index and weight of each destination pixel. OpenCV clamps index and weight along x,
     * but along y only the rows it reads are clamped ({@link #rowAt}): the weights stay as computed,
     * which matters for the fixed-point path at the top and bottom rows.
     */
    private static void linearTab(int ssize, int dsize, int[] ofs, float[] a, boolean clampWeights) {
        double scale = 1.0 / ((double) dsize / ssize);
        for (int d = 0; d < dsize; d++) {
            float fx = (float) ((d + 0.5) * scale - 0.5);
            int sx = (int) Math.floor(fx);
            fx -= sx;
            if (clampWeights && sx < 0) { fx = 0; sx = 0; }
            if (clampWeights && sx >= ssize - 1) { fx = 0; sx = ssize - 1; }
            ofs[d] = sx;
            a[d] = fx;
        }
    }

    private static int rowAt(int sy, int sh) {
        return Math.max(0, Math.min(sy, sh - 1));
    }

    private static float[] linear(float[] src, int sw, int sh, int dw, int dh, int cn) {
        int[] xo = new int[dw], yo = new int[dh];
        float[] xa = new float[dw], ya = new float[dh];
        linearTab(sw, dw, xo, xa, true);
        linearTab(sh, dh, yo, ya, false);
        float[] out = new float[dw * dh * cn], row0 = new float[dw * cn], row1 = new float[dw * cn];
        int y0 = -1, y1 = -1;
        for (int dy = 0; dy < dh; dy++) {
            int sy = rowAt(yo[dy], sh), sy1 = rowAt(yo[dy] + 1, sh);
            float b1 = ya[dy], b0 = 1f - b1;
            // Consecutive output rows mostly share source rows: keep the two horizontal passes.
            if (sy == y1 && sy != y0) { float[] t = row0; row0 = row1; row1 = t; y0 = sy; y1 = -1; }
            if (y0 != sy) { hpass(src, sy, sw, cn, xo, xa, row0); y0 = sy; }
            if (y1 != sy1) { hpass(src, sy1, sw, cn, xo, xa, row1); y1 = sy1; }
            int o = dy * dw * cn;
            for (int x = 0; x < dw * cn; x++) out[o + x] = row0[x] * b0 + row1[x] * b1;
        }
        return out;
    }

    // --- INTER_LINEAR, uint8: OpenCV's fixed-point path (weights scaled by 2048) --------------------

    private static byte[] linearU8(byte[] src, int sw, int sh, int dw, int dh) {
        int[] xo = new int[dw], yo = new int[dh];
        float[] xa = new float[dw], ya = new float[dh];
        linearTab(sw, dw, xo, xa, true);
        linearTab(sh, dh, yo, ya, false);
        int width = dw * 3;
        int[] row0 = new int[width], row1 = new int[width];
        byte[] out = new byte[dh * width];
        for (int dy = 0; dy < dh; dy++) {
            hpassU8(src, rowAt(yo[dy], sh), sw, xo, xa, row0);
            hpassU8(src, rowAt(yo[dy] + 1, sh), sw, xo, xa, row1);
            int b0 = fixed(1f - ya[dy]), b1 = fixed(ya[dy]), o = dy * width;
            for (int x = 0; x < width; x++) {
                // OpenCV's VResizeLinear<uchar>: shorts times weights, high halves, round by 2 bits.
                out[o + x] = (byte) ((((b0 * (row0[x] >> 4)) >> 16) + ((b1 * (row1[x] >> 4)) >> 16) + 2) >> 2);
            }
        }
        return out;
    }

    private static int fixed(float a) {
        return (int) Math.rint(a * 2048f);
    }

    private static void hpassU8(byte[] src, int y, int sw, int[] xo, float[] xa, int[] row) {
        int base = y * sw * 3;
        for (int d = 0; d < xo.length; d++) {
            int sx = xo[d], sx1 = Math.min(sx + 1, sw - 1), a0 = fixed(1f - xa[d]), a1 = fixed(xa[d]);
            for (int c = 0; c < 3; c++) {
                row[d * 3 + c] = (src[base + sx * 3 + c] & 0xff) * a0 + (src[base + sx1 * 3 + c] & 0xff) * a1;
            }
        }
    }

    private static void hpass(float[] src, int y, int sw, int cn, int[] xo, float[] xa, float[] row) {
        int base = y * sw * cn;
        for (int d = 0; d < xo.length; d++) {
            int sx = xo[d], sx1 = Math.min(sx + 1, sw - 1);
            float a1 = xa[d], a0 = 1f - a1;
            for (int c = 0; c < cn; c++) {
                float v0 = src[base + sx * cn + c], v1 = src[base + sx1 * cn + c];
                row[d * cn + c] = a1 == 0 ? v0 : v0 * a0 + v1 * a1;
            }
        }
    }
}
