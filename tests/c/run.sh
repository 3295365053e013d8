#!/usr/bin/env bash
# Builds the library and the emulator, starts the emulator, and runs the C ABI test and the C
# example against the committed header — natively and under valgrind. Last line:
# "N passed, M failed".
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
lib_dir="$target_dir/debug"

passed=0
failed=0
step() { # step NAME COMMAND...
    local name="$1"
    shift
    echo "== $name"
    if "$@"; then
        passed=$((passed + 1))
        echo "== ok: $name"
    else
        failed=$((failed + 1))
        echo "== FAILED: $name"
    fi
}

cargo build -p pmp-mail -p pmp-graph-emulator

work="$(mktemp -d)"
emulator_pid=""
cleanup() {
    if [[ -n "$emulator_pid" ]]; then
        kill "$emulator_pid" 2>/dev/null || true
        wait "$emulator_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

secret="c-test-secret-$RANDOM$RANDOM"
tenant="11111111-1111-1111-1111-111111111111"
client_id="22222222-2222-2222-2222-222222222222"
mailbox="alerts@contoso.onmicrosoft.com"
cat > "$work/directory.toml" <<TOML
[[tenants]]
id = "$tenant"
domains = ["contoso.onmicrosoft.com"]
cloud = "global"

[[apps]]
tenant = "$tenant"
clientId = "$client_id"
displayName = "C test app"
enabled = true
roles = ["Mail.Send", "Mail.ReadWrite"]
secrets = [{ value = "$secret", expires = "2099-01-01T00:00:00Z" }]

[[mailboxes]]
tenant = "$tenant"
address = "$mailbox"
exists = true
restEnabled = true
TOML

"$lib_dir/pmp-graph-emulator" serve --config "$work/directory.toml" --state-dir "$work/state" \
    > "$work/emulator.out" 2> "$work/emulator.err" &
emulator_pid=$!
for _ in $(seq 1 100); do
    [[ -s "$work/emulator.out" ]] && break
    sleep 0.1
done
line="$(head -n 1 "$work/emulator.out")"
base_url="$(sed -n 's/.*"baseUrl":"\([^"]*\)".*/\1/p' <<< "$line")"
ca_path="$(sed -n 's/.*"caPath":"\([^"]*\)".*/\1/p' <<< "$line")"
if [[ -z "$base_url" || ! -f "$ca_path" ]]; then
    echo "the emulator did not start:" >&2
    cat "$work/emulator.err" >&2
    exit 1
fi
echo "emulator at $base_url"

ca_json="$(awk '{printf "%s\\n", $0}' "$ca_path")"
cat > "$work/config.json" <<JSON
{"tenant":"contoso.onmicrosoft.com","clientId":"$client_id","auth":{"type":"clientSecret","secret":"$secret"},"authorityHost":"$base_url","graphRoot":"$base_url","http":{"extraCaCertificatesPem":"$ca_json","useSystemProxy":false,"timeoutSeconds":60},"retry":{"maxAttempts":3,"maxTotalWaitSeconds":30}}
JSON

cflags=(-Wall -Wextra -Werror -std=c11 -I"$repo/include")
ldflags=(-L"$lib_dir" -lpmp_mail -Wl,-rpath,"$lib_dir")
step "compile tests/c/smoke.c" gcc "${cflags[@]}" tests/c/smoke.c "${ldflags[@]}" -o "$work/smoke"
step "compile tests/c/test_abi.c" gcc "${cflags[@]}" tests/c/test_abi.c "${ldflags[@]}" -o "$work/test_abi"
step "compile examples/c/send_mail.c" gcc "${cflags[@]}" examples/c/send_mail.c "${ldflags[@]}" -o "$work/send_mail"

step "test_abi" "$work/test_abi" "$work/config.json" "$mailbox" "$ca_path"
step "send_mail example" "$work/send_mail" "$work/config.json" "$mailbox" "ops@contoso.com" "C example"

# Runtime worker threads live until exit: their memory is "possibly lost", not "definitely".
valgrind_flags=(--leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --error-exitcode=1 --quiet)
step "smoke under valgrind" valgrind "${valgrind_flags[@]}" "$work/smoke"
step "test_abi under valgrind" valgrind "${valgrind_flags[@]}" "$work/test_abi" "$work/config.json" "$mailbox" "$ca_path"
step "send_mail under valgrind" valgrind "${valgrind_flags[@]}" "$work/send_mail" "$work/config.json" "$mailbox" "ops@contoso.com" "C example (valgrind)"

count_messages() {
    local control="$base_url/_emulator/api/messages"
    local body
    body="$(curl -s --cacert "$ca_path" "$control")"
    # test_abi sends 1, send_mail sends 1, each run twice (native + valgrind).
    [[ "$(grep -o '"via":' <<< "$body" | wc -l)" -eq 4 ]]
}
if command -v curl > /dev/null; then
    step "emulator recorded exactly 4 messages" count_messages
fi
if grep -q -- "$secret" "$work/emulator.out" 2> /dev/null; then
    echo "the secret leaked into output" >&2
    failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[[ "$failed" -eq 0 ]]
