#!/usr/bin/env bash
# Runs the whole parity suite (tests with Category=Parity) on every CPU kernel path libtorch can take:
# ATEN_CPU_CAPABILITY=default|avx2|avx512 (ATen's kernel-dispatch override; a level the CPU lacks falls back to the
# best one it has, and this script says so) x 1 and 2 intra-op threads (OMP_NUM_THREADS, checked through
# `pipeline info`). Exits non-zero if any configuration fails. Prints the StyleGAN2 projector margins per
# configuration (largest fraction of a tolerance used), since that optimisation amplifies rounding the most.
#   bash build/parity-isa.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 MSBUILDDISABLENODEREUSE=1
[ "${1:-}" = "--no-build" ] || dotnet build Pipeline.sln -c Release -v q -nologo >/dev/null
projects=(Pipeline.Engine.Tests Pipeline.Imaging.Tests Pipeline.Worker.Tests)
cli=gpu-worker/Pipeline.Worker/bin/Release/net10.0/pipeline.dll
grep -q avx512f /proc/cpuinfo || echo "note: this CPU has no AVX-512; avx512 runs use the best level it has"
grep -q avx2 /proc/cpuinfo || echo "note: this CPU has no AVX2; avx2 runs use the scalar kernels"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bad=0
printf '%-8s %-7s %8s %8s  %s\n' capability threads passed failed "projector_wplus worst tolerance use"
for cap in default avx2 avx512; do
  for t in 1 2; do
    export ATEN_CPU_CAPABILITY=$cap OMP_NUM_THREADS=$t PIPELINE_PARITY_REPORT="$work/report-$cap-$t.tsv"
    got=$(dotnet "$cli" info 2>/dev/null | grep -o 'libtorch threads[^0-9]*[0-9]*' | grep -o '[0-9]*$' || true)
    if [ "$got" != "$t" ]; then echo "$cap/$t: libtorch reports '$got' intra-op threads, not $t"; bad=1; fi
    passed=0; failed=0
    for p in "${projects[@]}"; do
      log="$work/$p-$cap-$t.log"
      dotnet test --project "tests/$p" -c Release --no-build -- --filter-trait "Category=Parity" >"$log" 2>&1 || true
      passed=$((passed + $(awk '/^  succeeded:/{print $2}' "$log" | tail -1)))
      f=$(awk '/^  failed:/{print $2}' "$log" | tail -1)
      if [ -z "$f" ]; then echo "$cap/$t: $p did not report a result:"; tail -20 "$log"; bad=1; f=0; fi
      failed=$((failed + f))
      if [ "$f" != 0 ]; then grep -E '^failed ' "$log" | sed "s|^|  $cap/$t: |"; fi
    done
    [ "$failed" = 0 ] || bad=1
    worst=$(awk -F'\t' '$1=="projector_wplus"{if($4>w){w=$4;k=$2}} END{if(k!="")printf "%.3f (%s)", w, k; else print "n/a"}' "$PIPELINE_PARITY_REPORT" 2>/dev/null || echo n/a)
    printf '%-8s %-7s %8d %8d  %s\n' "$cap" "$t" "$passed" "$failed" "$worst"
  done
done
exit $bad
