package org.edgeseg.core;

import java.awt.image.BufferedImage;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import javax.imageio.ImageIO;

/** Reading the golden vectors and fixtures. */
final class TestFiles {
    private TestFiles() {}

    /**
     * The shipped artifacts: {@code -Dedgeseg.export=DIR} (run_tests.sh sets it), else
     * {@code export/mnv2_unet} of the first parent of the working directory that has android_demo/.
     */
    static Path exportDir() {
        String prop = System.getProperty("edgeseg.export");
        if (prop != null) return Paths.get(prop).toAbsolutePath().normalize();
        for (Path d = Paths.get("").toAbsolutePath(); d != null; d = d.getParent()) {
            if (Files.isDirectory(d.resolve("android_demo"))) return d.resolve("export/mnv2_unet");
        }
        throw new IllegalStateException("cannot find the repository root (a folder with android_demo/) above "
                + Paths.get("").toAbsolutePath() + "; pass -Dedgeseg.export=.../export/mnv2_unet");
    }

    /** Every artifact folder under the export dir that has golden/golden.json, sorted; fails if none. */
    static List<Path> goldenArtifacts() throws IOException {
        Path dir = exportDir();
        if (!Files.isDirectory(dir)) {
            throw new IllegalStateException("no golden vectors: " + dir + " does not exist (the shipped artifacts of "
                    + "edgeseg export go there, each with manifest.json and golden/)");
        }
        List<Path> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            s.filter(p -> Files.isRegularFile(p.resolve("golden/golden.json"))).sorted().forEach(out::add);
        }
        if (out.isEmpty()) {
            throw new IllegalStateException("no golden vectors: no " + dir + "/*/golden/golden.json");
        }
        return out;
    }

    static float[] readF32(Path p, int expected) throws IOException {
        byte[] b = Files.readAllBytes(p);
        if (b.length != 4 * expected) {
            throw new IOException(p + ": " + b.length + " bytes, expected " + 4 * expected + " (" + expected + " float32)");
        }
        float[] out = new float[expected];
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
        return out;
    }

    static BufferedImage readPng(Path p) throws IOException {
        BufferedImage img = ImageIO.read(p.toFile());
        if (img == null) throw new IOException(p + ": not an image javax.imageio can decode");
        return img;
    }

    static RgbImage readRgb(Path p) throws IOException {
        BufferedImage img = readPng(p);
        int w = img.getWidth(), h = img.getHeight();
        byte[] rgb = new byte[3 * w * h];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int v = img.getRGB(x, y), i = 3 * (y * w + x);
                rgb[i] = (byte) (v >> 16);
                rgb[i + 1] = (byte) (v >> 8);
                rgb[i + 2] = (byte) v;
            }
        }
        return new RgbImage(rgb, w, h);
    }

    /** A grey PNG as {0,1}: nonzero is lesion. Reads the raster, not getRGB, so no colour conversion. */
    static byte[] readMask(Path p) throws IOException {
        BufferedImage img = readPng(p);
        int w = img.getWidth(), h = img.getHeight();
        byte[] out = new byte[w * h];
        var raster = img.getRaster();
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) out[y * w + x] = raster.getSample(x, y, 0) != 0 ? (byte) 1 : 0;
        }
        return out;
    }

    static byte[] resource(String name) throws IOException {
        try (InputStream in = TestFiles.class.getResourceAsStream("/" + name)) {
            if (in == null) throw new IOException("test resource " + name + " is not on the classpath");
            return in.readAllBytes();
        }
    }

    static String path(Path p) {
        return p.toString().replace(File.separatorChar, '/');
    }
}
