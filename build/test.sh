#!/usr/bin/env bash
# The one test command (README Quick start; .ci/run calls it). Installs what integration tests need
# (build/prereqs.d/*.sh: Debian packages, Azurite from npm, ...), builds, and runs every test project.
# Services (Azurite, the Service Bus test broker and the chaos test's worker processes, Chromium) are started on
# 127.0.0.1 by the test fixtures themselves and stopped when the tests end.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 MSBUILDDISABLENODEREUSE=1

for f in build/prereqs.d/*.sh; do
  [ -e "$f" ] || continue
  echo "== prerequisites: $f"
  bash "$f"
done

dotnet build Pipeline.sln -c Release -v q -nologo
log=$(mktemp)
rm -f tests/*/bin/Release/net10.0/*-summary.txt
set +e
dotnet test --solution Pipeline.sln -c Release --no-build "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
# Summaries that tests leave for the log (the Service Bus chaos test's counts); `dotnet test` hides passing tests' output.
for f in tests/*/bin/Release/net10.0/*-summary.txt; do
  if [ -e "$f" ]; then cat "$f"; fi
done
# One plain closing line, summed over the test projects.
awk '/^  failed:/{f+=$2} /^  succeeded:/{p+=$2} /^  skipped:/{s+=$2} END{printf "%d passed, %d failed, %d skipped\n", p, f, s}' "$log"
rm -f "$log"
exit "$rc"
