"""Degraded-mode benchmark: PUT and GET through remote locations with all three up, then with
one location refusing connections, as ratios against the all-up times of the same run.

    s3-tests/.venv/bin/python bench/degraded.py [--size-mib 64] [--runs 5]

Three `rclone serve s3` servers on 127.0.0.1 behind the test suite's fault proxies (see
s3-tests/cwtest/remote.py), the release gateway (CHUNKWORKS_BIN, default target/release/
chunkworks) with the fault suite's health settings (request timeout 3 s, hedge delay 300 ms).
Each measurement is one single-stream request with curl-like raw HTTP (UNSIGNED-PAYLOAD) from
this process; the table shows the median of `--runs`. The first request after the location is
cut is timed separately: it is the one that finds out.

The claim checked: with one location down, a GET (and a PUT) is at most a little slower
(the reader skips shards at locations marked down; parity is read at once).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "s3-tests"))

import boto3  # noqa: E402

from cwtest import data  # noqa: E402
from cwtest.gateway import ACCESS_KEY, REGION, SECRET_KEY, Gateway, remove_workdir  # noqa: E402
from cwtest.rawclient import Client  # noqa: E402
from cwtest.remote import Remotes  # noqa: E402

MiB = 1024 * 1024
HEALTH = {"request_timeout_secs": 3, "hedge_delay_ms": 300, "retry_after_secs": 1}
JOBS = {"scrub_interval_secs": 0, "gc_interval_secs": 0}


def timed(fn):
    t0 = time.monotonic()
    ans = fn()
    return time.monotonic() - t0, ans


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=64)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    size = args.size_mib * MiB
    binary = os.environ.get("CHUNKWORKS_BIN", str(ROOT / "target" / "release" / "chunkworks"))

    work = Path(tempfile.mkdtemp(prefix="cw-bench-degraded-"))
    remotes = Remotes(work)
    remotes.start()
    gw = Gateway(
        binary, work / "gw", config=remotes.config_toml(health=HEALTH, jobs=JOBS), extra_env=remotes.env()
    )
    (work / "gw").mkdir()
    rows = []
    try:
        gw.start()
        client = Client(gw.host, gw.port, "bench")
        boto3.client(
            "s3",
            endpoint_url=gw.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        ).create_bucket(Bucket="bench")
        md5 = data.md5_of("bench", size)

        def put(i):
            t, ans = timed(lambda: client.put(f"o{i}", "bench", size))
            assert ans.status == 200, ans.short()
            return t

        def get():
            t, ans = timed(lambda: client.get("o0"))
            assert ans.status == 200 and ans.md5 == md5, ans.short()
            return t

        put(0)  # warm-up
        up_put = statistics.median(put(i + 1) for i in range(args.runs))
        up_get = statistics.median(get() for _ in range(args.runs))

        remotes.proxy("a").refuse()
        first_get = get()
        down_get = statistics.median(get() for _ in range(args.runs))
        down_put = statistics.median(put(i + 100) for i in range(args.runs))
        remotes.all_pass()

        mb = size / 1e6
        rows = [
            ("PUT, all locations up", up_put, 1.0),
            ("PUT, location a refusing", down_put, down_put / up_put),
            ("GET, all locations up", up_get, 1.0),
            ("GET, first after a went down", first_get, first_get / up_get),
            ("GET, location a refusing", down_get, down_get / up_get),
        ]
        print(f"\n{args.size_mib} MiB objects, median of {args.runs} runs (rclone + fault proxy on loopback)\n")
        print("| measurement | seconds | MB/s | ratio to all up |")
        print("|---|---|---|---|")
        for name, secs, ratio in rows:
            print(f"| {name} | {secs:.2f} | {mb / secs:.0f} | {ratio:.2f} |")
    finally:
        gw.stop()
        remotes.stop()
        remove_workdir(work)


if __name__ == "__main__":
    main()
