package org.edgeseg.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.StringReader;
import org.junit.Test;

public class ManifestTest {

    static final String GOOD = """
            {"file": "model.tflite", "input_size": [144, 192],
             "normalisation": {"scale": 0.00392156862745098, "offset": 0.0},
             "input": {"name": "image", "shape": [1, 144, 192, 3], "dtype": "int8",
                       "scale": 0.003921568859368563, "zero_point": -128},
             "output": {"name": "Identity", "shape": [1, 144, 192, 1], "dtype": "int8",
                        "scale": 0.00390625, "zero_point": -128},
             "postprocess": {"threshold": 0.5, "open_px": 0, "close_px": 0,
                             "largest_component": false, "fill_holes": true},
             "hints": {"blur_min_laplacian_var": 6.0, "dark_max_mean": 45.0, "bright_min_mean": 225.0,
                       "border_max_fraction": 0.02, "min_area_fraction": 0.03, "no_lesion_max_fraction": 0.001}}
            """;

    static Manifest parse(String json) {
        return Manifest.parse(new StringReader(json), "assets/manifest.json");
    }

    /** GOOD with one edit applied to its tree. */
    static String edit(java.util.function.Consumer<JsonObject> change) {
        JsonObject o = JsonParser.parseString(GOOD).getAsJsonObject();
        change.accept(o);
        return o.toString();
    }

    static String message(String json) {
        return assertThrows(ManifestException.class, () -> parse(json)).getMessage();
    }

    @Test
    public void parsesTheShippedFields() {
        Manifest m = parse(GOOD);
        assertEquals("model.tflite", m.file());
        assertEquals(144, m.inputH());
        assertEquals(192, m.inputW());
        assertEquals(1 / 255f, m.normalisation().scale(), 0);
        assertEquals("int8", m.input().dtype());
        assertEquals(-128, m.output().zeroPoint());
        assertEquals(0.00390625f, m.output().scale(), 0);
        assertTrue(m.postprocess().fillHoles());
        assertFalse(m.postprocess().largestComponent());
        assertEquals(HintConfig.DEFAULT, m.hints());
    }

    @Test
    public void floatTensorsNeedNoQuantization() {
        Manifest m = parse(edit(o -> {
            o.getAsJsonObject("input").addProperty("dtype", "float32");
            o.getAsJsonObject("input").remove("scale");
            o.getAsJsonObject("input").remove("zero_point");
        }));
        assertTrue(m.input().isFloat());
    }

    @Test
    public void missingFieldIsNamedWithItsFile() {
        assertEquals("assets/manifest.json: missing field 'normalisation'", message(edit(o -> o.remove("normalisation"))));
        assertEquals("assets/manifest.json: missing field 'hints.min_area_fraction'",
                message(edit(o -> o.getAsJsonObject("hints").remove("min_area_fraction"))));
        assertEquals("assets/manifest.json: missing field 'output.zero_point'",
                message(edit(o -> o.getAsJsonObject("output").remove("zero_point"))));
    }

    @Test
    public void wrongTypesAndShapesAreExplained() {
        assertTrue(message(edit(o -> o.addProperty("input_size", "144x192"))).contains("'input_size' must be an array of integers"));
        assertTrue(message(edit(o -> o.getAsJsonObject("postprocess").addProperty("fill_holes", 1)))
                .contains("'postprocess.fill_holes' must be true or false"));
        assertTrue(message(edit(o -> o.getAsJsonObject("input").addProperty("dtype", "int16"))).contains("int16"));
        assertTrue(message(edit(o -> o.getAsJsonObject("output").getAsJsonObject().add("shape",
                JsonParser.parseString("[1, 144, 192, 2]")))).contains("output shape [1, 144, 192, 2]"));
        assertTrue(message(edit(o -> o.getAsJsonObject("postprocess").addProperty("threshold", 1.5)))
                .contains("threshold must be in (0, 1)"));
        assertTrue(message("{not json").startsWith("assets/manifest.json: not valid JSON"));
        assertTrue(message("[1, 2]").contains("expected a JSON object"));
    }
}
