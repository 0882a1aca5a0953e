package org.edgeseg.core;

import java.util.Arrays;

/**
 * A model input or output as the manifest declares it. Integer tensors carry the scale and
 * zero point that map them to float32, as {@code edgeseg.runtime.tflite_runner}:
 * {@code q = clip(round(x / scale) + zero_point)} and {@code x = (q - zero_point) * scale}.
 */
public record TensorSpec(String name, int[] shape, String dtype, float scale, int zeroPoint) {

    public TensorSpec {
        if (!dtype.equals("float32") && !dtype.equals("int8") && !dtype.equals("uint8")) {
            throw new IllegalArgumentException("tensor '" + name + "': dtype " + dtype + " is not float32, int8 or uint8");
        }
        if (!dtype.equals("float32") && !(scale > 0)) {
            throw new IllegalArgumentException("tensor '" + name + "': " + dtype + " needs a quantization scale > 0, got " + scale);
        }
        shape = shape.clone();
    }

    @Override
    public int[] shape() {
        return shape.clone();
    }

    public boolean isFloat() {
        return dtype.equals("float32");
    }

    public boolean isSigned() {
        return dtype.equals("int8");
    }

    /** Number of elements. */
    public int size() {
        int n = 1;
        for (int d : shape) n *= d;
        return n;
    }

    /** float32 -> int8/uint8 bytes (two's complement for int8), round half to even like numpy. */
    public void quantize(float[] x, byte[] out) {
        if (isFloat()) throw new IllegalStateException("tensor '" + name + "' is float32: nothing to quantize");
        int lo = isSigned() ? -128 : 0, hi = isSigned() ? 127 : 255;
        for (int i = 0; i < x.length; i++) {
            int q = (int) Math.rint(x[i] / scale) + zeroPoint;
            out[i] = (byte) Math.max(lo, Math.min(hi, q));
        }
    }

    public byte[] quantize(float[] x) {
        byte[] out = new byte[x.length];
        quantize(x, out);
        return out;
    }

    /** int8/uint8 bytes -> float32. */
    public void dequantize(byte[] q, float[] out) {
        if (isFloat()) throw new IllegalStateException("tensor '" + name + "' is float32: nothing to dequantize");
        float zp = zeroPoint;
        for (int i = 0; i < q.length; i++) {
            int v = isSigned() ? q[i] : q[i] & 0xff;
            out[i] = (v - zp) * scale;
        }
    }

    public float[] dequantize(byte[] q) {
        float[] out = new float[q.length];
        dequantize(q, out);
        return out;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorSpec t && name.equals(t.name) && Arrays.equals(shape, t.shape)
                && dtype.equals(t.dtype) && Float.compare(scale, t.scale) == 0 && zeroPoint == t.zeroPoint;
    }

    @Override
    public int hashCode() {
        return 31 * (31 * name.hashCode() + Arrays.hashCode(shape)) + dtype.hashCode();
    }

    @Override
    public String toString() {
        return "TensorSpec[" + name + " " + Arrays.toString(shape) + " " + dtype
                + (isFloat() ? "" : " scale=" + scale + " zero_point=" + zeroPoint) + "]";
    }
}
