package org.edgeseg.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;

import org.junit.Test;

public class PostprocessTest {

    /** Rows of '#' (lesion) and '.' (background) -> mask. */
    static byte[] mask(String... rows) {
        byte[] m = new byte[rows.length * rows[0].length()];
        for (int y = 0; y < rows.length; y++) {
            for (int x = 0; x < rows[y].length(); x++) m[y * rows[0].length() + x] = rows[y].charAt(x) == '#' ? (byte) 1 : 0;
        }
        return m;
    }

    @Test
    public void largestComponentUsesEightConnectivity() {
        byte[] m = mask(
                "##....#",
                "..#...#",
                "...#...",
                ".......",
                "####...");
        // The diagonal chain and the bottom bar both have 4 pixels: on a tie the first in raster order wins (as cv2).
        assertArrayEquals(mask(
                "##.....",
                "..#....",
                "...#...",
                ".......",
                "......."), Postprocess.keepLargestComponent(m, 7, 5));
        byte[] bigger = mask(
                "##....#",
                "..#...#",
                "...#...",
                ".......",
                "#####..");
        assertArrayEquals(mask(
                ".......",
                ".......",
                ".......",
                ".......",
                "#####.."), Postprocess.keepLargestComponent(bigger, 7, 5));
    }

    @Test
    public void largestComponentOfEmptyMaskIsEmpty() {
        assertArrayEquals(new byte[6], Postprocess.keepLargestComponent(new byte[6], 3, 2));
    }

    @Test
    public void fillHolesFillsOnlyEnclosedBackground() {
        byte[] m = mask(
                "#####..",
                "#..#...",
                "#####..",
                ".#.#...",
                ".###...");
        // (1,1) and (2,1) are enclosed, (2,3) too; (4,1) leaks out through (5,1). Same as the Python.
        assertArrayEquals(mask(
                "#####..",
                "####...",
                "#####..",
                ".###...",
                ".###..."), Postprocess.fillHoles(m, 7, 5));
    }

    @Test
    public void holeOpenOnlyDiagonallyIsFilled() {
        // Background counts as outside only through 4-connected steps.
        assertArrayEquals(mask(
                "####.",
                "###..",
                "##...",
                "....."), Postprocess.fillHoles(mask(
                "####.",
                "#.#..",
                "##...",
                "....."), 5, 4));
    }

    @Test
    public void fillHolesKeepsBackgroundTouchingTheBorder() {
        byte[] m = mask(
                "###",
                "#.#",
                "#.#");
        assertArrayEquals(m, Postprocess.fillHoles(m, 3, 3));
    }

    @Test
    public void openingRemovesSpecksAndClosingBridgesGaps() {
        float[] prob = new float[9 * 9];
        prob[4 * 9 + 4] = 0.9f;  // a lone pixel
        byte[] opened = Postprocess.apply(prob, 9, 9, new PostprocessConfig(0.5f, 1, 0, false, false));
        assertArrayEquals(new byte[81], opened);
        byte[] gap = mask(
                ".........",
                ".###.###.",
                ".###.###.",
                ".###.###.",
                ".........");
        byte[] closed = Postprocess.erode(Postprocess.dilate(gap, 9, 5, 1), 9, 5, 1);
        assertEquals(1, closed[2 * 9 + 4]);  // the one-pixel gap is bridged
        assertEquals(0, closed[0]);
    }

    @Test
    public void diskMatchesOpenCvEllipse() {
        // Ones in cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2r+1, 2r+1)) for r = 1, 2, 3.
        assertEquals(5, Postprocess.disk(1).length);
        assertEquals(17, Postprocess.disk(2).length);
        assertEquals(33, Postprocess.disk(3).length);
    }

    @Test
    public void thresholdIsStrict() {
        assertArrayEquals(new byte[] {0, 0, 1}, Postprocess.threshold(new float[] {0.2f, 0.5f, 0.51f}, 0.5f));
    }

    @Test
    public void configRejectsBadValues() {
        assertThrows(IllegalArgumentException.class, () -> new PostprocessConfig(1.0f, 0, 0, false, false));
        assertThrows(IllegalArgumentException.class, () -> new PostprocessConfig(0.5f, -1, 0, false, false));
    }
}
