package org.edgeseg.core;

import java.util.List;

/**
 * One camera frame through the frame contract of {@code edgeseg.screen.frame}: centre-crop to the
 * model's aspect ratio, resize, normalise; then probabilities back to the crop (bilinear),
 * post-process there and paste into an all-background mask of the full frame; hints at model size.
 * Inference itself is the caller's (LiteRT on the phone, golden output.f32 in the tests).
 */
public final class FramePipeline {

    /** What goes into the model, and what {@link #finish} needs to map its answer back. */
    public record Prepared(RgbImage frame, CropBox box, RgbImage small, float[] input) {}

    /**
     * The answer for one frame: full-frame mask {0,1}; the fraction of the frame that is lesion;
     * confidence = mean probability over the lesion pixels of the crop (0 without lesion); hint
     * measures and hints; outline segments in frame pixel coordinates (see {@link Outline}).
     */
    public record Result(byte[] mask, int width, int height, CropBox box, double areaFraction, double confidence,
                         Hints.Measures measures, List<Hints.Hint> hints, float[] outline) {}

    private final Manifest manifest;

    public FramePipeline(Manifest manifest) {
        this.manifest = manifest;
    }

    public Manifest manifest() {
        return manifest;
    }

    public Prepared prepare(RgbImage frame) {
        if (frame.width() < 8 || frame.height() < 8) {
            throw new IllegalArgumentException("frame of " + frame.width() + "x" + frame.height() + " is below 8x8");
        }
        int mh = manifest.inputH(), mw = manifest.inputW();
        CropBox box = CropBox.of(frame.height(), frame.width(), mh, mw);
        RgbImage crop = frame.crop(box);
        RgbImage small = new RgbImage(Resize.rgb(crop.data(), crop.width(), crop.height(), mw, mh), mw, mh);
        return new Prepared(frame, box, small, manifest.normalisation().apply(small.data()));
    }

    /** {@code prob}: the model's (h, w) probabilities as float32, already dequantized. */
    public Result finish(Prepared p, float[] prob) {
        int mh = manifest.inputH(), mw = manifest.inputW();
        if (prob.length != mh * mw) {
            throw new IllegalArgumentException("model output has " + prob.length + " values, expected " + mh + "x" + mw);
        }
        CropBox b = p.box();
        float[] probCrop = Resize.prob(prob, mw, mh, b.w(), b.h());
        byte[] cropMask = Postprocess.apply(probCrop, b.w(), b.h(), manifest.postprocess());
        int W = p.frame().width(), H = p.frame().height();
        byte[] mask = new byte[W * H];
        long area = 0;
        double confSum = 0;
        for (int r = 0; r < b.h(); r++) {
            System.arraycopy(cropMask, r * b.w(), mask, (b.y() + r) * W + b.x(), b.w());
            for (int c = 0; c < b.w(); c++) {
                int i = r * b.w() + c;
                if (cropMask[i] != 0) { area++; confSum += probCrop[i]; }
            }
        }
        float[] outline = Outline.segments(cropMask, b.w(), b.h());
        for (int i = 0; i < outline.length; i += 2) {
            outline[i] += b.x();
            outline[i + 1] += b.y();
        }
        Hints.Measures m = Hints.measures(p.small().data(), prob, mw, mh, manifest.postprocess().threshold());
        return new Result(mask, W, H, b, (double) area / ((long) W * H), area > 0 ? confSum / area : 0, m,
                Hints.screen(m, manifest.hints()), outline);
    }
}
