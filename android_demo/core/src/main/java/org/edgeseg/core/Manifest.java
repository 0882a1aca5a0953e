package org.edgeseg.core;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The parts of an artifact's {@code manifest.json} (written by {@code edgeseg export}) that the
 * app needs: model file, input size, normalisation, input/output tensors with their quantization,
 * post-processing and hint thresholds. Every field is required, so a manifest that would make
 * the app disagree with the Python reference fails at start-up, naming the file and the field.
 */
public record Manifest(String file, int inputH, int inputW, Normalisation normalisation, TensorSpec input,
                       TensorSpec output, PostprocessConfig postprocess, HintConfig hints) {

    public static Manifest read(Path path) throws IOException {
        try (Reader r = Files.newBufferedReader(path, StandardCharsets.UTF_8)) {
            return parse(r, path.toString());
        }
    }

    /** Parse from any reader (an Android asset stream); {@code source} names it in error messages. */
    public static Manifest parse(Reader reader, String source) {
        JsonElement root;
        try {
            root = JsonParser.parseReader(reader);
        } catch (JsonParseException e) {
            throw new ManifestException(source + ": not valid JSON (" + e.getMessage() + ")", e);
        }
        if (!root.isJsonObject()) throw new ManifestException(source + ": expected a JSON object at the top level");
        Fields f = new Fields(source, root.getAsJsonObject(), "");
        int[] size = f.ints("input_size");
        if (size.length != 2 || size[0] < 3 || size[1] < 3) {
            throw new ManifestException(source + ": 'input_size' must be [height, width] of at least 3, got "
                    + java.util.Arrays.toString(size));
        }
        int h = size[0], w = size[1];
        Fields norm = f.object("normalisation");
        Fields post = f.object("postprocess");
        Fields hints = f.object("hints");
        try {
            Manifest m = new Manifest(
                    f.string("file"), h, w,
                    new Normalisation((float) norm.number("scale"), (float) norm.number("offset")),
                    tensor(f.object("input")), tensor(f.object("output")),
                    new PostprocessConfig((float) post.number("threshold"), post.integer("open_px"),
                            post.integer("close_px"), post.bool("largest_component"), post.bool("fill_holes")),
                    new HintConfig(hints.number("blur_min_laplacian_var"), hints.number("dark_max_mean"),
                            hints.number("bright_min_mean"), hints.number("border_max_fraction"),
                            hints.number("min_area_fraction"), hints.number("no_lesion_max_fraction")));
            m.checkShapes(source);
            return m;
        } catch (IllegalArgumentException e) {
            throw new ManifestException(source + ": " + e.getMessage(), e);
        }
    }

    private static TensorSpec tensor(Fields t) {
        String dtype = t.string("dtype");
        boolean quantized = !dtype.equals("float32");
        return new TensorSpec(t.string("name"), t.ints("shape"), dtype,
                quantized ? (float) t.number("scale") : 0f, quantized ? t.integer("zero_point") : 0);
    }

    // The app feeds an NHWC RGB batch of one and reads one probability channel back.
    private void checkShapes(String source) {
        int[] in = input.shape(), out = output.shape();
        if (in.length != 4 || in[0] != 1 || in[1] != inputH || in[2] != inputW || in[3] != 3) {
            throw new ManifestException(source + ": input shape " + java.util.Arrays.toString(in) + " is not [1, "
                    + inputH + ", " + inputW + ", 3] (input_size, NHWC RGB)");
        }
        if (out.length != 4 || out[0] != 1 || out[1] != inputH || out[2] != inputW || out[3] != 1) {
            throw new ManifestException(source + ": output shape " + java.util.Arrays.toString(out) + " is not [1, "
                    + inputH + ", " + inputW + ", 1]");
        }
    }

    /** Typed access to one JSON object; every getter names the dotted path when the field is missing or mistyped. */
    private record Fields(String source, JsonObject obj, String prefix) {

        private JsonElement get(String key) {
            JsonElement e = obj.get(key);
            if (e == null || e.isJsonNull()) throw new ManifestException(source + ": missing field '" + prefix + key + "'");
            return e;
        }

        private ManifestException wrong(String key, String want) {
            return new ManifestException(source + ": field '" + prefix + key + "' must be " + want + ", got " + obj.get(key));
        }

        Fields object(String key) {
            JsonElement e = get(key);
            if (!e.isJsonObject()) throw wrong(key, "an object");
            return new Fields(source, e.getAsJsonObject(), prefix + key + ".");
        }

        String string(String key) {
            JsonElement e = get(key);
            if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) throw wrong(key, "a string");
            return e.getAsString();
        }

        double number(String key) {
            JsonElement e = get(key);
            if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) throw wrong(key, "a number");
            return e.getAsDouble();
        }

        int integer(String key) {
            double v = number(key);
            if (v != Math.rint(v) || Math.abs(v) > Integer.MAX_VALUE) throw wrong(key, "an integer");
            return (int) v;
        }

        boolean bool(String key) {
            JsonElement e = get(key);
            if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) throw wrong(key, "true or false");
            return e.getAsBoolean();
        }

        int[] ints(String key) {
            JsonElement e = get(key);
            if (!e.isJsonArray()) throw wrong(key, "an array of integers");
            JsonArray a = e.getAsJsonArray();
            int[] out = new int[a.size()];
            for (int i = 0; i < out.length; i++) {
                JsonElement v = a.get(i);
                if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isNumber() || v.getAsDouble() != Math.rint(v.getAsDouble())) {
                    throw wrong(key, "an array of integers");
                }
                out[i] = v.getAsInt();
            }
            return out;
        }
    }
}
