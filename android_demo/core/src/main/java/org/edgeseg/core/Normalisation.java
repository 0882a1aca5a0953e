package org.edgeseg.core;

/** How uint8 pixels become model input: {@code x = pixel * scale + offset} (float32, RGB, NHWC). */
public record Normalisation(float scale, float offset) {

    /** Interleaved RGB bytes -> float32 model input, same length. */
    public float[] apply(byte[] rgb) {
        float[] out = new float[rgb.length];
        apply(rgb, out);
        return out;
    }

    /** As {@link #apply(byte[])} into a caller-owned buffer (the camera loop reuses one). */
    public void apply(byte[] rgb, float[] out) {
        if (out.length != rgb.length) {
            throw new IllegalArgumentException("normalise: output has " + out.length + " values, input " + rgb.length);
        }
        // Two float32 roundings, like numpy's float32 multiply then add.
        for (int i = 0; i < rgb.length; i++) {
            out[i] = (rgb[i] & 0xff) * scale + offset;
        }
    }
}
