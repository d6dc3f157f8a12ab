#!/usr/bin/env bash
# Coverage-guided fuzzing of every harness in tests/fuzz/fuzz_*.c with clang's libFuzzer,
# AddressSanitizer and UBSan, for SECONDS each (default 30), starting from the saved corpus.
# New interesting inputs go to a scratch corpus, not the repo; a crash leaves its input in
# tests/fuzz/crashes/ and fails the run: fix the bug, then move the input into
# tests/fuzz/corpus/<name>/ so tests/test_fuzz_regressions.py replays it forever.
set -euo pipefail
seconds=${1:-30}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
command -v clang >/dev/null || { echo "run_libfuzzer: clang not installed" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$here/crashes"
status=0
for harness in "$here"/fuzz_*.c; do
    name=$(basename "$harness" .c)
    target=${name#fuzz_}
    clang -std=c11 -g -O1 -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined \
        -fno-sanitize-recover=all -I"$root/csrc" "$harness" "$root"/csrc/*.c -o "$work/$name"
    mkdir -p "$work/corpus-$target"
    echo "fuzzing $target for ${seconds}s"
    if ! "$work/$name" -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix="$here/crashes/$target-" "$work/corpus-$target" \
        "$here/corpus/$target" 2>"$work/$name.log"; then
        tail -n 60 "$work/$name.log" >&2
        status=1
    else
        grep -E "stat::number_of_executed_units|stat::new_units_added" "$work/$name.log" || true
    fi
done
exit $status
