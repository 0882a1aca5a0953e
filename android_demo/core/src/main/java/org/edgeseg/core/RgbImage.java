package org.edgeseg.core;

/** An interleaved RGB image, row-major, 3 bytes a pixel. */
public record RgbImage(byte[] data, int width, int height) {

    public RgbImage {
        if (width <= 0 || height <= 0 || data.length != 3 * width * height) {
            throw new IllegalArgumentException("RGB image of " + width + "x" + height + " needs " + 3L * width * height
                    + " bytes, got " + data.length);
        }
    }

    /** Copy out rows {@code y..y+h-1}, columns {@code x..x+w-1}. */
    public RgbImage crop(CropBox b) {
        if (b.x() < 0 || b.y() < 0 || b.x() + b.w() > width || b.y() + b.h() > height) {
            throw new IllegalArgumentException(b + " does not fit in a " + width + "x" + height + " image");
        }
        byte[] out = new byte[3 * b.w() * b.h()];
        for (int r = 0; r < b.h(); r++) {
            System.arraycopy(data, 3 * ((b.y() + r) * width + b.x()), out, 3 * r * b.w(), 3 * b.w());
        }
        return new RgbImage(out, b.w(), b.h());
    }

    /**
     * An RGBA_8888 camera buffer (CameraX ImageAnalysis, {@code rowStride} bytes a row) turned
     * upright: rotated clockwise by {@code rotationDegrees} (0, 90, 180, 270), alpha dropped.
     */
    public static RgbImage fromRgba(byte[] rgba, int width, int height, int rowStride, int rotationDegrees) {
        if (rowStride < 4 * width || rgba.length < (long) rowStride * (height - 1) + 4L * width) {
            throw new IllegalArgumentException("RGBA buffer of " + rgba.length + " bytes with row stride " + rowStride
                    + " is too small for " + width + "x" + height);
        }
        int rot = ((rotationDegrees % 360) + 360) % 360;
        if (rot % 90 != 0) throw new IllegalArgumentException("rotation must be a multiple of 90, got " + rotationDegrees);
        boolean swap = rot == 90 || rot == 270;
        int ow = swap ? height : width, oh = swap ? width : height;
        byte[] out = new byte[3 * ow * oh];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                // Where source pixel (x, y) lands after a clockwise rotation.
                int ox, oy;
                switch (rot) {
                    case 90 -> { ox = height - 1 - y; oy = x; }
                    case 180 -> { ox = width - 1 - x; oy = height - 1 - y; }
                    case 270 -> { ox = y; oy = width - 1 - x; }
                    default -> { ox = x; oy = y; }
                }
                int s = y * rowStride + 4 * x, d = 3 * (oy * ow + ox);
                out[d] = rgba[s];
                out[d + 1] = rgba[s + 1];
                out[d + 2] = rgba[s + 2];
            }
        }
        return new RgbImage(out, ow, oh);
    }
}
