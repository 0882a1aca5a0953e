package org.edgeseg.core;

import java.util.Arrays;

/**
 * The lesion outline for drawing: the edges between lesion and background pixels (and the image
 * border), as line segments on the pixel grid. Pixel (x, y) covers the square from (x, y) to
 * (x+1, y+1), so the segments scale to any view with one matrix and never need a contour tracer.
 * Collinear unit edges along a row or column are merged, which keeps a smooth blob to a few
 * hundred segments.
 */
public final class Outline {
    private Outline() {}

    /** {x0, y0, x1, y1, ...} in mask pixel coordinates, ready for {@code Canvas.drawLines}. */
    public static float[] segments(byte[] mask, int w, int h) {
        if (mask.length != w * h) {
            throw new IllegalArgumentException("outline: mask has " + mask.length + " pixels, expected " + w + "x" + h);
        }
        float[] out = new float[64];
        int n = 0;
        // Horizontal edges: grid line y separates row y-1 from row y.
        for (int y = 0; y <= h; y++) {
            int start = -1;
            for (int x = 0; x <= w; x++) {
                boolean edge = x < w && at(mask, w, h, x, y - 1) != at(mask, w, h, x, y);
                if (edge && start < 0) start = x;
                if (!edge && start >= 0) {
                    out = grow(out, n + 4);
                    out[n++] = start; out[n++] = y; out[n++] = x; out[n++] = y;
                    start = -1;
                }
            }
        }
        // Vertical edges: grid line x separates column x-1 from column x.
        for (int x = 0; x <= w; x++) {
            int start = -1;
            for (int y = 0; y <= h; y++) {
                boolean edge = y < h && at(mask, w, h, x - 1, y) != at(mask, w, h, x, y);
                if (edge && start < 0) start = y;
                if (!edge && start >= 0) {
                    out = grow(out, n + 4);
                    out[n++] = x; out[n++] = start; out[n++] = x; out[n++] = y;
                    start = -1;
                }
            }
        }
        return Arrays.copyOf(out, n);
    }

    private static boolean at(byte[] mask, int w, int h, int x, int y) {
        return x >= 0 && y >= 0 && x < w && y < h && mask[y * w + x] != 0;
    }

    private static float[] grow(float[] a, int need) {
        return need <= a.length ? a : Arrays.copyOf(a, Math.max(need, 2 * a.length));
    }
}
