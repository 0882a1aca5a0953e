package org.edgeseg.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.junit.runners.Parameterized;

/**
 * Every shipped artifact's golden vectors (written by edgeseg.export.golden) pushed through the
 * Java frame contract: same crop box, same input tensor (within one grey level), same mask, same
 * hint measures and the same hints fired as the Python reference.
 */
@RunWith(Parameterized.class)
public class GoldenTest {

    @Parameterized.Parameters(name = "{0}")
    public static Collection<Object[]> artifacts() throws IOException {
        List<Object[]> out = new ArrayList<>();
        for (Path p : TestFiles.goldenArtifacts()) out.add(new Object[] {p.getFileName().toString(), p});
        return out;
    }

    private final String label;
    private final Path artifact;
    private JsonObject golden;
    private Manifest manifest;
    private RgbImage image;
    private float[] input, output;

    public GoldenTest(String label, Path artifact) {
        this.label = label;
        this.artifact = artifact;
    }

    @Before
    public void load() throws IOException {
        Path g = artifact.resolve("golden");
        golden = JsonParser.parseString(Files.readString(g.resolve("golden.json"), StandardCharsets.UTF_8)).getAsJsonObject();
        manifest = Manifest.read(artifact.resolve("manifest.json"));
        image = TestFiles.readRgb(g.resolve(golden.getAsJsonObject("image").get("file").getAsString()));
        int n = manifest.inputH() * manifest.inputW();
        input = TestFiles.readF32(g.resolve(golden.getAsJsonObject("input").get("file").getAsString()), 3 * n);
        output = TestFiles.readF32(g.resolve(golden.getAsJsonObject("output").get("file").getAsString()), n);
    }

    private static int[] ints(JsonArray a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).getAsInt();
        return out;
    }

    @Test
    public void shapesAndConfigMatchManifest() {
        int h = manifest.inputH(), w = manifest.inputW();
        assertArrayEquals(new int[] {image.height(), image.width(), 3}, ints(golden.getAsJsonObject("image").getAsJsonArray("shape")));
        assertArrayEquals(new int[] {1, h, w, 3}, ints(golden.getAsJsonObject("input").getAsJsonArray("shape")));
        assertArrayEquals(new int[] {1, h, w, 1}, ints(golden.getAsJsonObject("output").getAsJsonArray("shape")));
        // The app reads post-processing and hints from the manifest; the golden mask was made with golden.json's.
        JsonObject post = golden.getAsJsonObject("postprocess");
        assertEquals(new PostprocessConfig(post.get("threshold").getAsFloat(), post.get("open_px").getAsInt(),
                post.get("close_px").getAsInt(), post.get("largest_component").getAsBoolean(),
                post.get("fill_holes").getAsBoolean()), manifest.postprocess());
        JsonObject hc = golden.getAsJsonObject("hint_config");
        assertEquals(new HintConfig(hc.get("blur_min_laplacian_var").getAsDouble(), hc.get("dark_max_mean").getAsDouble(),
                hc.get("bright_min_mean").getAsDouble(), hc.get("border_max_fraction").getAsDouble(),
                hc.get("min_area_fraction").getAsDouble(), hc.get("no_lesion_max_fraction").getAsDouble()), manifest.hints());
    }

    @Test
    public void cropBox() {
        JsonObject b = golden.getAsJsonObject("crop_box");
        CropBox want = new CropBox(b.get("y").getAsInt(), b.get("x").getAsInt(), b.get("h").getAsInt(), b.get("w").getAsInt());
        assertEquals(want, CropBox.of(image.height(), image.width(), manifest.inputH(), manifest.inputW()));
    }

    @Test
    public void preprocessMatchesInputTensor() {
        float[] x = new FramePipeline(manifest).prepare(image).input();
        double maxDiff = 0;
        int differ = 0;
        for (int i = 0; i < x.length; i++) {
            double d = Math.abs(x[i] - input[i]);
            maxDiff = Math.max(maxDiff, d);
            if (d > 0) differ++;
        }
        System.out.printf("  %s: input max |diff| = %.3g (%d of %d values differ)%n", label, maxDiff, differ, x.length);
        assertTrue(label + ": input max |diff| " + maxDiff + " exceeds one grey level",
                maxDiff <= manifest.normalisation().scale() + 1e-6);
    }

    @Test
    public void postprocessMatchesMask() throws IOException {
        FramePipeline pipe = new FramePipeline(manifest);
        FramePipeline.Result r = pipe.finish(pipe.prepare(image), output);
        byte[] want = TestFiles.readMask(artifact.resolve("golden").resolve(golden.getAsJsonObject("mask").get("file").getAsString()));
        assertEquals(want.length, r.mask().length);
        int inter = 0, union = 0, differ = 0;
        for (int i = 0; i < want.length; i++) {
            boolean a = want[i] != 0, b = r.mask()[i] != 0;
            if (a && b) inter++;
            if (a || b) union++;
            if (a != b) differ++;
        }
        double iou = union == 0 ? 1 : (double) inter / union;
        System.out.printf("  %s: mask IoU = %.6f (%d of %d pixels differ), area %.6f%n", label, iou, differ, want.length,
                r.areaFraction());
        assertTrue(label + ": mask IoU " + iou + " < 0.999 (" + differ + " pixels differ)", iou >= 0.999);
        assertEquals(golden.getAsJsonObject("mask").get("area_fraction").getAsDouble(), r.areaFraction(), 1e-3);
    }

    @Test
    public void measuresAndHintsMatch() {
        FramePipeline pipe = new FramePipeline(manifest);
        FramePipeline.Result r = pipe.finish(pipe.prepare(image), output);
        JsonObject m = golden.getAsJsonObject("measures");
        assertRel("laplacian_var", m.get("laplacian_var").getAsDouble(), r.measures().laplacianVar());
        assertRel("mean_grey", m.get("mean_grey").getAsDouble(), r.measures().meanGrey());
        assertRel("border_fraction", m.get("border_fraction").getAsDouble(), r.measures().borderFraction());
        assertRel("area_fraction", m.get("area_fraction").getAsDouble(), r.measures().areaFraction());
        JsonArray hints = golden.getAsJsonArray("hints");
        assertEquals(hints.size(), r.hints().size());
        for (int i = 0; i < hints.size(); i++) {
            JsonObject want = hints.get(i).getAsJsonObject();
            Hints.Hint got = r.hints().get(i);
            String name = want.get("name").getAsString();
            assertEquals(name, got.name());
            assertEquals(label + ": hint " + name + " fired", want.get("fired").getAsBoolean(), got.fired());
            assertEquals(want.get("direction").getAsString(), got.direction());
            assertEquals(want.get("threshold").getAsDouble(), got.threshold(), 0);
            assertEquals(want.get("message").getAsString(), got.message());
            assertEquals(label + ": hint " + name + " value", want.get("value").getAsDouble(), got.value(), 1e-6 + 1e-4 * Math.abs(got.value()));
        }
    }

    /** Integer IO: dequantize(quantize(x)) stays within half a step, and the int8 outputs sit on the declared grid. */
    @Test
    public void quantizationRoundTrips() {
        TensorSpec in = manifest.input(), out = manifest.output();
        if (!in.isFloat()) {
            float[] back = in.dequantize(in.quantize(input));
            for (int i = 0; i < input.length; i++) {
                assertEquals(label + ": input value " + i, input[i], back[i], in.scale() / 2 + 1e-6);
            }
        }
        if (!out.isFloat()) {
            float[] back = out.dequantize(out.quantize(output));
            assertArrayEquals(label + ": output.f32 is not on the output tensor's int8 grid", output, back, 0f);
        }
    }

    private void assertRel(String what, double want, double got) {
        assertEquals(label + ": measure " + what, want, got, 1e-4 * Math.abs(want) + 1e-9);
    }
}
