plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
}

// The artifact the app ships: the full-integer TFLite model and its manifest, copied from the
// repository's export folder at build time (override with -Pedgeseg.artifact=/path/to/folder).
val artifactDir: File = (findProperty("edgeseg.artifact") as String?)?.let { file(it) }
    ?: rootDir.resolve("../export/mnv2_unet/tflite_static_wi8_ai8_int8io")
val modelAssets: File = layout.buildDirectory.dir("generated/edgeseg-assets").get().asFile

// A Copy task with a missing source folder is silently skipped, so check first and say what to do.
val checkModel by tasks.registering {
    description = "Fails with a clear message when the artifact to ship is missing."
    group = "edgeseg"
    doLast {
        for (name in listOf("model.tflite", "manifest.json")) {
            if (!artifactDir.resolve(name).isFile) {
                throw GradleException(
                    "${artifactDir.resolve(name)} is missing: export the model first (see export/README.md) " +
                        "or pass -Pedgeseg.artifact=<folder with model.tflite and manifest.json>",
                )
            }
        }
    }
}

val copyModel by tasks.registering(Copy::class) {
    description = "Copies model.tflite and manifest.json of the shipped artifact into the app's assets."
    group = "edgeseg"
    dependsOn(checkModel)
    from(artifactDir) { include("model.tflite", "manifest.json") }
    into(modelAssets)
}

android {
    namespace = "org.edgeseg.demo"
    compileSdk = 35

    defaultConfig {
        applicationId = "org.edgeseg.demo"
        minSdk = 26
        targetSdk = 35
        versionCode = 1
        versionName = "0.1"
    }

    buildTypes {
        release {
            // A demo: no shrinking, so Gson and LiteRT need no keep rules.
            isMinifyEnabled = false
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    sourceSets["main"].assets.srcDir(modelAssets)

    // The model is memory-mapped from the APK, which needs it stored uncompressed.
    androidResources {
        noCompress += "tflite"
    }
}

kotlin {
    compilerOptions {
        jvmTarget.set(org.jetbrains.kotlin.gradle.dsl.JvmTarget.JVM_17)
    }
}

tasks.named("preBuild") { dependsOn(copyModel) }

dependencies {
    implementation(project(":core"))
    implementation(libs.androidx.core.ktx)
    implementation(libs.androidx.appcompat)
    implementation(libs.androidx.activity.ktx)
    implementation(libs.camera.core)
    implementation(libs.camera.camera2)
    implementation(libs.camera.lifecycle)
    implementation(libs.camera.view)
    implementation(libs.litert)
}
