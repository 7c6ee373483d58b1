#!/usr/bin/env bash
# The one test command (README Quick start; .ci/run calls it). Installs what integration tests need
# (build/prereqs.d/*.sh: Debian packages, Azurite from npm, ...), builds, and runs every test project.
# Services (Azurite, the Service Bus test broker and the chaos test's worker processes, Chromium) are started on
# 127.0.0.1 by the test fixtures themselves and stopped when the tests end. With CI=true (.ci/run) a missing
# prerequisite fails its tests instead of skipping them, and any skipped test fails the run.
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
# The failures again at the end, where a log's tail (what CI keeps) shows them: each "failed <test>" line and up to
# 12 lines of its message, which `dotnet test` prints in the middle of the run among other tests' output.
if grep -q '^failed ' "$log"; then
  echo "== failed tests"
  awk '/^failed /{n=13} n>0{print; n--}' "$log"
fi
# Summed over the test projects.
read -r passed failed skipped < <(awk '/^  failed:/{f+=$2} /^  succeeded:/{p+=$2} /^  skipped:/{s+=$2} END{printf "%d %d %d\n", p, f, s}' "$log")
# CI must not go green by skipping. Tests already fail instead of skipping under CI=true when a prerequisite is
# missing (tests/Shared/Requirement.cs); this catches any skip that does not go through it.
ci=$(printf '%s' "${CI:-}" | tr -d '[:space:]' | tr '[:upper:]' '[:lower:]')
if [ "$ci" = "true" ] && [ "$skipped" -gt 0 ]; then
  echo "CI=true: $skipped test(s) skipped, which CI counts as a failure:"
  grep -A1 '^skipped ' "$log" | grep -v '^--$' || true
  [ "$rc" -ne 0 ] || rc=1
fi
rm -f "$log"
# One plain closing line.
echo "$passed passed, $failed failed, $skipped skipped"
exit "$rc"
