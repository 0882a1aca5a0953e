#!/usr/bin/env bash
# Prepares what tests/web needs, then returns: Debian's Chromium (the browser the tests drive),
# node/npm, and web_demo's npm packages exactly as package-lock.json pins them (npm ci also
# copies LiteRT.js into vendor/). Each step runs only when needed, so a warm machine takes a second.
#   bash web_demo/ci_test.sh            # then: .venv/bin/python -m pytest tests/web
set -euo pipefail
cd "$(dirname "$0")"

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "web_demo: apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

stamp=node_modules/.edgeseg-package-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "web_demo: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
[ -f vendor/litertjs/core/index.js ] || node vendor.mjs

echo "web_demo ready: $(/usr/bin/chromium --version 2>/dev/null), node $(node --version), @litertjs/core $(cat vendor/litertjs/VERSION)"
