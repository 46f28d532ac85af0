"""Crash safety with the default local locations: the gateway SIGKILLed in the middle of a
500 MiB PUT.

What a killed write leaves on a local disk are staging files (`shards/<blob>/<part>.<shard>#<n>`,
object_store's not-yet-renamed files) that no listing shows. The tests check that:
- the client gets no answer (the process is gone), and after a restart the key is not visible
  (HEAD 404, not listed) while every acknowledged object still reads back byte-exact;
- the crash really left staging files behind (so the checks below can fail);
- `chunkworks gc` with the server stopped keeps them within the grace period and removes them
  with `--grace-secs 0`; the background gc in `serve` removes them once they are older than
  `jobs.gc_grace_secs`; neither touches a byte of the live objects.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cwtest import data
from cwtest.data import MiB
from cwtest.gateway import Gateway, make_workdir, remove_workdir
from cwtest.rawclient import Client, at_bytes
from cwtest.remote import describe

from conftest import boto_client, gateway_binary

pytestmark = [pytest.mark.destructive, pytest.mark.slow]

BUCKET = "crash"
KILL_SIZE = 500 * MiB
KILL_AT = 200 * MiB
BASE = {"base-0": 8 * MiB + 5, "base-1": 3 * MiB}

GC_OFF = "[jobs]\ngc_interval_secs = 0\nscrub_interval_secs = 0\n"
GC_FAST = (
    "[jobs]\ngc_interval_secs = 1\ngc_grace_secs = 2\nstart_delay_secs = 1\nscrub_interval_secs = 0\n"
)


def staging_files(gw: Gateway) -> list[Path]:
    """Files whose name ends in `#<digits>` under any location (object_store staging files)."""
    root = gw.data_dir / "locations"
    out = []
    for p in root.rglob("*#*"):
        suffix = p.name.rsplit("#", 1)[1]
        if p.is_file() and suffix.isdigit():
            out.append(p)
    return sorted(out)


def blob_files(gw: Gateway) -> list[Path]:
    return sorted(p for p in (gw.data_dir / "locations").rglob("shards/*/*") if p.is_file())


@pytest.fixture
def crash_gw():
    workdir = make_workdir("cw-crash-")
    gw = Gateway(gateway_binary(), workdir, config=GC_OFF)
    yield gw
    gw.stop()
    remove_workdir(workdir)


def _start(gw: Gateway, config: str):
    gw.config_text = config
    gw.config_path.write_text(config)
    gw.start()
    return Client(gw.host, gw.port, BUCKET)


def _check_live(gw: Gateway, client: Client, when: str):
    for key, size in BASE.items():
        ans = client.get(key)
        assert ans.status == 200 and ans.md5 == data.md5_of(f"crash/{key}", size), (
            f"{when}: {key}: {ans.short()}\n{gw.log_tail(20)}"
        )


def _kill_mid_put(gw: Gateway, client: Client, key: str):
    hook = at_bytes(KILL_AT, gw.kill9)
    ans = client.put(key, f"crash/{key}", KILL_SIZE, on_progress=hook)
    assert hook.fired.is_set(), "the PUT ended before the kill point"
    assert ans.status is None, f"a killed gateway cannot answer: {ans.short()}"
    assert not gw.alive()


def _assert_invisible(gw: Gateway, client: Client, key: str):
    h = client.head(key)
    assert h.status == 404, f"HEAD {key} after the crash: {h.short()}"
    s3 = boto_client(gw)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert sorted(keys) == sorted(BASE), f"listing after the crash: {keys}"
    uploads = s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
    assert not uploads, f"a single PUT left a multipart upload: {uploads}"


def test_killed_mid_put_then_offline_gc(crash_gw):
    gw = crash_gw
    client = _start(gw, GC_OFF)
    boto_client(gw).create_bucket(Bucket=BUCKET)
    for key, size in BASE.items():
        assert client.put(key, f"crash/{key}", size).status == 200
    live_files = {p: p.read_bytes() for p in blob_files(gw)}
    assert len(live_files) == 6 * len(BASE), sorted(live_files)

    _kill_mid_put(gw, client, "huge")
    left = staging_files(gw)
    assert len(left) == 6, f"expected one staging file per shard of the interrupted write: {left}"

    client = _start(gw, GC_OFF)
    _assert_invisible(gw, client, "huge")
    _check_live(gw, client, "after restart")
    gw.stop()

    # the server is stopped: the operator's subcommand
    p = gw.cli("gc")
    assert p.returncode == 0, describe(p)
    assert staging_files(gw) == left, "gc removed staging files younger than the grace period"
    p = gw.cli("gc", "--grace-secs", "0")
    assert p.returncode == 0, describe(p)
    out = p.stdout.decode()
    assert "files of interrupted writes deleted 6" in out, out
    assert staging_files(gw) == [], staging_files(gw)
    assert {p: p.read_bytes() for p in blob_files(gw)} == live_files, "gc changed live shard files"

    client = _start(gw, GC_OFF)
    _assert_invisible(gw, client, "huge")
    _check_live(gw, client, "after gc")


def test_killed_mid_put_then_background_gc(crash_gw):
    gw = crash_gw
    client = _start(gw, GC_OFF)
    boto_client(gw).create_bucket(Bucket=BUCKET)
    for key, size in BASE.items():
        assert client.put(key, f"crash/{key}", size).status == 200
    live_files = {p: p.read_bytes() for p in blob_files(gw)}

    _kill_mid_put(gw, client, "huge")
    assert len(staging_files(gw)) == 6, staging_files(gw)

    # restarted with a background gc every second and a 2 s grace period
    client = _start(gw, GC_FAST)
    _assert_invisible(gw, client, "huge")
    deadline = time.monotonic() + 30
    while staging_files(gw) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert staging_files(gw) == [], f"background gc left {staging_files(gw)}\n{gw.log_tail(30)}"
    assert "files of interrupted writes deleted" in gw.log(), gw.log_tail(30)
    assert {p: p.read_bytes() for p in blob_files(gw)} == live_files, "gc changed live shard files"
    _check_live(gw, client, "after background gc")
    _assert_invisible(gw, client, "huge")
