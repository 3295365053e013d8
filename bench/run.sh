#!/usr/bin/env bash
# Benchmarks that print numbers (nothing asserts a timing):
#   1. bench/PmpMail.Bench: pmp-mail (PmpMail.Interop -> native library) vs the Microsoft Graph .NET
#      SDK + MSAL.NET, both against pmp-graph-emulator, each side in its own child process.
#   2. powershell/bench/Measure-PmpMail.ps1 (the PowerShell module benchmark), when it exists.
#
# Usage: bash bench/run.sh [bench options...]
#   PMP_BENCH_PROFILE=debug|release   cargo profile of the native library and emulator (default debug:
#                                     no extra compile in CI; release numbers are closer to production)
#   PMP_BENCH_STRICT=1                exit non-zero when a correctness warning was printed
#   bench options (passed to PmpMail.Bench): --seq 200 --workers 4 --per-worker 100 --large-mb 5
#                                            --large-reps 2 --sides pmp,graph
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

profile="${PMP_BENCH_PROFILE:-debug}"
case "$profile" in
    debug) cargo_flags=() ;;
    release) cargo_flags=(--release) ;;
    *) echo "run.sh: PMP_BENCH_PROFILE must be debug or release (got '$profile')" >&2; exit 2 ;;
esac
target_dir="${CARGO_TARGET_DIR:-$root/target}"

echo "==> bench: cargo build profile '$profile' (set PMP_BENCH_PROFILE=release for optimized native code)"
cargo build "${cargo_flags[@]}" -p pmp-mail -p pmp-graph-emulator

native="$target_dir/$profile/libpmp_mail.so"
emulator="$target_dir/$profile/pmp-graph-emulator"
for f in "$native" "$emulator"; do
    if [[ ! -f "$f" ]]; then
        echo "run.sh: $f was not built" >&2
        exit 1
    fi
done
export PMP_EMULATOR_BIN="$emulator"
export PMP_MAIL_NATIVE_PATH="$native"

echo "==> bench: building bench/PmpMail.Bench (Release)"
dotnet build "$here/PmpMail.Bench/PmpMail.Bench.csproj" -c Release -nologo -v quiet

echo "==> bench: pmp-mail vs Microsoft Graph SDK + MSAL.NET"
dotnet "$here/PmpMail.Bench/bin/Release/net10.0/PmpMail.Bench.dll" \
    --emulator "$emulator" --native "$native" --profile "$profile" "$@"

module_bench="$root/powershell/bench/Measure-PmpMail.ps1"
if [[ -f "$module_bench" ]]; then
    echo "==> bench: building the PowerShell module into powershell/dist (native profile '$profile')"
    dotnet tool restore >/dev/null
    dotnet pwsh -NoProfile -File "$root/powershell/build.ps1" -NativeProfile "$profile"
    echo "==> bench: $module_bench"
    dotnet pwsh -NoProfile -File "$module_bench"
else
    echo "==> bench: $module_bench not found; skipping the PowerShell module benchmark"
fi
