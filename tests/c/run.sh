#!/usr/bin/env bash
# Builds the library and the emulator, starts the emulator, and runs the C ABI test, the smoke test
# and the C example against the committed header — natively and under valgrind. Every C program's
# stdout and stderr is shown and also kept; the run fails if any of it holds the client secret or
# an access token ("eyJ"). Needs gcc, valgrind and curl. Last line: "N passed, M failed".
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
lib_dir="$target_dir/debug"

# How many checks test_abi runs ("checks run: N"): a block removed or skipped is a failure.
test_abi_checks=46

for tool in gcc valgrind curl; do
    if ! command -v "$tool" > /dev/null; then
        echo "run.sh: '$tool' is required but not installed (Debian/Ubuntu: apt-get install $tool)." >&2
        [[ "$tool" == curl ]] && echo "run.sh: curl reads the emulator's control API to count the messages it received." >&2
        exit 1
    fi
done

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

"$lib_dir/pmp-graph-emulator" serve --strict --config "$work/directory.toml" --state-dir "$work/state" \
    > "$work/emulator.out" 2> "$work/emulator.err" &
emulator_pid=$!
base_url=""
ca_path=""
started() { # the startup line is complete: it names the base URL and a CA file that exists
    local line
    line="$(head -n 1 "$work/emulator.out")"
    base_url="$(sed -n 's/.*"baseUrl":"\([^"]*\)".*/\1/p' <<< "$line")"
    ca_path="$(sed -n 's/.*"caPath":"\([^"]*\)".*/\1/p' <<< "$line")"
    [[ -n "$base_url" && -f "$ca_path" ]]
}
# 60 s, like examples/run.sh: a debug build generates RSA keys at start on a loaded machine.
deadline=$((SECONDS + 60))
until started; do
    if ! kill -0 "$emulator_pid" 2>/dev/null; then
        status=0
        wait "$emulator_pid" || status=$?
        emulator_pid=""
        echo "run.sh: the emulator exited (status $status) before its startup line; its stderr:" >&2
        cat "$work/emulator.err" >&2
        exit 1
    fi
    if ((SECONDS >= deadline)); then
        echo "run.sh: the emulator printed no startup line within 60 s; its stdout and stderr:" >&2
        cat "$work/emulator.out" "$work/emulator.err" >&2
        exit 1
    fi
    sleep 0.1
done
if [[ "$base_url" != https://* ]]; then
    echo "run.sh: the emulator's base URL is not HTTPS: $base_url" >&2
    exit 1
fi
echo "emulator at $base_url"

ca_json="$(awk '{printf "%s\\n", $0}' "$ca_path")"
cat > "$work/config.json" <<JSON
{"tenant":"contoso.onmicrosoft.com","clientId":"$client_id","auth":{"type":"clientSecret","secret":"$secret"},"authorityHost":"$base_url","graphRoot":"$base_url","http":{"extraCaCertificatesPem":"$ca_json","useSystemProxy":false,"timeoutSeconds":60},"retry":{"maxAttempts":3,"maxTotalWaitSeconds":30}}
JSON
# The same app with a wrong secret that embeds the right one, so the leak check finds either.
sed "s/\"secret\":\"$secret\"/\"secret\":\"$secret-wrong\"/" "$work/config.json" > "$work/wrong-secret.json"
if ! grep -q -- "\"secret\":\"$secret-wrong\"" "$work/wrong-secret.json"; then
    echo "run.sh: could not write the wrong-secret config" >&2
    exit 1
fi

cflags=(-Wall -Wextra -Wpedantic -Werror -std=c11 -I"$repo/include")
ldflags=(-L"$lib_dir" -lpmp_mail -Wl,-rpath,"$lib_dir")
step "compile tests/c/smoke.c" gcc "${cflags[@]}" tests/c/smoke.c "${ldflags[@]}" -o "$work/smoke"
step "compile tests/c/test_abi.c" gcc "${cflags[@]}" tests/c/test_abi.c "${ldflags[@]}" -o "$work/test_abi"
step "compile examples/c/send_mail.c" gcc "${cflags[@]}" examples/c/send_mail.c "${ldflags[@]}" -o "$work/send_mail"

# Every run of a C program keeps its stdout and stderr in $outputs/LABEL.out and LABEL.err.
outputs="$work/output"
mkdir "$outputs"
labels=(smoke test_abi send_mail send_mail.wrong-secret smoke.valgrind test_abi.valgrind send_mail.valgrind)

run_captured() { # run_captured LABEL COMMAND...: COMMAND's status; its output on the console and in files
    local label="$1"
    shift
    { "$@" 2>&1 1>&3 3>&- | tee "$outputs/$label.err" >&2; } 3>&1 | tee "$outputs/$label.out"
}

run_test_abi() { # run_test_abi LABEL [VALGRIND...]: all checks pass, there are $test_abi_checks of them,
    #              and the wrong-secret error document was printed (the leak check reads real errors)
    local label="$1"
    shift
    local status=0 ran
    run_captured "$label" "$@" "$work/test_abi" "$work/config.json" "$mailbox" "$ca_path" || status=$?
    ran="$(sed -n 's/^checks run: \([0-9]*\)$/\1/p' "$outputs/$label.out")"
    if [[ "$ran" != "$test_abi_checks" ]]; then
        echo "test_abi ran ${ran:-an unknown number of} checks, expected $test_abi_checks (a block removed or skipped?)" >&2
        status=1
    fi
    if ! grep -q '^ *last error: {.*AADSTS7000215' "$outputs/$label.out"; then
        echo "test_abi did not print the wrong-secret error document (AADSTS7000215)" >&2
        status=1
    fi
    return "$status"
}

send_mail_with_wrong_secret() { # the example fails and shows Entra's AADSTS7000215
    if run_captured send_mail.wrong-secret "$work/send_mail" "$work/wrong-secret.json" "$mailbox" \
        "ops@contoso.com" "C example (wrong secret)"; then
        echo "send_mail succeeded with a wrong secret" >&2
        return 1
    fi
    if ! grep -q AADSTS7000215 "$outputs/send_mail.wrong-secret.out" "$outputs/send_mail.wrong-secret.err"; then
        echo "send_mail did not show Entra's error AADSTS7000215" >&2
        return 1
    fi
}

step "smoke" run_captured smoke "$work/smoke"
step "test_abi" run_test_abi test_abi
step "send_mail example" run_captured send_mail "$work/send_mail" "$work/config.json" "$mailbox" "ops@contoso.com" "C example"
step "send_mail example with a wrong secret fails" send_mail_with_wrong_secret

# Runtime worker threads live until exit: their memory is "possibly lost", not "definitely".
valgrind_flags=(--leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --error-exitcode=1 --quiet)
step "smoke under valgrind" run_captured smoke.valgrind valgrind "${valgrind_flags[@]}" "$work/smoke"
step "test_abi under valgrind" run_test_abi test_abi.valgrind valgrind "${valgrind_flags[@]}"
step "send_mail under valgrind" run_captured send_mail.valgrind valgrind "${valgrind_flags[@]}" \
    "$work/send_mail" "$work/config.json" "$mailbox" "ops@contoso.com" "C example (valgrind)"

control() { # control PATH: GET the emulator's control API over HTTPS trusting only the emulator's CA
    curl --silent --show-error --fail --proto '=https' --noproxy '*' --cacert "$ca_path" \
        "$base_url/_emulator/api/$1"
}
count_messages() {
    local messages counters count
    messages="$(control messages)" || return 1
    counters="$(control counters)" || return 1
    count="$(grep -o '"via":"' <<< "$messages" | wc -l)"
    echo "messages recorded: $count; counters: $counters"
    # test_abi sends 1, send_mail sends 1, each run twice (native + valgrind); nothing else sends.
    [[ "$count" -eq 4 ]] && grep -q '"messagesAccepted":4[,}]' <<< "$counters"
}
step "emulator recorded exactly 4 messages" count_messages

no_secret_in_output() { # no captured output holds the secret or a token; none is missing or empty
    local label file status=0
    for label in "${labels[@]}"; do
        if [[ ! -s "$outputs/$label.out" || ! -f "$outputs/$label.err" ]]; then
            echo "no output captured from $label" >&2
            status=1
        fi
        for file in "$outputs/$label.out" "$outputs/$label.err"; do
            [[ -f "$file" ]] || continue
            if grep -q -F -e "$secret" -e "eyJ" "$file"; then
                echo "$label leaked the client secret or an access token (${file##*.}):" >&2
                grep -n -F -e "$secret" -e "eyJ" "$file" | sed "s/$secret/<SECRET>/g" | cut -c1-300 >&2
                status=1
            fi
        done
    done
    return "$status"
}
step "no secret or access token in the C programs' output" no_secret_in_output

if [[ "$failed" -ne 0 ]]; then
    echo "--- emulator stderr (tail) ---"
    tail -n 40 "$work/emulator.err" || true
fi
echo "$passed passed, $failed failed"
[[ "$failed" -eq 0 ]]
