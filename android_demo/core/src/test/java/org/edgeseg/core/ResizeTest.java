package org.edgeseg.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.junit.Test;

/** Resize against cv2.resize outputs written by tools/make_resize_fixtures.py (random noise). */
public class ResizeTest {

    private static float[] f32(byte[] b) {
        float[] out = new float[b.length / 4];
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
        return out;
    }

    @Test
    public void matchesOpenCv() throws IOException {
        String index = new String(TestFiles.resource("resize/cases.json"), StandardCharsets.UTF_8);
        int cases = 0;
        for (JsonElement e : JsonParser.parseString(index).getAsJsonArray()) {
            JsonObject c = e.getAsJsonObject();
            String name = c.get("name").getAsString();
            int sw = c.get("sw").getAsInt(), sh = c.get("sh").getAsInt(), dw = c.get("dw").getAsInt(), dh = c.get("dh").getAsInt();
            byte[] src = TestFiles.resource("resize/" + name + ".src"), dst = TestFiles.resource("resize/" + name + ".dst");
            if (c.get("kind").getAsString().equals("rgb")) {
                byte[] got = Resize.rgb(src, sw, sh, dw, dh);
                int maxDiff = 0, differ = 0;
                for (int i = 0; i < dst.length; i++) {
                    int d = Math.abs((got[i] & 0xff) - (dst[i] & 0xff));
                    maxDiff = Math.max(maxDiff, d);
                    if (d > 0) differ++;
                }
                System.out.printf("  resize %s %dx%d->%dx%d: max |diff| %d (%d of %d differ)%n", name, sw, sh, dw, dh,
                        maxDiff, differ, dst.length);
                assertEquals(name + ": max |diff| against cv2.resize", 0, maxDiff);
            } else {
                float[] got = Resize.prob(f32(src), sw, sh, dw, dh), want = f32(dst);
                double maxDiff = 0;
                for (int i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
                System.out.printf("  resize %s %dx%d->%dx%d: max |diff| %.3g%n", name, sw, sh, dw, dh, maxDiff);
                // A few float32 ulps: the fixtures come from an x86 wheel, where cv2 uses Intel IPP here.
                assertTrue(name + ": max |diff| " + maxDiff, maxDiff <= 2e-6);
            }
            cases++;
        }
        assertTrue("no resize fixtures", cases > 0);
    }

    @Test
    public void sameSizeIsACopy() {
        byte[] src = {1, 2, 3, 4, 5, 6};
        byte[] out = Resize.rgb(src, 2, 1, 2, 1);
        assertEquals(6, out[5]);
        out[0] = 9;
        assertEquals(1, src[0]);
    }

    @Test
    public void wrongLengthIsRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Resize.rgb(new byte[10], 2, 2, 1, 1));
        assertTrue(e.getMessage(), e.getMessage().contains("do not make a 2x2x3 image"));
    }
}
