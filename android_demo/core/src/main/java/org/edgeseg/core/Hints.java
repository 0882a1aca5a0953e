package org.edgeseg.core;

import java.util.ArrayList;
import java.util.List;

/**
 * Screening hints ({@code edgeseg.screen.hints}): is this frame good enough to judge? Computed at
 * the model's resolution from the resized crop and the raw probabilities, so every implementation
 * gets the same numbers from the same tensors.
 */
public final class Hints {
    private Hints() {}

    /** The numbers behind the hints. */
    public record Measures(double laplacianVar, double meanGrey, double borderFraction, double areaFraction) {}

    /** One hint: its measure, threshold, direction ("below"/"above"), whether it fired and what to tell the user. */
    public record Hint(String name, double value, double threshold, String direction, boolean fired, String message) {}

    /** Hint names in the order the Python lists them. */
    public static final String[] NAMES = {"blurry", "too_dark", "overexposed", "touches_border", "too_small", "no_lesion"};

    /**
     * grey = 0.299 R + 0.587 G + 0.114 B in float32; blur = population variance of the 4-neighbour
     * Laplacian over interior pixels; brightness = mean grey; border and area = lesion fractions of
     * the outer 1-pixel ring and of the whole {@code prob > threshold} mask (no post-processing).
     */
    public static Measures measures(byte[] smallRgb, float[] prob, int w, int h, float threshold) {
        int n = w * h;
        if (smallRgb.length != 3 * n || prob.length != n) {
            throw new IllegalArgumentException("measures: expected " + 3 * n + " RGB values and " + n
                    + " probabilities for " + w + "x" + h + ", got " + smallRgb.length + " and " + prob.length);
        }
        if (w < 3 || h < 3) throw new IllegalArgumentException("measures: need at least 3x3, got " + w + "x" + h);
        float[] g = new float[n];
        double greySum = 0;
        // float32 like numpy: each product and sum rounds to float.
        for (int i = 0, j = 0; i < n; i++, j += 3) {
            g[i] = 0.299f * (smallRgb[j] & 0xff) + 0.587f * (smallRgb[j + 1] & 0xff) + 0.114f * (smallRgb[j + 2] & 0xff);
            greySum += g[i];
        }
        int m = (w - 2) * (h - 2);
        float[] lap = new float[m];
        double lapSum = 0;
        int k = 0;
        for (int y = 1; y < h - 1; y++) {
            for (int x = 1; x < w - 1; x++) {
                int i = y * w + x;
                lap[k] = g[i - w] + g[i + w] + g[i - 1] + g[i + 1] - 4 * g[i];
                lapSum += lap[k++];
            }
        }
        double lapMean = lapSum / m, ss = 0;
        for (float v : lap) ss += (v - lapMean) * (v - lapMean);
        int area = 0, ring = 0;
        for (float p : prob) if (p > threshold) area++;
        for (int x = 0; x < w; x++) ring += on(prob, x, threshold) + on(prob, (h - 1) * w + x, threshold);
        for (int y = 1; y < h - 1; y++) ring += on(prob, y * w, threshold) + on(prob, y * w + w - 1, threshold);
        return new Measures(ss / m, greySum / n, (double) ring / (2 * w + 2 * (h - 2)), (double) area / n);
    }

    private static int on(float[] prob, int i, float t) {
        return prob[i] > t ? 1 : 0;
    }

    /** Every hint with its value and whether it fired, in {@link #NAMES} order; too_small and touches_border need a lesion. */
    public static List<Hint> screen(Measures m, HintConfig c) {
        boolean found = m.areaFraction() > c.noLesionMaxFraction();
        List<Hint> out = new ArrayList<>();
        out.add(below("blurry", m.laplacianVar(), c.blurMinLaplacianVar(), true, "too blurry: hold still or tap to focus"));
        out.add(below("too_dark", m.meanGrey(), c.darkMaxMean(), true, "too dark: add light"));
        out.add(above("overexposed", m.meanGrey(), c.brightMinMean(), true, "over-exposed: reduce light or glare"));
        out.add(above("touches_border", m.borderFraction(), c.borderMaxFraction(), found,
                "lesion touches the frame border: centre it"));
        out.add(below("too_small", m.areaFraction(), c.minAreaFraction(), found, "lesion too small: move closer"));
        out.add(below("no_lesion", m.areaFraction(), c.noLesionMaxFraction(), true, "no lesion found"));
        return out;
    }

    private static Hint below(String name, double v, double t, boolean gate, String msg) {
        return new Hint(name, v, t, "below", gate && v < t, msg);
    }

    private static Hint above(String name, double v, double t, boolean gate, String msg) {
        return new Hint(name, v, t, "above", gate && v > t, msg);
    }

    /** Messages of the hints that fired, for display. */
    public static List<String> firedMessages(List<Hint> hints) {
        List<String> out = new ArrayList<>();
        for (Hint h : hints) if (h.fired()) out.add(h.message());
        return out;
    }
}
