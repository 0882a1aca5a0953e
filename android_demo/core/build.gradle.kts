// Plain Java 17 library, no Android dependency: the same sources compile with javac in
// run_tests.sh (CI) and here for the app.
plugins {
    `java-library`
}

java {
    sourceCompatibility = JavaVersion.VERSION_17
    targetCompatibility = JavaVersion.VERSION_17
}

dependencies {
    implementation(libs.gson)
    testImplementation(libs.junit)
}

tasks.test {
    // The golden vectors of the shipped artifacts, as run_tests.sh passes them.
    systemProperty("edgeseg.export", rootDir.resolve("../export/mnv2_unet").absolutePath)
    systemProperty("java.awt.headless", "true")
    testLogging { events("failed"); showStandardStreams = true }
}
