package org.edgeseg.demo

import android.content.Context
import java.io.Closeable
import java.io.FileInputStream
import java.io.FileNotFoundException
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel
import org.edgeseg.core.Manifest
import org.edgeseg.core.ManifestException
import org.edgeseg.core.TensorSpec
import org.tensorflow.lite.DataType
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.Tensor

/**
 * The exported model on LiteRT, driven by its manifest.json (both app assets, copied by the
 * copyModel Gradle task). Takes the float32 model input of the frame contract and returns float32
 * probabilities: int8/uint8 IO is quantized and dequantized here with the manifest's scale and
 * zero point, which are checked against the model's own tensors at start-up.
 *
 * Not thread-safe: call [run] from one thread (the analysis executor).
 */
class Segmenter(context: Context, threads: Int = 4) : Closeable {

    val manifest: Manifest = try {
        context.assets.open(MANIFEST).reader(Charsets.UTF_8).use { Manifest.parse(it, "assets/$MANIFEST") }
    } catch (e: FileNotFoundException) {
        throw ManifestException("assets/$MANIFEST is missing: build with the copyModel task (see android_demo/README.md)", e)
    }

    private val interpreter = Interpreter(mapAsset(context, manifest.file()), Interpreter.Options().setNumThreads(threads))
    private val inSpec: TensorSpec = manifest.input()
    private val outSpec: TensorSpec = manifest.output()
    private val inBuf = ByteBuffer.allocateDirect(inSpec.size() * bytesPer(inSpec)).order(ByteOrder.nativeOrder())
    private val outBuf = ByteBuffer.allocateDirect(outSpec.size() * bytesPer(outSpec)).order(ByteOrder.nativeOrder())
    private val inQ = ByteArray(if (inSpec.isFloat) 0 else inSpec.size())
    private val outQ = ByteArray(if (outSpec.isFloat) 0 else outSpec.size())

    init {
        check(interpreter.inputTensorCount == 1 && interpreter.outputTensorCount == 1) {
            "assets/${manifest.file()}: expected one input and one output tensor, got " +
                "${interpreter.inputTensorCount} and ${interpreter.outputTensorCount}"
        }
        checkTensor(interpreter.getInputTensor(0), inSpec, "input")
        checkTensor(interpreter.getOutputTensor(0), outSpec, "output")
    }

    /** [input]: (1, h, w, 3) float32 from FramePipeline.prepare; returns (h, w) probabilities. */
    fun run(input: FloatArray): FloatArray {
        inBuf.rewind()
        if (inSpec.isFloat) {
            inBuf.asFloatBuffer().put(input)
        } else {
            inSpec.quantize(input, inQ)
            inBuf.put(inQ)
        }
        inBuf.rewind()
        outBuf.rewind()
        interpreter.run(inBuf, outBuf)
        outBuf.rewind()
        val prob = FloatArray(outSpec.size())
        if (outSpec.isFloat) {
            outBuf.asFloatBuffer().get(prob)
        } else {
            outBuf.get(outQ)
            outSpec.dequantize(outQ, prob)
        }
        return prob
    }

    override fun close() = interpreter.close()

    // A manifest from another export would silently mis-scale every pixel: refuse it instead.
    private fun checkTensor(t: Tensor, spec: TensorSpec, role: String) {
        val want = when (spec.dtype()) {
            "int8" -> DataType.INT8
            "uint8" -> DataType.UINT8
            else -> DataType.FLOAT32
        }
        val problem = when {
            !t.shape().contentEquals(spec.shape()) ->
                "shape ${t.shape().contentToString()} but the manifest says ${spec.shape().contentToString()}"
            t.dataType() != want -> "type ${t.dataType()} but the manifest says ${spec.dtype()}"
            !spec.isFloat && (t.quantizationParams().scale != spec.scale() ||
                t.quantizationParams().zeroPoint != spec.zeroPoint()) ->
                "scale ${t.quantizationParams().scale} / zero point ${t.quantizationParams().zeroPoint} but the " +
                    "manifest says ${spec.scale()} / ${spec.zeroPoint()}"
            else -> null
        }
        if (problem != null) {
            throw ManifestException("assets/$MANIFEST does not describe assets/${manifest.file()}: its $role has $problem")
        }
    }

    private companion object {
        const val MANIFEST = "manifest.json"

        fun bytesPer(spec: TensorSpec) = if (spec.isFloat) 4 else 1

        // Stored uncompressed (noCompress "tflite"), so the model maps straight out of the APK.
        fun mapAsset(context: Context, name: String): MappedByteBuffer = try {
            context.assets.openFd(name).use { fd ->
                FileInputStream(fd.fileDescriptor).channel.use { ch ->
                    ch.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
                }
            }
        } catch (e: FileNotFoundException) {
            throw ManifestException("assets/$name (the manifest's \"file\") is missing or compressed in the APK", e)
        }
    }
}
