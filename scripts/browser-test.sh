#!/usr/bin/env bash
# The heavy browser suite (not part of scripts/test.sh): installs Chromium,
# its WebDriver and Selenium from Debian, builds nexus and the guests, then
# drives the dashboard in headless Chromium (scripts/browser-test.py).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
missing=""
command -v chromium >/dev/null || missing="$missing chromium"
command -v chromedriver >/dev/null || missing="$missing chromium-driver"
/usr/bin/python3 -c "import selenium" 2>/dev/null || missing="$missing python3-selenium"
# shellcheck disable=SC2086 # one word per package
scripts/apt-install.sh $missing
cargo build --quiet -p nexus-node --bin nexus
# Debian's python3 (where python3-selenium lives), whatever python3 is first on PATH.
/usr/bin/python3 scripts/browser-test.py
