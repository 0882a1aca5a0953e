package org.edgeseg.core;

/** Thresholds of the screening hints ({@code edgeseg.screen.hints.HintConfig}, manifest "hints"). */
public record HintConfig(double blurMinLaplacianVar, double darkMaxMean, double brightMinMean,
                         double borderMaxFraction, double minAreaFraction, double noLesionMaxFraction) {

    public static final HintConfig DEFAULT = new HintConfig(6.0, 45.0, 225.0, 0.02, 0.03, 0.001);

    public HintConfig {
        if (!(0 <= noLesionMaxFraction && noLesionMaxFraction <= minAreaFraction && minAreaFraction <= 1)) {
            throw new IllegalArgumentException("hints: need 0 <= no_lesion_max_fraction <= min_area_fraction <= 1, got "
                    + noLesionMaxFraction + " and " + minAreaFraction);
        }
        if (darkMaxMean >= brightMinMean) {
            throw new IllegalArgumentException("hints: dark_max_mean (" + darkMaxMean + ") must be below bright_min_mean ("
                    + brightMinMean + ")");
        }
    }
}
