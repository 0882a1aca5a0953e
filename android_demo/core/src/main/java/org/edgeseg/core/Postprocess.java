package org.edgeseg.core;

import java.util.ArrayList;
import java.util.List;

/**
 * Probability map -> {0,1} mask, as {@code edgeseg.postprocess}. Masks are row-major byte arrays
 * of width w and height h holding 0 or 1.
 */
public final class Postprocess {
    private Postprocess() {}

    /** Threshold, open, close, largest component, fill holes: in that order, like the Python. */
    public static byte[] apply(float[] prob, int w, int h, PostprocessConfig cfg) {
        byte[] mask = threshold(prob, cfg.threshold());
        if (cfg.openPx() > 0) mask = dilate(erode(mask, w, h, cfg.openPx()), w, h, cfg.openPx());
        if (cfg.closePx() > 0) mask = erode(dilate(mask, w, h, cfg.closePx()), w, h, cfg.closePx());
        if (cfg.largestComponent()) mask = keepLargestComponent(mask, w, h);
        if (cfg.fillHoles()) mask = fillHoles(mask, w, h);
        return mask;
    }

    /** {@code prob > t} (strictly greater, so exactly t is background). */
    public static byte[] threshold(float[] prob, float t) {
        byte[] m = new byte[prob.length];
        for (int i = 0; i < prob.length; i++) m[i] = prob[i] > t ? (byte) 1 : 0;
        return m;
    }

    /** Keep only the largest 8-connected lesion region; ties go to the first found in raster order (as OpenCV's labels). */
    public static byte[] keepLargestComponent(byte[] mask, int w, int h) {
        int[] labels = new int[w * h], stack = new int[w * h];
        List<Integer> sizes = new ArrayList<>();
        sizes.add(0);
        for (int start = 0; start < w * h; start++) {
            if (mask[start] == 0 || labels[start] != 0) continue;
            int label = sizes.size(), top = 0, size = 0;
            stack[top++] = start;
            labels[start] = label;
            while (top > 0) {
                int p = stack[--top], py = p / w, px = p % w;
                size++;
                for (int yy = Math.max(py - 1, 0); yy <= Math.min(py + 1, h - 1); yy++) {
                    for (int xx = Math.max(px - 1, 0); xx <= Math.min(px + 1, w - 1); xx++) {
                        int q = yy * w + xx;
                        if (mask[q] != 0 && labels[q] == 0) {
                            labels[q] = label;
                            stack[top++] = q;
                        }
                    }
                }
            }
            sizes.add(size);
        }
        int best = 1;
        for (int i = 2; i < sizes.size(); i++) if (sizes.get(i) > sizes.get(best)) best = i;
        byte[] out = new byte[w * h];
        for (int i = 0; i < out.length; i++) out[i] = labels[i] == best ? (byte) 1 : 0;
        return out;
    }

    /** Fill background regions that are not 4-connected to the image border. */
    public static byte[] fillHoles(byte[] mask, int w, int h) {
        boolean[] outside = new boolean[w * h];
        int[] stack = new int[w * h];
        int top = 0;
        for (int i = 0; i < w * h; i++) {
            int y = i / w, x = i % w;
            boolean border = y == 0 || y == h - 1 || x == 0 || x == w - 1;
            if (border && mask[i] == 0) { outside[i] = true; stack[top++] = i; }
        }
        while (top > 0) {
            int p = stack[--top], y = p / w, x = p % w;
            int[] next = {x > 0 ? p - 1 : -1, x < w - 1 ? p + 1 : -1, y > 0 ? p - w : -1, y < h - 1 ? p + w : -1};
            for (int q : next) {
                if (q >= 0 && mask[q] == 0 && !outside[q]) { outside[q] = true; stack[top++] = q; }
            }
        }
        byte[] out = new byte[w * h];
        for (int i = 0; i < out.length; i++) out[i] = mask[i] != 0 || !outside[i] ? (byte) 1 : 0;
        return out;
    }

    /**
     * {@code cv2.getStructuringElement(MORPH_ELLIPSE, (2r+1, 2r+1))} as (dy, dx) pairs: row i keeps
     * columns {@code c-dx .. c+dx} with {@code dx = round(r * sqrt(1 - dy^2/r^2))}.
     */
    static int[][] disk(int r) {
        List<int[]> offs = new ArrayList<>();
        double invR2 = r > 0 ? 1.0 / ((double) r * r) : 0;
        for (int dy = -r; dy <= r; dy++) {
            int dx = (int) Math.rint(r * Math.sqrt((r * r - dy * dy) * invR2));
            for (int j = Math.max(-dx, -r); j <= Math.min(dx, r); j++) offs.add(new int[] {dy, j});
        }
        return offs.toArray(new int[0][]);
    }

    /** Minimum over the disk; pixels outside the image do not count (OpenCV's default border). */
    public static byte[] erode(byte[] mask, int w, int h, int r) {
        return morph(mask, w, h, r, false);
    }

    /** Maximum over the disk; pixels outside the image do not count. */
    public static byte[] dilate(byte[] mask, int w, int h, int r) {
        return morph(mask, w, h, r, true);
    }

    // Plain O(area * disk) loops: the app runs open/close only if the manifest asks, on a crop-sized
    // mask, and the shipped model ships with both off.
    private static byte[] morph(byte[] mask, int w, int h, int r, boolean dilate) {
        int[][] offs = disk(r);
        byte[] out = new byte[w * h];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                byte v = dilate ? (byte) 0 : 1;
                for (int[] o : offs) {
                    int yy = y + o[0], xx = x + o[1];
                    if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                    boolean on = mask[yy * w + xx] != 0;
                    if (dilate == on) { v = dilate ? (byte) 1 : 0; break; }
                }
                out[y * w + x] = v;
            }
        }
        return out;
    }
}
