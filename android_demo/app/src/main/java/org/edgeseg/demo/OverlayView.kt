package org.edgeseg.demo

import android.content.Context
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.DashPathEffect
import android.graphics.Matrix
import android.graphics.Paint
import android.graphics.RectF
import android.util.AttributeSet
import android.view.View
import java.util.Locale

/**
 * Draws the latest [FrameReport] over the preview: the lesion outline and the model's crop box
 * (mapped from frame pixels with the same fit-centre transform as PreviewView's fitCenter), and a
 * text panel with lesion area, confidence, FPS, stage timings and the hints that fired.
 */
class OverlayView @JvmOverloads constructor(context: Context, attrs: AttributeSet? = null) : View(context, attrs) {

    private var report: FrameReport? = null
    private var message: String? = null
    private val density = resources.displayMetrics.density
    private val toView = Matrix()
    private var points = FloatArray(0)
    private val rect = RectF()

    private val outlinePaint = Paint(Paint.ANTI_ALIAS_FLAG).apply {
        color = Color.rgb(0, 230, 118)
        strokeWidth = 2.5f * density
        style = Paint.Style.STROKE
        strokeCap = Paint.Cap.SQUARE
    }
    private val boxPaint = Paint(Paint.ANTI_ALIAS_FLAG).apply {
        color = Color.argb(160, 255, 255, 255)
        strokeWidth = 1f * density
        style = Paint.Style.STROKE
        pathEffect = DashPathEffect(floatArrayOf(8 * density, 6 * density), 0f)
    }
    private val panelPaint = Paint().apply { color = Color.argb(170, 0, 0, 0) }
    private val textPaint = Paint(Paint.ANTI_ALIAS_FLAG).apply {
        color = Color.WHITE
        textSize = 15 * density
    }
    private val hintPaint = Paint(textPaint).apply { color = Color.rgb(255, 196, 0) }

    /** Main thread only. */
    fun show(r: FrameReport) {
        report = r
        message = null
        invalidate()
    }

    /** A problem to show instead of results (missing assets, bad manifest, camera denied). */
    fun showMessage(text: String) {
        message = text
        invalidate()
    }

    override fun onDraw(canvas: Canvas) {
        super.onDraw(canvas)
        val lines = mutableListOf<Pair<String, Paint>>()
        report?.let { rep ->
            val r = rep.result
            val scale = minOf(width.toFloat() / r.width(), height.toFloat() / r.height())
            toView.setScale(scale, scale)
            toView.postTranslate((width - r.width() * scale) / 2f, (height - r.height() * scale) / 2f)
            val b = r.box()
            rect.set(b.x().toFloat(), b.y().toFloat(), (b.x() + b.w()).toFloat(), (b.y() + b.h()).toFloat())
            toView.mapRect(rect)
            canvas.drawRect(rect, boxPaint)
            val seg = r.outline()
            if (points.size < seg.size) points = FloatArray(seg.size)
            toView.mapPoints(points, 0, seg, 0, seg.size / 2)
            canvas.drawLines(points, 0, seg.size, outlinePaint)

            lines += String.format(
                Locale.US, "lesion %.1f%% of frame   confidence %.2f", 100 * r.areaFraction(), r.confidence(),
            ) to textPaint
            lines += String.format(
                Locale.US, "%.1f FPS   pre %.0f · infer %.0f · post %.0f ms",
                rep.fps, rep.preprocessMs, rep.inferenceMs, rep.postprocessMs,
            ) to textPaint
            for (h in r.hints()) if (h.fired()) lines += "• ${h.message()}" to hintPaint
        }
        message?.let { lines.add(0, it to hintPaint) }
        lines += context.getString(R.string.disclaimer) to textPaint
        drawPanel(canvas, lines)
    }

    // Text on a solid panel at the bottom, so it stays readable over any skin tone or glare.
    private fun drawPanel(canvas: Canvas, lines: List<Pair<String, Paint>>) {
        val pad = 10 * density
        val wrapped = lines.flatMap { (text, paint) -> wrap(text, paint, width - 2 * pad).map { it to paint } }
        val lineH = textPaint.fontSpacing
        val top = height - pad * 2 - lineH * wrapped.size
        canvas.drawRect(0f, top, width.toFloat(), height.toFloat(), panelPaint)
        var y = top + pad - textPaint.ascent()
        for ((text, paint) in wrapped) {
            canvas.drawText(text, pad, y, paint)
            y += lineH
        }
    }

    // Error messages name files and fields and run long: break them to the panel's width.
    private fun wrap(text: String, paint: Paint, maxWidth: Float): List<String> {
        if (maxWidth <= 0) return listOf(text)
        val out = mutableListOf<String>()
        var start = 0
        while (start < text.length) {
            var n = paint.breakText(text, start, text.length, true, maxWidth, null)
            if (n <= 0) n = 1
            if (start + n < text.length) {
                val space = text.lastIndexOf(' ', start + n - 1)
                if (space > start) n = space - start + 1
            }
            out += text.substring(start, start + n).trimEnd()
            start += n
        }
        return out
    }
}
