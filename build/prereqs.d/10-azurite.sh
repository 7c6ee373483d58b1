#!/usr/bin/env bash
# Azurite (Blob/Queue/Table emulator) from npm into .tools/azurite (gitignored). The infra tests start it themselves
# on 127.0.0.1 with a free port, in memory, and stop it. Idempotent: skips when the pinned version is present.
set -euo pipefail
. "$(dirname "$0")/apt.bash" # apt_get / apt_get_update: wait for the dpkg and apt lists locks
VERSION=3.37.0
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DIR="$ROOT/.tools/azurite"
if [ -f "$DIR/node_modules/azurite/package.json" ] && grep -q "\"version\": \"$VERSION\"" "$DIR/node_modules/azurite/package.json"; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "10-azurite: npm missing, installing nodejs+npm"
  apt_get_update -qq && DEBIAN_FRONTEND=noninteractive apt_get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
mkdir -p "$DIR"
cd "$DIR"
[ -f package.json ] || npm init -y >/dev/null
npm install --no-audit --no-fund --loglevel=error "azurite@$VERSION" >/dev/null
echo "10-azurite: azurite $VERSION installed in $DIR"
