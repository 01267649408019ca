#!/usr/bin/env bash
# fuzz/run.sh -- build the fuzz targets (libFuzzer, stable toolchain) and run each of them.
#
#   bash fuzz/run.sh --ci                 # every target briefly (FUZZ_SECONDS each, default 15),
#                                         # from the checked-in seeds in fuzz/seeds/TARGET
#   bash fuzz/run.sh TARGET SECONDS       # one target for SECONDS, corpus kept in fuzz/corpus/TARGET
#
# Built with plain cargo and the coverage instrumentation flags cargo-fuzz uses (no sanitizer,
# so no nightly toolchain: the targets are safe Rust and zstd). Ends with "N passed, M failed"
# (one per target: failed = a crash, a panic or a failed assertion; its input is saved in
# fuzz/artifacts/TARGET/).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TARGETS=(page_decode dbi_verify http_response config_uri)
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
export CARGO_TARGET_DIR="$here/target"
# An explicit --target keeps RUSTFLAGS (the instrumentation) off the build scripts.
triple="$(rustc -vV | sed -n 's/^host: //p')"
nice -n 5 cargo build --release --quiet --manifest-path "$here/Cargo.toml" --bins --target "$triple"
bin="$CARGO_TARGET_DIR/$triple/release"

run_one() { # TARGET SECONDS CORPUS...
    local t="$1" secs="$2"; shift 2
    mkdir -p "$here/artifacts/$t"
    local log
    log="$(mktemp "$here/target/$t.XXXXXX.log")"
    if "$bin/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$here/artifacts/$t/" -print_final_stats=1 "$@" >"$log" 2>&1; then
        echo "$t: ok, $(grep -a -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$') executions in ${secs} s"
        return 0
    fi
    echo "$t: FAILED (see $log and $here/artifacts/$t/)"
    tail -n 30 "$log"
    return 1
}

if [ "${1:-}" = "--ci" ]; then
    passed=0 failed=0
    for t in "${TARGETS[@]}"; do
        # a scratch corpus seeded from the checked-in seeds (the seeds are left unchanged)
        scratch="$(mktemp -d)"
        if run_one "$t" "${FUZZ_SECONDS:-15}" "$scratch" "$here/seeds/$t"; then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
        fi
        rm -rf "$scratch"
    done
    echo "$passed passed, $failed failed"
    [ "$failed" = 0 ]
else
    t="${1:?usage: fuzz/run.sh --ci | TARGET SECONDS}"
    mkdir -p "$here/corpus/$t"
    run_one "$t" "${2:-60}" "$here/corpus/$t" "$here/seeds/$t"
fi
