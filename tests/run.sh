#!/usr/bin/env bash
# tests/run.sh -- THE test command of this repository:  bash tests/run.sh
#
#   1. tests/setup.sh            apt packages + Python venvs (idempotent, quick when done)
#   2. cargo build --release     the workspace: lib (libgenomicsqlite.so + rlib), the web
#                                reader, and the `genomicsqlite` bin (crate cli/)
#   3. cargo test --release      Rust unit, integration and doc tests of every crate, then
#                                cargo fmt --check, clippy and rustdoc with warnings as errors
#   4. the suites listed under "SUITES" below (pytest suites, shell-driven suites)
#
# Ends with one line "N passed, M failed" (summed over all suites); exit status 0 only when
# nothing failed. A pytest suite that collects no test (exit 5) counts as a failure.
#
# Environment (exported to every suite; defaults shown):
#   LIBGENOMICSQLITE       <repo>/target/release/libgenomicsqlite.so   (ours)
#   PEER_LIBGENOMICSQLITE  .venv/peer/.../genomicsqlite/libgenomicsqlite.so (GenomicSQLite 0.9.4)
#   GENOMICSQLITE_BIN      <repo>/target/release/genomicsqlite
# Knobs for developers (not used by CI):
#   GSQ_SKIP_SETUP=1  skip tests/setup.sh       GSQ_SKIP_CARGO=1  skip cargo build and test
#   GSQ_SUITE_TIMEOUT seconds per suite (default 2400)
#   GSQ_CRASH_KILLS   kills in the crash-safety test (default 50)
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
export CARGO_TERM_COLOR=never
SUITE_TIMEOUT="${GSQ_SUITE_TIMEOUT:-2400}"
LOGDIR="$(mktemp -d "${TMPDIR:-/tmp}/gsq-tests.XXXXXX")"
START=$SECONDS

TOTAL_PASS=0
TOTAL_FAIL=0
TOTAL_SKIP=0
SUMMARY=()

section() {
    printf '\n========================================================================\n'
    printf '== %s\n' "$*"
    printf '========================================================================\n'
}

# record NAME PASSED FAILED SKIPPED NOTE
record() {
    TOTAL_PASS=$((TOTAL_PASS + $2))
    TOTAL_FAIL=$((TOTAL_FAIL + $3))
    TOTAL_SKIP=$((TOTAL_SKIP + $4))
    local status="ok"
    [ "$3" -gt 0 ] && status="FAILED"
    SUMMARY+=("$(printf '%-7s %-40s %5d passed %4d failed %4d skipped  %s' "$status" "$1" "$2" "$3" "$4" "$5")")
}

# run_pytest NAME VENV_DIR PYTEST_ARGS...
#   Runs VENV_DIR/bin/python -m pytest with PYTEST_ARGS; counts from its JUnit XML.
run_pytest() {
    local name="$1" venv="$2"; shift 2
    section "$name  (pytest, $venv)"
    local xml="$LOGDIR/junit-$(echo "$name" | tr -c 'A-Za-z0-9' '_').xml" t0=$SECONDS rc
    if [ ! -x "$venv/bin/python" ]; then
        echo "no python in $venv"
        record "$name" 0 1 0 "venv missing"
        return
    fi
    timeout --kill-after=30 "$SUITE_TIMEOUT" "$venv/bin/python" -m pytest -q -rfEs -p no:cacheprovider \
        --junitxml="$xml" "$@" </dev/null
    rc=$?
    local counts
    counts="$(/usr/bin/python3 - "$xml" <<'EOF'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print("0 0 0"); sys.exit()
suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
t = f = e = s = 0
for su in suites:
    t += int(su.get("tests", 0)); f += int(su.get("failures", 0))
    e += int(su.get("errors", 0)); s += int(su.get("skipped", 0))
print(t - f - e - s, f + e, s)
EOF
)"
    local p fl sk note="exit $rc, $((SECONDS - t0))s"
    read -r p fl sk <<<"$counts"
    case $rc in
        0) ;;
        5) note="NO TESTS COLLECTED (exit 5)"; fl=$((fl + 1)) ;;
        124|137) note="TIMED OUT after ${SUITE_TIMEOUT}s"; fl=$((fl + 1)) ;;
        *) [ "$fl" -eq 0 ] && fl=1 ;;   # e.g. collection or usage error, crash of pytest
    esac
    record "$name" "$p" "$fl" "$sk" "$note"
}

# run_suite NAME COMMAND...
#   Any other test program. If its output has a line "N passed, M failed" (optionally
#   ", K skipped"), those counts are used; otherwise it counts as 1 passed or 1 failed by
#   its exit status. A non-zero exit status always counts as at least one failure.
run_suite() {
    local name="$1"; shift
    section "$name  ($*)"
    local log="$LOGDIR/suite-$(echo "$name" | tr -c 'A-Za-z0-9' '_').log" t0=$SECONDS rc
    timeout --kill-after=30 "$SUITE_TIMEOUT" "$@" </dev/null 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    local line p=0 fl=0 sk=0
    line="$(grep -E '^([A-Za-z_-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 || true)"
    if [ -n "$line" ]; then
        p="$(sed -E 's/^([A-Za-z_-]+: )?([0-9]+) passed.*/\2/' <<<"$line")"
        fl="$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")"
        sk="$(sed -nE 's/.* ([0-9]+) skipped.*/\1/p' <<<"$line")"; sk="${sk:-0}"
    elif [ "$rc" -eq 0 ]; then
        p=1
    fi
    if [ "$rc" -ne 0 ] && [ "$fl" -eq 0 ]; then fl=1; fi
    local note="exit $rc, $((SECONDS - t0))s"
    [ "$rc" -eq 124 ] && note="TIMED OUT after ${SUITE_TIMEOUT}s"
    record "$name" "$p" "$fl" "$sk" "$note"
}

# ---------------------------------------------------------------------------------------------
section "setup (tests/setup.sh)"
if [ "${GSQ_SKIP_SETUP:-0}" != 1 ]; then
    if ! bash tests/setup.sh </dev/null; then
        echo "tests/setup.sh failed; cannot run the tests"
        echo "0 passed, 1 failed"
        exit 1
    fi
    echo "setup ok ($((SECONDS - START))s)"
fi

export LIBGENOMICSQLITE="${LIBGENOMICSQLITE:-$REPO/target/release/libgenomicsqlite.so}"
export GENOMICSQLITE_BIN="${GENOMICSQLITE_BIN:-$REPO/target/release/genomicsqlite}"
if [ -z "${PEER_LIBGENOMICSQLITE:-}" ]; then
    PEER_LIBGENOMICSQLITE="$(ls "$REPO"/.venv/peer/lib/python3*/site-packages/genomicsqlite/libgenomicsqlite.so 2>/dev/null | head -n 1)"
fi
export PEER_LIBGENOMICSQLITE
echo "LIBGENOMICSQLITE=$LIBGENOMICSQLITE"
echo "PEER_LIBGENOMICSQLITE=$PEER_LIBGENOMICSQLITE"
echo "GENOMICSQLITE_BIN=$GENOMICSQLITE_BIN"

# ---------------------------------------------------------------------------------------------
if [ "${GSQ_SKIP_CARGO:-0}" != 1 ]; then
    section "cargo build --release (workspace: lib + web + bin)"
    t0=$SECONDS
    if nice cargo build --release </dev/null; then
        record "cargo build --release" 1 0 0 "$((SECONDS - t0))s"
    else
        record "cargo build --release" 0 1 0 "BUILD FAILED"
    fi

    section "cargo test --release --no-fail-fast"
    t0=$SECONDS
    nice timeout --kill-after=30 "$SUITE_TIMEOUT" cargo test --release --no-fail-fast </dev/null 2>&1 | tee "$LOGDIR/cargo-test.log"
    rc=${PIPESTATUS[0]}
    read -r p fl sk <<<"$(awk '/^test result: /{
            for (i = 1; i <= NF; i++) {
                if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i
            }} END { print p+0, f+0, s+0 }' "$LOGDIR/cargo-test.log")"
    if [ "$rc" -ne 0 ] && [ "$fl" -eq 0 ]; then fl=1; fi
    record "cargo test --release" "$p" "$fl" "$sk" "exit $rc, $((SECONDS - t0))s"

    # The house rules as checks: formatting, clippy's lints as errors, and docs without broken
    # links (each counts as one test).
    section "lint: cargo fmt --check, clippy -D warnings, rustdoc -D warnings"
    t0=$SECONDS
    lint_pass=0
    lint_fail=0
    lint() {
        if "$@" </dev/null >"$LOGDIR/lint.log" 2>&1; then
            echo "ok   $*"
            lint_pass=$((lint_pass + 1))
        else
            echo "FAIL $*"
            tail -n 40 "$LOGDIR/lint.log"
            lint_fail=$((lint_fail + 1))
        fi
    }
    lint cargo fmt --all --check
    lint nice cargo clippy --release --all-targets --workspace -- -D warnings
    lint env RUSTDOCFLAGS="-D warnings" nice cargo doc --release --no-deps --workspace
    record "lint (fmt, clippy, rustdoc)" "$lint_pass" "$lint_fail" 0 "$((SECONDS - t0))s"
fi

# ---------------------------------------------------------------------------------------------
# Python binding: build one wheel (setuptools-rust, reusing cargo's target/ directory), check
# its manylinux tag with auditwheel, and install it into the debian/default/s3 venvs, after the
# build and before the suites that use it.
# >>> python binding install (begin) >>>
section "build the Python wheel and install it into the test venvs"
WHEELS="$LOGDIR/wheels"
t0=$SECONDS
if nice .venv/debian/bin/python -m pip wheel --quiet --disable-pip-version-check --no-deps \
        -w "$WHEELS" ./bindings/python </dev/null; then
    wheel="$(ls "$WHEELS"/genomicsqlite-*.whl)"
    echo "built $(basename "$wheel") ($((SECONDS - t0))s)"
    if .venv/debian/bin/python -m auditwheel show "$wheel" </dev/null | tee "$LOGDIR/auditwheel.txt" \
            && grep -q "consistent" "$LOGDIR/auditwheel.txt" \
            && case "$wheel" in *manylinux_*) true ;; *) false ;; esac; then
        record "wheel: manylinux tag confirmed by auditwheel" 1 0 0 "$(basename "$wheel")"
    else
        record "wheel: manylinux tag confirmed by auditwheel" 0 1 0 "$(basename "$wheel")"
    fi
    for venv in .venv/debian .venv/default .venv/s3; do
        if "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
                --force-reinstall --no-deps "$wheel" </dev/null; then
            echo "installed into $venv"
        else
            record "pip install the wheel into $venv" 0 1 0 "INSTALL FAILED"
        fi
    done
else
    record "pip wheel bindings/python" 0 1 0 "WHEEL BUILD FAILED"
fi
# <<< python binding install (end) <<<

# ---------------------------------------------------------------------------------------------
# SUITES: one line per suite; append new ones here. Forms:
#   run_pytest "NAME" VENV_DIR PYTEST_ARGS...     (counts from pytest's JUnit XML)
#   run_suite  "NAME" COMMAND ARGS...             (counts from a "N passed, M failed" line,
#                                                  else from the exit status)
# e.g.
#   run_suite  "C/C++ header" bash tests/c/run.sh
#   run_pytest "python binding (default)" .venv/default bindings/python/tests
#   run_pytest "python binding (debian)"  .venv/debian  bindings/python/tests
run_pytest "core: compressed database (ours)" .venv/debian tests/py
run_pytest "python binding (default python3, no enable_load_extension)" .venv/default bindings/python/tests
run_pytest "python binding (Debian python3)" .venv/debian bindings/python/tests
run_suite  "C/C++ header, programs, valgrind, install" bash tests/c/run.sh
run_suite  "genomicsqlite command" bash tests/shell/run.sh
run_suite  "mutation campaign (short)" .venv/debian/bin/python tests/mutation_campaign.py --cases 60 --seed 16
run_suite  "fuzz targets (15 s each)" bash fuzz/run.sh --ci
run_suite  "JDBC driver (Debian sqlite-jdbc)" bash bindings/jdbc/build.sh
run_pytest "private and cloud storage (s3 on moto, bearer/netrc/presigned on nginx)" .venv/s3 tests/cloud

# ---------------------------------------------------------------------------------------------
section "summary ($((SECONDS - START))s)"
for line in "${SUMMARY[@]}"; do
    echo "$line"
done
echo
# the logs are kept only to look into failures
if [ "$TOTAL_FAIL" -eq 0 ]; then rm -rf "$LOGDIR"; else echo "logs kept in $LOGDIR"; fi
if [ "$TOTAL_SKIP" -gt 0 ]; then
    echo "$TOTAL_PASS passed, $TOTAL_FAIL failed, $TOTAL_SKIP skipped"
else
    echo "$TOTAL_PASS passed, $TOTAL_FAIL failed"
fi
[ "$TOTAL_FAIL" -eq 0 ]
