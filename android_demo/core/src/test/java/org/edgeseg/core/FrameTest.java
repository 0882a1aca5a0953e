package org.edgeseg.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.StringReader;
import java.util.List;
import org.junit.Test;

/** Camera buffers, quantization, hint rules, outline and the pipeline on synthetic frames. */
public class FrameTest {

    /** A 3x2 RGBA buffer (row stride 16: 4 padding bytes a row) whose red channel numbers the pixels 1..6. */
    static byte[] rgba() {
        byte[] b = new byte[16 * 2];
        for (int y = 0; y < 2; y++) {
            for (int x = 0; x < 3; x++) {
                b[y * 16 + 4 * x] = (byte) (1 + y * 3 + x);
                b[y * 16 + 4 * x + 3] = (byte) 255;
            }
        }
        return b;
    }

    static int[] reds(RgbImage img) {
        int[] out = new int[img.width() * img.height()];
        for (int i = 0; i < out.length; i++) out[i] = img.data()[3 * i];
        return out;
    }

    @Test
    public void rgbaIsRotatedUpright() {
        // 1 2 3 / 4 5 6 rotated clockwise by 90 is 4 1 / 5 2 / 6 3.
        RgbImage r0 = RgbImage.fromRgba(rgba(), 3, 2, 16, 0);
        assertArrayEquals(new int[] {1, 2, 3, 4, 5, 6}, reds(r0));
        RgbImage r90 = RgbImage.fromRgba(rgba(), 3, 2, 16, 90);
        assertEquals(2, r90.width());
        assertEquals(3, r90.height());
        assertArrayEquals(new int[] {4, 1, 5, 2, 6, 3}, reds(r90));
        assertArrayEquals(new int[] {6, 5, 4, 3, 2, 1}, reds(RgbImage.fromRgba(rgba(), 3, 2, 16, 180)));
        assertArrayEquals(new int[] {3, 6, 2, 5, 1, 4}, reds(RgbImage.fromRgba(rgba(), 3, 2, 16, 270)));
        assertThrows(IllegalArgumentException.class, () -> RgbImage.fromRgba(rgba(), 3, 2, 8, 0));
    }

    @Test
    public void quantizeRoundsHalfToEvenAndClips() {
        TensorSpec s = new TensorSpec("x", new int[] {1, 4}, "int8", 0.5f, -128);
        // 0.25/0.5 = 0.5 -> 0; 0.75/0.5 = 1.5 -> 2; 1000 clips to 127; -5 clips to -128.
        assertArrayEquals(new byte[] {-128, -126, 127, -128}, s.quantize(new float[] {0.25f, 0.75f, 1000f, -5f}));
        assertArrayEquals(new float[] {0f, 1f, 127.5f}, s.dequantize(new byte[] {-128, -126, 127}), 0f);
        TensorSpec u = new TensorSpec("y", new int[] {2}, "uint8", 1 / 255f, 0);
        assertArrayEquals(new byte[] {0, (byte) 255}, u.quantize(new float[] {0f, 1f}));
        assertEquals(1f, u.dequantize(new byte[] {(byte) 255})[0], 1e-7);
        assertThrows(IllegalArgumentException.class, () -> new TensorSpec("z", new int[] {1}, "int8", 0f, 0));
    }

    @Test
    public void normalisationIsFloat32MultiplyAdd() {
        float[] x = new Normalisation(1 / 255f, -0.5f).apply(new byte[] {0, (byte) 255, (byte) 128});
        assertArrayEquals(new float[] {-0.5f, 0.5f, 128 * (1 / 255f) - 0.5f}, x, 0f);
    }

    @Test
    public void hintsNeedALesionForSizeAndBorder() {
        HintConfig c = HintConfig.DEFAULT;
        List<Hints.Hint> none = Hints.screen(new Hints.Measures(100, 120, 0.5, 0.0), c);
        assertEquals(List.of("no lesion found"), Hints.firedMessages(none));
        List<Hints.Hint> small = Hints.screen(new Hints.Measures(1, 20, 0.5, 0.01), c);
        assertEquals(List.of("blurry", "too_dark", "touches_border", "too_small"),
                small.stream().filter(Hints.Hint::fired).map(Hints.Hint::name).toList());
        List<Hints.Hint> bright = Hints.screen(new Hints.Measures(100, 230, 0.0, 0.2), c);
        assertEquals(List.of("overexposed"), bright.stream().filter(Hints.Hint::fired).map(Hints.Hint::name).toList());
        assertThrows(IllegalArgumentException.class, () -> new HintConfig(6, 45, 225, 0.02, 0.001, 0.03));
    }

    @Test
    public void measuresOnAKnownImage() {
        // 4x3 image, grey 0 everywhere except one interior pixel of value 100 (grey 100*(0.299+0.587+0.114)).
        byte[] rgb = new byte[4 * 3 * 3];
        for (int c = 0; c < 3; c++) rgb[3 * (1 * 4 + 1) + c] = 100;
        float[] prob = new float[12];
        prob[0] = 0.9f;  // one ring pixel
        prob[5] = 0.9f;  // one interior pixel
        Hints.Measures m = Hints.measures(rgb, prob, 4, 3, 0.5f);
        float g = 0.299f * 100 + 0.587f * 100 + 0.114f * 100;
        // Interior is (1,1) and (2,1): Laplacian -4g and g; mean -1.5g; variance 6.25 g^2.
        assertEquals(6.25 * g * g, m.laplacianVar(), 1e-6 * g * g);
        assertEquals(g / 12.0, m.meanGrey(), 1e-9);
        assertEquals(1.0 / 10, m.borderFraction(), 0);
        assertEquals(2.0 / 12, m.areaFraction(), 0);
    }

    @Test
    public void outlineOfASquareIsFourSides() {
        byte[] m = PostprocessTest.mask(
                "....",
                ".##.",
                ".##.",
                "....");
        float[] s = Outline.segments(m, 4, 4);
        assertArrayEquals(new float[] {1, 1, 3, 1, 1, 3, 3, 3, 1, 1, 1, 3, 3, 1, 3, 3}, s, 0f);
        assertEquals(0, Outline.segments(new byte[16], 4, 4).length);
    }

    @Test
    public void pipelineOnASyntheticFrame() {
        Manifest man = Manifest.parse(new StringReader(ManifestTest.GOOD.replace("[144, 192]", "[6, 8]")
                .replace("[1, 144, 192, 3]", "[1, 6, 8, 3]").replace("[1, 144, 192, 1]", "[1, 6, 8, 1]")), "test");
        FramePipeline pipe = new FramePipeline(man);
        // 20 wide, 10 high: the 6x8 (h x w) model takes 10*8/6 = 13 columns from x = (20-13)/2 = 3.
        RgbImage frame = new RgbImage(new byte[3 * 20 * 10], 20, 10);
        FramePipeline.Prepared p = pipe.prepare(frame);
        assertEquals(new CropBox(0, 3, 10, 13), p.box());
        assertEquals(6 * 8 * 3, p.input().length);
        float[] prob = new float[48];
        for (int y = 2; y < 4; y++) for (int x = 3; x < 5; x++) prob[y * 8 + x] = 0.99f;
        FramePipeline.Result r = pipe.finish(p, prob);
        assertEquals(200, r.mask().length);
        for (int y = 0; y < 10; y++) {
            for (int x = 0; x < 20; x++) {
                if (x < 3 || x >= 16) assertEquals("outside the crop", 0, r.mask()[y * 20 + x]);
            }
        }
        assertTrue(r.areaFraction() > 0);
        assertTrue(r.confidence() > 0.5 && r.confidence() <= 0.99);
        assertTrue(r.outline().length > 0);
        for (int i = 0; i < r.outline().length; i += 2) assertTrue(r.outline()[i] >= 3 && r.outline()[i] <= 16);
        assertFalse(r.hints().get(5).fired());  // a lesion was found
        assertTrue(r.hints().get(0).fired());   // a flat black frame is "blurry"
        assertThrows(IllegalArgumentException.class, () -> pipe.finish(p, new float[47]));
    }
}
