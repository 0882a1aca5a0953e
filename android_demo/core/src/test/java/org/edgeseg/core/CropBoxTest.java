package org.edgeseg.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;

import org.junit.Test;

public class CropBoxTest {

    @Test
    public void portraitFrameIsCutTopAndBottom() {
        // 1280 high, 720 wide; the 192x256 (h x w) model is 4:3 landscape: full width, 540 rows from the middle.
        assertEquals(new CropBox(370, 0, 540, 720), CropBox.of(1280, 720, 192, 256));
    }

    @Test
    public void cases() {
        assertEquals(new CropBox(0, 160, 720, 960), CropBox.of(720, 1280, 192, 256));
        assertEquals(new CropBox(0, 0, 192, 256), CropBox.of(192, 256, 192, 256));
        assertEquals(new CropBox(0, 0, 144, 192), CropBox.of(144, 192, 144, 192));
        assertEquals(new CropBox(0, 80, 480, 640), CropBox.of(480, 800, 144, 192));
        // Integer division floors, and the offset takes the floor of half the slack.
        assertEquals(new CropBox(0, 1, 7, 9), CropBox.of(7, 11, 3, 4));
        assertEquals(new CropBox(1, 0, 8, 11), CropBox.of(11, 11, 3, 4));
    }

    @Test
    public void rejectsEmptySizes() {
        assertThrows(IllegalArgumentException.class, () -> CropBox.of(0, 10, 3, 4));
    }
}
