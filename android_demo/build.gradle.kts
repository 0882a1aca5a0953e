// Plugins are declared here once (not applied) so every module gets the same pinned versions.
plugins {
    alias(libs.plugins.android.application) apply false
    alias(libs.plugins.kotlin.android) apply false
}
