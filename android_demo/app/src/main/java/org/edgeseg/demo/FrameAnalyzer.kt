package org.edgeseg.demo

import android.os.SystemClock
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.ImageProxy
import org.edgeseg.core.FramePipeline
import org.edgeseg.core.RgbImage

/** What the overlay shows for one frame. */
class FrameReport(
    val result: FramePipeline.Result,
    val fps: Double,
    val preprocessMs: Double,
    val inferenceMs: Double,
    val postprocessMs: Double,
)

/**
 * Camera frame (RGBA_8888) -> upright RGB -> frame contract (core module) -> LiteRT -> mask,
 * outline and hints. Runs on the analysis executor; with STRATEGY_KEEP_ONLY_LATEST CameraX drops
 * frames that arrive while one is being processed, so the overlay is never behind the camera.
 */
class FrameAnalyzer(
    private val segmenter: Segmenter,
    private val onReport: (FrameReport) -> Unit,
    private val onError: (Throwable) -> Unit,
) : ImageAnalysis.Analyzer {

    private val pipeline = FramePipeline(segmenter.manifest)
    private var rgba = ByteArray(0)
    private var lastFrameNs = 0L
    private var fps = 0.0

    override fun analyze(image: ImageProxy) {
        val t0 = SystemClock.elapsedRealtimeNanos()
        // Copy out and release the camera buffer at once; the rest works on our copy.
        val frame = try {
            val plane = image.planes[0]
            val buf = plane.buffer.apply { rewind() }
            if (rgba.size < buf.remaining()) rgba = ByteArray(buf.remaining())
            buf.get(rgba, 0, buf.remaining())
            RgbImage.fromRgba(rgba, image.width, image.height, plane.rowStride, image.imageInfo.rotationDegrees)
        } catch (e: RuntimeException) {
            onError(e)
            return
        } finally {
            image.close()
        }
        try {
            val prepared = pipeline.prepare(frame)
            val t1 = SystemClock.elapsedRealtimeNanos()
            val prob = segmenter.run(prepared.input())
            val t2 = SystemClock.elapsedRealtimeNanos()
            val result = pipeline.finish(prepared, prob)
            val t3 = SystemClock.elapsedRealtimeNanos()
            // Smoothed frames per second of the whole loop, camera waits included.
            if (lastFrameNs != 0L) {
                val now = 1e9 / (t3 - lastFrameNs)
                fps = if (fps == 0.0) now else 0.9 * fps + 0.1 * now
            }
            lastFrameNs = t3
            onReport(FrameReport(result, fps, ms(t1 - t0), ms(t2 - t1), ms(t3 - t2)))
        } catch (e: RuntimeException) {
            onError(e)
        }
    }

    private fun ms(ns: Long) = ns / 1e6
}
