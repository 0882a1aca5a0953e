package org.edgeseg.core;

/**
 * How probabilities become a mask ({@code edgeseg.postprocess.PostprocessConfig}): lesion where
 * {@code prob > threshold}, then an optional opening and closing (disk radius in pixels, 0 = off),
 * the largest 8-connected region only, and hole filling.
 */
public record PostprocessConfig(float threshold, int openPx, int closePx, boolean largestComponent, boolean fillHoles) {

    public static final PostprocessConfig DEFAULT = new PostprocessConfig(0.5f, 0, 0, false, false);

    public PostprocessConfig {
        if (!(threshold > 0 && threshold < 1)) {
            throw new IllegalArgumentException("postprocess threshold must be in (0, 1), got " + threshold);
        }
        if (openPx < 0 || closePx < 0) {
            throw new IllegalArgumentException("opening/closing radius must be >= 0, got " + openPx + " and " + closePx);
        }
    }
}
