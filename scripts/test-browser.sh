#!/usr/bin/env bash
# The browser tests (Data Docs, `lake report`) drive the system's headless Chromium through its
# chromedriver. Debian/Ubuntu package both; as root with apt-get this installs them, elsewhere
# it says what to install. LAKE_CHROMIUM / LAKE_CHROMEDRIVER point at other binaries.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }
browser_present() { [ -n "${LAKE_CHROMIUM:-}" ] || have chromium || have chromium-browser || have google-chrome; }
driver_present() { [ -n "${LAKE_CHROMEDRIVER:-}" ] || have chromedriver; }

if browser_present && driver_present; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && have apt-get; then
  echo "Installing Chromium and chromedriver for the browser tests (apt-get install chromium chromium-driver) ..."
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null; then
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null
  fi
fi
if browser_present && driver_present; then
  exit 0
fi
echo "error: the browser tests need Chromium and chromedriver: e.g. 'sudo apt-get install chromium chromium-driver'" \
     "(Debian/Ubuntu) or 'brew install --cask chromium chromedriver'; or set LAKE_CHROMIUM and LAKE_CHROMEDRIVER." >&2
exit 1
