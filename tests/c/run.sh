#!/usr/bin/env bash
# Compiles a C program against the committed header and the built library, runs it under valgrind.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cargo build -p pmp-mail
target_dir=${CARGO_TARGET_DIR:-$PWD/target}
gcc -std=c11 -Wall -Wextra -Werror -Iinclude tests/c/smoke.c -L"$target_dir/debug" -lpmp_mail \
  -Wl,-rpath,"$target_dir/debug" -o "$out/smoke"
valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1 "$out/smoke"
