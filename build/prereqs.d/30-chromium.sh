#!/usr/bin/env bash
# Headless Chromium for the dashboard test (tests/Pipeline.Functions.Tests/Dashboard): Debian's `chromium`, driven by
# Microsoft.Playwright with ExecutablePath=/usr/bin/chromium. Playwright never downloads browsers here.
set -euo pipefail
. "$(dirname "$0")/apt.bash" # apt_get / apt_get_update: wait for the dpkg and apt lists locks
if command -v chromium >/dev/null 2>&1; then exit 0; fi
export DEBIAN_FRONTEND=noninteractive
if ! apt_get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null 2>&1; then
  apt_get_update -qq >/dev/null
  apt_get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
echo "30-chromium: $(chromium --version 2>/dev/null || echo chromium installed)"
