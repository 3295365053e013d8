#!/usr/bin/env bash
# Fidelity test: Microsoft's own clients (MSAL.NET, Graph .NET SDK) against pmp-graph-emulator.
# Builds the emulator binary, then runs the xunit project with PMP_EMULATOR_BIN pointing at it.
# Extra arguments go to `dotnet test` (e.g. --filter, --logger).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

cd "$root"
cargo build -p pmp-graph-emulator

target_dir="${CARGO_TARGET_DIR:-$root/target}"
export PMP_EMULATOR_BIN="$target_dir/debug/pmp-graph-emulator"
if [[ ! -x "$PMP_EMULATOR_BIN" ]]; then
    echo "run.sh: $PMP_EMULATOR_BIN was not built" >&2
    exit 1
fi

dotnet test "$here/PmpGraphEmulator.Fidelity.Tests/PmpGraphEmulator.Fidelity.Tests.csproj" "$@"
