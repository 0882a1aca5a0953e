package org.edgeseg.core;

/** The region of the frame the model sees: rows {@code y..y+h-1}, columns {@code x..x+w-1}. */
public record CropBox(int y, int x, int h, int w) {

    /**
     * Largest centred box of a frame (H, W) with the model's aspect ratio (h, w), integers only,
     * exactly as {@code edgeseg.screen.frame.crop_box}: if {@code W*h > H*w} the frame is too wide.
     */
    public static CropBox of(int frameH, int frameW, int modelH, int modelW) {
        if (frameH <= 0 || frameW <= 0 || modelH <= 0 || modelW <= 0) {
            throw new IllegalArgumentException("crop box needs positive sizes, got frame " + frameH + "x" + frameW
                    + " and model " + modelH + "x" + modelW);
        }
        int ch, cw;
        // long: a 4K frame times a large model size still fits, int might not.
        if ((long) frameW * modelH > (long) frameH * modelW) {
            ch = frameH;
            cw = (int) ((long) frameH * modelW / modelH);
        } else {
            ch = (int) ((long) frameW * modelH / modelW);
            cw = frameW;
        }
        return new CropBox((frameH - ch) / 2, (frameW - cw) / 2, ch, cw);
    }
}
