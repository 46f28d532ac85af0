#!/usr/bin/env bash
# Chunk Works benchmark: raw primitive speed (criterion) against gateway PUT/GET speed.
#
#   bash bench/run.sh [--skip-criterion] [--skip-gateway]
#
# 1. `cargo bench --bench primitives` (criterion); reads every
#    target/criterion/**/new/estimates.json (mean time) and the matching benchmark.json
#    (throughput, else the 4 MiB chunk input) and turns them into MB/s.
# 2. Starts the release gateway on 127.0.0.1 with a temp data dir on the normal disk
#    (target/bench-data), makes a 1 GiB random file once (kept in page cache), and measures
#    single-stream PUT and GET with curl's built-in SigV4 (UNSIGNED-PAYLOAD), median of N runs.
# 3. Prints a table: MB/s, PUT / MD5-raw (goal >= 0.70), GET / AEAD-decrypt-raw (goal >= 0.40).
#
# Environment: BENCH_SIZE_MIB (1024), BENCH_RUNS (3), BENCH_DIR (target/bench-data),
# BENCH_MD5 / BENCH_DECRYPT (criterion ids to use as the references, default: found by name),
# CARGO_TARGET_DIR as usual.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
SIZE_MIB="${BENCH_SIZE_MIB:-1024}"
RUNS="${BENCH_RUNS:-3}"
WORK="${BENCH_DIR:-$TARGET/bench-data}"
RESULTS="$WORK/results"
SKIP_CRITERION=0
SKIP_GATEWAY=0
for arg in "$@"; do
    case "$arg" in
        --skip-criterion) SKIP_CRITERION=1 ;;
        --skip-gateway) SKIP_GATEWAY=1 ;;
        *) echo "unknown argument $arg" >&2; exit 2 ;;
    esac
done
PY="$(command -v python3.11 || command -v python3)"
mkdir -p "$RESULTS"

if [ "$SKIP_CRITERION" = 0 ]; then
    echo "==> cargo bench --bench primitives"
    cargo bench --bench primitives 2>&1 | tee "$RESULTS/criterion.log"
fi

GATEWAY_JSON="$RESULTS/gateway.json"
if [ "$SKIP_GATEWAY" = 0 ]; then
    command -v curl >/dev/null || { echo "curl is needed for the gateway benchmark" >&2; exit 1; }
    echo "==> cargo build --release"
    cargo build --release
    BIN="${CHUNKWORKS_BIN:-$TARGET/release/chunkworks}"

    INPUT="$WORK/input-${SIZE_MIB}MiB.bin"
    if [ ! -f "$INPUT" ] || [ "$(stat -c %s "$INPUT")" -ne $((SIZE_MIB * 1024 * 1024)) ]; then
        echo "==> generating $INPUT"
        head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$INPUT.tmp"
        mv "$INPUT.tmp" "$INPUT"
    fi
    cat "$INPUT" >/dev/null # into the page cache

    # The gateway writes 1.5x the object (k=4 m=2) to its locations. To measure the gateway's
    # own pipeline rather than this machine's disk, the data dir goes to tmpfs when there is
    # room (BENCH_DATA_DIR overrides) and shard files are not fsynced; the storage write speed
    # of that dir is measured in the same run and printed beside the result.
    need_kib=$((SIZE_MIB * 1024 * 3))
    if [ -z "${BENCH_DATA_DIR:-}" ] && [ -d /dev/shm ] &&
        [ "$(df -Pk /dev/shm | awk 'NR==2 {print $4}')" -gt "$need_kib" ]; then
        DATA="/dev/shm/chunkworks-bench-$$"
    else
        DATA="${BENCH_DATA_DIR:-$WORK/gateway-data}"
    fi
    rm -rf "$DATA"
    mkdir -p "$DATA"
    CONFIG="$WORK/bench-config.toml"
    : >"$CONFIG"
    for loc in a b c; do
        printf '[[locations]]\nname = "%s"\nurl = "locations/%s"\nfsync = false\n' "$loc" "$loc" >>"$CONFIG"
    done
    echo "==> storage reference: writing $((SIZE_MIB * 3 / 2)) MiB to $DATA"
    STORAGE_MB_S="$("$PY" - "$DATA" "$SIZE_MIB" <<'PYEOF'
import os, sys, time
path, size_mib = sys.argv[1], int(sys.argv[2])
block = os.urandom(4 << 20)
total = size_mib * 3 // 2 * (1 << 20)
name = os.path.join(path, "storage-reference.bin")
start = time.perf_counter()
with open(name, "wb", buffering=0) as f:
    written = 0
    while written < total:
        written += f.write(block)
elapsed = time.perf_counter() - start
os.remove(name)
print(f"{written / elapsed / 1e6:.0f}")
PYEOF
)"
    echo "storage write: $STORAGE_MB_S MB/s"
    AK="BENCHACCESSKEY000001"
    SK="bench-secret-key-0000000000000000000000"
    PORT="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    LOG="$RESULTS/gateway.log"
    CHUNKWORKS_ACCESS_KEY="$AK" CHUNKWORKS_SECRET_KEY="$SK" NO_COLOR=1 \
        "$BIN" serve --data-dir "$DATA" --config "$CONFIG" --listen "127.0.0.1:$PORT" >"$LOG" 2>&1 &
    GW_PID=$!
    cleanup() {
        kill "$GW_PID" 2>/dev/null || true
        wait "$GW_PID" 2>/dev/null || true
        rm -rf "$DATA"
    }
    trap cleanup EXIT
    for _ in $(seq 1 200); do
        if grep -q "listening on http://" "$LOG" 2>/dev/null; then break; fi
        if ! kill -0 "$GW_PID" 2>/dev/null; then
            echo "gateway exited early:" >&2
            cat "$LOG" >&2
            exit 1
        fi
        sleep 0.1
    done
    URL="http://127.0.0.1:$PORT"
    # curl's --aws-sigv4 sends no x-amz-content-sha256 by itself (S3 requires it); given one,
    # curl signs that value as the payload hash, so UNSIGNED-PAYLOAD skips hashing the file.
    CURL=(curl -sS --fail-with-body --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK"
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
    "${CURL[@]}" -X PUT "$URL/bench" -o /dev/null
    : >"$RESULTS/curl.txt"
    for i in $(seq 1 "$RUNS"); do
        # "Expect:" disables curl's 100-continue round trip.
        put="$("${CURL[@]}" -H "Expect:" \
            -T "$INPUT" "$URL/bench/object-$i" -o /dev/null -w '%{http_code} %{size_upload} %{time_total}')"
        get="$("${CURL[@]}" \
            "$URL/bench/object-$i" -o /dev/null -w '%{http_code} %{size_download} %{time_total}')"
        echo "put $put" | tee -a "$RESULTS/curl.txt"
        echo "get $get" | tee -a "$RESULTS/curl.txt"
        "${CURL[@]}" -X DELETE "$URL/bench/object-$i" -o /dev/null
    done
    HWM_KIB="$(awk '/VmHWM/ {print $2}' "/proc/$GW_PID/status")"
    "$PY" - "$RESULTS/curl.txt" "$HWM_KIB" "$SIZE_MIB" "$STORAGE_MB_S" "$DATA" >"$GATEWAY_JSON" <<'PYEOF'
import json, statistics, sys
path, hwm, size_mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
storage_mb_s, data_dir = float(sys.argv[4]), sys.argv[5]
rows = {"put": [], "get": []}
for line in open(path):
    kind, code, nbytes, secs = line.split()
    if code != "200" or int(float(nbytes)) != size_mib * 1024 * 1024:
        sys.exit(f"bad {kind}: HTTP {code}, {nbytes} bytes")
    rows[kind].append(int(float(nbytes)) / float(secs) / 1e6)
print(json.dumps({"put_mb_s": statistics.median(rows["put"]), "get_mb_s": statistics.median(rows["get"]),
                  "put_runs": rows["put"], "get_runs": rows["get"], "vmhwm_kib": hwm, "size_mib": size_mib,
                  "storage_write_mb_s": storage_mb_s, "data_dir": data_dir}))
PYEOF
fi

REPORT_ARGS=(--criterion "$TARGET/criterion" --out "$RESULTS/summary.json")
if [ "$SKIP_GATEWAY" = 0 ]; then REPORT_ARGS+=(--gateway "$GATEWAY_JSON"); fi
"$PY" "$ROOT/bench/report.py" "${REPORT_ARGS[@]}"
