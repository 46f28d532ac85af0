#!/usr/bin/env python3
"""Reads criterion's estimates and the gateway PUT/GET measurement; prints the comparison table.

Criterion layout: target/criterion/<group>/<bench>[/<param>]/new/{estimates.json,benchmark.json}.
Throughput comes from benchmark.json ("throughput": {"Bytes": N}) when the bench declares it,
else the default 4 MiB chunk input is assumed.
"""

import argparse
import json
import os
import re
import sys
from pathlib import Path

CHUNK = 4 * 1024 * 1024
PUT_GOAL = 0.70
GET_GOAL = 0.40


def load_criterion(root: Path):
    out = {}
    if not root.is_dir():
        return out
    for est in sorted(root.glob("**/new/estimates.json")):
        bench_dir = est.parent.parent
        rel = bench_dir.relative_to(root)
        if rel.parts and rel.parts[0] == "report":
            continue
        ident = "/".join(rel.parts)
        mean_ns = json.loads(est.read_text())["mean"]["point_estimate"]
        nbytes = CHUNK
        meta = est.parent / "benchmark.json"
        if meta.exists():
            m = json.loads(meta.read_text())
            ident = m.get("full_id") or ident
            tp = m.get("throughput") or {}
            for kind in ("Bytes", "BytesDecimal"):
                if kind in tp:
                    nbytes = int(tp[kind])
        out[ident] = {"mean_ns": mean_ns, "bytes": nbytes, "mb_s": nbytes / mean_ns * 1e3}
    return out


def pick(benches, env, patterns, exclude=()):
    if os.environ.get(env):
        want = os.environ[env]
        if want not in benches:
            sys.exit(f"{env}={want!r} is not among the criterion ids: {sorted(benches)}")
        return want
    for ident in benches:
        low = ident.lower()
        if all(re.search(p, low) for p in patterns) and not any(re.search(x, low) for x in exclude):
            return ident
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--criterion", type=Path, required=True)
    ap.add_argument("--gateway", type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    benches = load_criterion(args.criterion)
    gw = json.loads(args.gateway.read_text()) if args.gateway and args.gateway.exists() else None

    md5_id = pick(benches, "BENCH_MD5", [r"md5"])
    dec_id = pick(benches, "BENCH_DECRYPT", [r"(decrypt|open)"], exclude=[r"encrypt"])
    if dec_id is None:
        dec_id = pick(benches, "BENCH_DECRYPT", [r"(aead|gcm|siv)", r"dec"])

    rows = []
    print()
    print(f"{'measurement':<48} {'MB/s':>10}   note")
    print("-" * 90)
    for ident, b in sorted(benches.items()):
        note = []
        if ident == md5_id:
            note.append("MD5 reference")
        if ident == dec_id:
            note.append("AEAD-decrypt reference")
        print(f"{ident:<48} {b['mb_s']:>10.0f}   {', '.join(note)}")
    if not benches:
        print(f"(no criterion results under {args.criterion})")
    summary = {"criterion": benches, "md5_id": md5_id, "decrypt_id": dec_id}
    if gw:
        size = gw["size_mib"]
        print(f"{f'gateway PUT {size} MiB (single stream)':<48} {gw['put_mb_s']:>10.0f}   runs {[round(x) for x in gw['put_runs']]}")
        print(f"{f'gateway GET {size} MiB (single stream)':<48} {gw['get_mb_s']:>10.0f}   runs {[round(x) for x in gw['get_runs']]}")
        print(f"{'gateway peak RSS (VmHWM)':<48} {gw['vmhwm_kib'] / 1024:>9.0f}M")
        if "storage_write_mb_s" in gw:
            print(f"{'storage write reference (data dir)':<48} {gw['storage_write_mb_s']:>10.0f}   {gw['data_dir']}")
        print("-" * 90)
        summary["gateway"] = gw
        for label, num, ref_id, goal, key in (
            ("PUT / MD5-raw", gw["put_mb_s"], md5_id, PUT_GOAL, "put_ratio"),
            ("GET / AEAD-decrypt-raw", gw["get_mb_s"], dec_id, GET_GOAL, "get_ratio"),
        ):
            if ref_id is None:
                print(f"{label:<48} {'n/a':>10}   no reference bench found (set BENCH_MD5/BENCH_DECRYPT)")
                continue
            ratio = num / benches[ref_id]["mb_s"]
            verdict = "meets" if ratio >= goal else "BELOW"
            print(f"{label:<48} {ratio:>10.2f}   goal >= {goal:.2f}: {verdict}")
            summary[key] = ratio
        if gw.get("storage_write_mb_s"):
            # A PUT writes 1.5x its size (k=4, m=2): the storage alone caps it at storage / 1.5.
            cap = gw["storage_write_mb_s"] / 1.5
            ratio = gw["put_mb_s"] / cap
            print(f"{'PUT / (storage write / 1.5)':<48} {ratio:>10.2f}   (1.00 = storage-bound)")
            summary["put_storage_ratio"] = ratio
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2))
        print(f"\n(results: {args.out})")


if __name__ == "__main__":
    main()
