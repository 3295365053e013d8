#!/usr/bin/env bash
# Runs the examples the way their header comments document, against the emulator's demo tenant
# (contracts §6, `serve --demo`), then checks through the emulator's control API that exactly the
# expected messages arrived:
#   examples/csharp/SendMail          twice: the demo secret, then --certificate (demo-app.pfx)
#   examples/powershell/Send-Report.ps1  once: it sends with the secret and with the certificate
# Ends with "N passed, M failed"; exits non-zero when anything failed.
#
# Usage: bash examples/run.sh            (honours CARGO_TARGET_DIR)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"
target_dir="${CARGO_TARGET_DIR:-$root/target}"

echo "==> examples: cargo build -p pmp-mail -p pmp-graph-emulator"
cargo build -p pmp-mail -p pmp-graph-emulator
emulator="$target_dir/debug/pmp-graph-emulator"
if [[ ! -x "$emulator" ]]; then
    echo "run.sh: $emulator was not built" >&2
    exit 1
fi

echo "==> examples: PowerShell module into dist/PmpMail"
dotnet tool restore >/dev/null
dotnet pwsh -NoProfile -File "$root/powershell/build.ps1"

work="$(mktemp -d "${TMPDIR:-/tmp}/pmp-examples.XXXXXX")"
state="$work/state"
emu_pid=""
emu_in=""

stop_emulator() {
    if [[ -n "$emu_in" ]]; then
        exec {emu_in}>&- # --exit-on-stdin-eof: closing its stdin stops it
        emu_in=""
    fi
    if [[ -n "$emu_pid" ]]; then
        for _ in $(seq 50); do
            kill -0 "$emu_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill "$emu_pid" 2>/dev/null || true
        wait "$emu_pid" 2>/dev/null || true
        emu_pid=""
    fi
}

cleanup() {
    stop_emulator
    rm -rf "$work"
}
trap cleanup EXIT

# The emulator's stdin is a FIFO this script holds open; its stdout goes to a file whose first
# line is the startup JSON.
mkfifo "$work/emulator.stdin"
"$emulator" serve --demo --strict --state-dir "$state" --exit-on-stdin-eof \
    <"$work/emulator.stdin" >"$work/emulator.out" 2>"$work/emulator.err" &
emu_pid=$!
exec {emu_in}>"$work/emulator.stdin"

for _ in $(seq 600); do
    [[ -s "$work/emulator.out" ]] && break
    if ! kill -0 "$emu_pid" 2>/dev/null; then
        echo "run.sh: the emulator exited before its startup line:" >&2
        cat "$work/emulator.err" >&2
        exit 1
    fi
    sleep 0.1
done
startup="$(head -n 1 "$work/emulator.out")"
field() {
    python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$startup" "$1"
}
base_url="$(field baseUrl)"
ca_path="$(field caPath)"
state_dir="$(field stateDir)"
echo "==> examples: emulator at $base_url (state $state_dir)"

passed=0
failed=0
failures=()
check() {
    # check NAME COMMAND...: runs COMMAND (without the emulator's stdin FIFO) and counts the result.
    local name="$1"
    shift
    echo "--> $name"
    if "$@" {emu_in}>&-; then
        echo "ok   $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name"
        failed=$((failed + 1))
        failures+=("$name")
    fi
}

# As documented at the top of examples/csharp/SendMail/Program.cs.
check "csharp SendMail (demo secret)" \
    dotnet run --project examples/csharp/SendMail -- --emulator "$base_url" --state-dir "$state_dir"
check "csharp SendMail (demo certificate)" \
    dotnet run --project examples/csharp/SendMail -- --emulator "$base_url" --state-dir "$state_dir" --certificate

# As documented in examples/powershell/Send-Report.ps1.
check "powershell Send-Report.ps1 (secret, then certificate)" \
    dotnet pwsh -NoProfile -File examples/powershell/Send-Report.ps1 -EmulatorUrl "$base_url" -EmulatorStateDir "$state_dir"

control() {
    curl --silent --show-error --fail --cacert "$ca_path" "$base_url/_emulator/api/$1"
}

# What arrived, read over TLS that trusts only the emulator's CA.
verify_messages() {
    local messages
    messages="$(control messages)" || return 1
    python3 - "$messages" <<'PY'
import json, sys
messages = json.loads(sys.argv[1])
ok = True
def expect(cond, what):
    global ok
    if not cond:
        ok = False
        print(f"   expected {what}", file=sys.stderr)
subjects = sorted(m["subject"] for m in messages)
print("   subjects: " + json.dumps(subjects, ensure_ascii=False))
expect(len(messages) == 4, f"4 messages, got {len(messages)}")
csharp = [m for m in messages if m["subject"].startswith("pmp-mail C# example \u2713 ")]
expect(len(csharp) == 2, f"2 'pmp-mail C# example \u2713 <time>' messages, got {len(csharp)}")
for m in csharp:
    expect([a["name"] for a in m["attachments"]] == ["hello.txt"], f"hello.txt attached to {m['subject']!r}")
    expect({"name": "x-pmp-example", "value": "csharp"} in [{"name": h["name"].lower(), "value": h["value"]} for h in m["headers"]],
           f"header x-pmp-example: csharp on {m['subject']!r}")
    expect(m["importance"] == "high", f"importance high on {m['subject']!r}")
for subject in ("System report (secret) \u2713", "System report (certificate) \u2713"):
    ps = [m for m in messages if m["subject"] == subject]
    expect(len(ps) == 1, f"exactly one {subject!r}, got {len(ps)}")
    for m in ps:
        names = [a["name"] for a in m["attachments"]]
        expect(len(names) == 1 and names[0].startswith("Prozess-Bericht-") and names[0].endswith(".csv"),
               f"one Prozess-Bericht-*.csv attached to {subject!r}, got {names}")
        expect(m["bodyContentType"] == "html", f"an HTML body on {subject!r}")
for m in messages:
    expect(m["mailbox"] == "alerts@contoso.onmicrosoft.com", f"mailbox alerts@contoso.onmicrosoft.com, got {m['mailbox']!r}")
    expect(m["appId"] == "22222222-2222-2222-2222-222222222222", f"the demo app, got {m['appId']!r}")
    expect([r["address"] for r in m["to"]] == ["ops@contoso.com"], f"To ops@contoso.com on {m['subject']!r}")
sys.exit(0 if ok else 1)
PY
}

verify_counters() {
    local counters
    counters="$(control counters)" || return 1
    python3 - "$counters" <<'PY'
import json, sys
c = json.loads(sys.argv[1])
print("   counters: " + json.dumps(c))
sys.exit(0 if c["messagesAccepted"] == 4 else 1)
PY
}

check "emulator received exactly the 4 expected messages" verify_messages
check "emulator counters: messagesAccepted = 4" verify_counters

stop_emulator
echo
if ((failed > 0)); then
    printf 'failed: %s\n' "${failures[@]}"
    echo "--- emulator stderr (tail) ---"
    tail -n 40 "$work/emulator.err" || true
fi
echo "$passed passed, $failed failed"
((failed == 0))
