// The edgeseg Android demo: a plain-JVM core (frame contract, tested against the golden vectors
// with or without Gradle) and the CameraX + LiteRT app that uses it.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "edgeseg-android-demo"
include(":core", ":app")
