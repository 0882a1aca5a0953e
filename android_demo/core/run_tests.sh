#!/usr/bin/env bash
# Compile the plain-JVM core module and its JUnit 4 tests with javac and run them: no Gradle or
# Maven needed (CI has no Maven repository). The golden tests read ../export/{mnv2_unet,unet_w025}/*/golden/.
# Usage: bash android_demo/core/run_tests.sh   (from anywhere)
set -euo pipefail

CORE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$CORE/../.." && pwd)"
OUT="$CORE/build/javac"
JARS=/usr/share/java
CP_LIBS="$JARS/gson.jar:$JARS/junit4.jar:$JARS/hamcrest.jar"

# Debian 12 packages the same Gson the app pins, JUnit 4 and Hamcrest; install them only if missing.
if [[ ! -f $JARS/gson.jar || ! -f $JARS/junit4.jar || ! -f $JARS/hamcrest.jar ]]; then
    echo "run_tests.sh: installing libgoogle-gson-java and junit4 with apt-get" >&2
    if [[ $(id -u) -ne 0 ]]; then
        echo "run_tests.sh: need root to apt-get install libgoogle-gson-java junit4 (or install them yourself)" >&2
        exit 2
    fi
    apt-get install -y -qq libgoogle-gson-java junit4 >/dev/null \
        || { apt-get update -qq && apt-get install -y -qq libgoogle-gson-java junit4 >/dev/null; }
fi
command -v javac >/dev/null || { echo "run_tests.sh: javac not found (need a JDK 17)" >&2; exit 2; }

rm -rf "$OUT"
mkdir -p "$OUT/main" "$OUT/test"
# -J-XX:TieredStopAtLevel=1 -J-Xshare:auto: javac is a short run, C1 alone starts faster.
JAVAC=(javac -J-XX:TieredStopAtLevel=1 --release 17 -encoding UTF-8 -Xlint:all -Werror)
"${JAVAC[@]}" -cp "$CP_LIBS" -d "$OUT/main" $(find "$CORE/src/main/java" -name '*.java')
"${JAVAC[@]}" -cp "$OUT/main:$CP_LIBS" -d "$OUT/test" $(find "$CORE/src/test/java" -name '*.java')

TESTS=$(cd "$CORE/src/test/java" && find . -name '*Test.java' | sed 's|^\./||; s|\.java$||; s|/|.|g' | sort)
# shellcheck disable=SC2086  # one argument per test class
# Every shipped folder: the phone model (mnv2_unet, what the app embeds) and the U-Net reference.
for EXPORT in "$REPO/export/mnv2_unet" "$REPO/export/unet_w025"; do
    echo "run_tests.sh: golden vectors of $EXPORT"
    java -XX:TieredStopAtLevel=1 -Djava.awt.headless=true -Dedgeseg.export="$EXPORT" \
        -cp "$OUT/main:$OUT/test:$CORE/src/test/resources:$CP_LIBS" org.junit.runner.JUnitCore $TESTS
done
