package org.edgeseg.demo

import android.Manifest
import android.content.pm.PackageManager
import android.os.Bundle
import android.util.Log
import android.util.Size
import androidx.activity.result.contract.ActivityResultContracts
import androidx.appcompat.app.AppCompatActivity
import androidx.camera.core.CameraSelector
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.Preview
import androidx.camera.core.resolutionselector.AspectRatioStrategy
import androidx.camera.core.resolutionselector.ResolutionSelector
import androidx.camera.core.resolutionselector.ResolutionStrategy
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.camera.view.PreviewView
import androidx.core.content.ContextCompat
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors

/**
 * Live screening: CameraX Preview + ImageAnalysis (latest frame wins) -> [FrameAnalyzer] ->
 * [OverlayView]. Model and manifest come from the app's assets; any problem loading them is
 * shown on screen, naming the file and field, instead of crashing.
 */
class MainActivity : AppCompatActivity() {

    private lateinit var preview: PreviewView
    private lateinit var overlay: OverlayView
    private val analysisExecutor: ExecutorService = Executors.newSingleThreadExecutor()
    private var segmenter: Segmenter? = null

    private val askCamera = registerForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
        if (granted) startCamera() else overlay.showMessage(getString(R.string.camera_denied))
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        preview = findViewById(R.id.preview)
        overlay = findViewById(R.id.overlay)
        preview.scaleType = PreviewView.ScaleType.FIT_CENTER

        segmenter = try {
            Segmenter(this)
        } catch (e: Exception) {
            Log.e(TAG, "cannot load the model", e)
            overlay.showMessage(e.message ?: e.toString())
            return
        }
        if (ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
            startCamera()
        } else {
            askCamera.launch(Manifest.permission.CAMERA)
        }
    }

    private fun startCamera() {
        val seg = segmenter ?: return
        val providerFuture = ProcessCameraProvider.getInstance(this)
        providerFuture.addListener({
            val provider = providerFuture.get()
            // Both streams 4:3 (the sensor's shape on most phones), so they see the same field of view
            // and the overlay lines up with the fit-centred preview.
            val fourThree = AspectRatioStrategy.RATIO_4_3_FALLBACK_AUTO_STRATEGY
            val previewUseCase = Preview.Builder()
                .setResolutionSelector(ResolutionSelector.Builder().setAspectRatioStrategy(fourThree).build())
                .build()
                .also { it.setSurfaceProvider(preview.surfaceProvider) }
            // 640x480 is plenty for a 144x192 model; larger frames only cost copy and resize time.
            val analysis = ImageAnalysis.Builder()
                .setResolutionSelector(
                    ResolutionSelector.Builder()
                        .setAspectRatioStrategy(fourThree)
                        .setResolutionStrategy(
                            ResolutionStrategy(Size(640, 480), ResolutionStrategy.FALLBACK_RULE_CLOSEST_HIGHER_THEN_LOWER),
                        )
                        .build(),
                )
                .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
                .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888)
                .build()
            analysis.setAnalyzer(
                analysisExecutor,
                FrameAnalyzer(
                    seg,
                    onReport = { report -> overlay.post { overlay.show(report) } },
                    onError = { e ->
                        Log.e(TAG, "frame failed", e)
                        overlay.post { overlay.showMessage(e.message ?: e.toString()) }
                    },
                ),
            )
            try {
                provider.unbindAll()
                provider.bindToLifecycle(this, CameraSelector.DEFAULT_BACK_CAMERA, previewUseCase, analysis)
            } catch (e: Exception) {
                Log.e(TAG, "cannot start the camera", e)
                overlay.showMessage("cannot start the camera: ${e.message}")
            }
        }, ContextCompat.getMainExecutor(this))
    }

    override fun onDestroy() {
        super.onDestroy()
        // Close the interpreter on the analysis thread, after any frame still running there.
        val seg = segmenter
        analysisExecutor.execute { seg?.close() }
        analysisExecutor.shutdown()
    }

    private companion object {
        const val TAG = "edgeseg"
    }
}
