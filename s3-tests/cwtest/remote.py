"""Remote locations for fault tests: three `rclone serve s3` servers, each behind a FaultProxy,
and a gateway whose locations a/b/c are those proxies (`s3://loc-<name>`, prefix `cw`).

Layout of one location's server directory (rclone serves the sub-directories of its root as
buckets):

    <root>/loc-a/cw/shards/<blob-id>/<part>.<shard>
    <root>/loc-a/cw/manifests/<version-id>
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .faultproxy import FaultProxy
from .gateway import free_port, terminate

LOCATIONS = ("a", "b", "c")
PREFIX = "cw"
K, M = 4, 2
SHARDS_PER_LOCATION = 2
SHARD_NAME = re.compile(r"(\d+)\.(\d+)")
# rclone's directory cache. With 0 s, rclone re-reads and drops directory caches on every
# write syscall of a streamed upload and spins the CPU for minutes; with 1 s, a test that
# changes files behind rclone's back waits `settle()` before asking for them.
RCLONE_DIR_CACHE_SECS = 1.0


def rclone_binary() -> str:
    env = os.environ.get("RCLONE_BIN")
    if env:
        return env
    here = Path(__file__).resolve().parent.parent
    for cand in (Path(sys.executable).parent / "rclone", here / ".venv" / "bin" / "rclone"):
        if cand.is_file() and os.access(cand, os.X_OK):
            return str(cand)
    return "rclone"


def _wait_port(host: str, port: int, proc: subprocess.Popen, log: Path, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"rclone exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"rclone did not listen on {port} within {timeout}s")
        time.sleep(0.05)


class RcloneS3:
    """One `rclone serve s3` over `root`, with one bucket `loc-<name>`."""

    def __init__(self, name: str, root: Path):
        self.name = name
        self.root = Path(root)
        self.bucket = f"loc-{name}"
        self.access_key = f"CWLOC{name.upper()}ACCESS0000000"
        self.secret_key = f"cw-location-{name}-secret-0000000000000000"
        self.host = "127.0.0.1"
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.log_path = self.root.parent / f"rclone-{name}.log"

    @property
    def bucket_dir(self) -> Path:
        return self.root / self.bucket

    @property
    def prefix_dir(self) -> Path:
        return self.bucket_dir / PREFIX

    def start(self):
        self.bucket_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("RCLONE_")}
        env["RCLONE_CONFIG"] = os.devnull  # no user config, no "config not found" notice
        args = [
            rclone_binary(),
            "serve",
            "s3",
            "--addr",
            f"{self.host}:{self.port}",
            "--auth-key",
            f"{self.access_key},{self.secret_key}",
            "--dir-cache-time",
            f"{RCLONE_DIR_CACHE_SECS}s",
            "--vfs-cache-mode",
            "off",
            "--no-cleanup",
            "--log-level",
            os.environ.get("CW_RCLONE_LOG_LEVEL", "NOTICE"),
            str(self.root),
        ]
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        _wait_port(self.host, self.port, self.proc, self.log_path)
        return self

    def stop(self):
        terminate(self.proc)
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None

    def files(self, sub: str) -> list[Path]:
        root = self.prefix_dir / sub
        return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []

    def shard_files(self) -> list[Path]:
        return [p for p in self.files("shards") if SHARD_NAME.fullmatch(p.name)]

    def manifest_files(self) -> list[Path]:
        return self.files("manifests")

    def log_tail(self, n=20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except FileNotFoundError:
            return ""


@dataclass
class Location:
    name: str
    server: RcloneS3
    proxy: FaultProxy

    @property
    def secret_env(self) -> str:
        return f"CW_LOC_{self.name.upper()}_SECRET"


class Remotes:
    """Three locations a/b/c: rclone servers with a FaultProxy in front of each."""

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self.locs: dict[str, Location] = {}

    def start(self):
        for name in LOCATIONS:
            srv = RcloneS3(name, self.workdir / f"remote-{name}").start()
            proxy = FaultProxy(srv.host, srv.port, name=name)
            self.locs[name] = Location(name, srv, proxy)
        return self

    def stop(self):
        for loc in self.locs.values():
            loc.proxy.close()
            loc.server.stop()

    def __getitem__(self, name: str) -> Location:
        return self.locs[name]

    def proxy(self, name: str) -> FaultProxy:
        return self.locs[name].proxy

    def all_pass(self):
        for loc in self.locs.values():
            loc.proxy.pass_()

    def env(self) -> dict[str, str]:
        """Secrets the gateway reads through [locations.options_from_env]."""
        return {loc.secret_env: loc.server.secret_key for loc in self.locs.values()}

    def config_toml(self, *, health: dict | None = None, jobs: dict | None = None) -> str:
        lines = []
        for loc in self.locs.values():
            lines += [
                "[[locations]]",
                f'name = "{loc.name}"',
                f'url = "s3://{loc.server.bucket}"',
                f'prefix = "{PREFIX}"',
                "[locations.options]",
                f'aws_endpoint = "{loc.proxy.endpoint}"',
                'aws_region = "us-east-1"',
                f'aws_access_key_id = "{loc.server.access_key}"',
                'aws_allow_http = "true"',
                'aws_virtual_hosted_style_request = "false"',
                "[locations.options_from_env]",
                f'aws_secret_access_key = "{loc.secret_env}"',
                "",
            ]
        if health:
            lines.append("[health]")
            lines += [f"{k} = {v}" for k, v in health.items()]
            lines.append("")
        if jobs:
            lines.append("[jobs]")
            lines += [f"{k} = {v}" for k, v in jobs.items()]
            lines.append("")
        return "\n".join(lines)

    def settle(self):
        """Waits until every server sees files changed behind its back (its directory cache
        has expired)."""
        time.sleep(RCLONE_DIR_CACHE_SECS + 0.5)

    # --- shard files as the servers hold them -----------------------------------------------

    def blob_ids(self) -> set[str]:
        """Every blob id that has at least one shard file in any location."""
        out = set()
        for loc in self.locs.values():
            for p in loc.server.shard_files():
                out.add(p.parent.name)
        return out

    def shard_map(self, blob: str) -> dict[str, list[tuple[int, int]]]:
        """location -> [(part, shard index)] of one blob id."""
        out: dict[str, list[tuple[int, int]]] = {}
        for name, loc in self.locs.items():
            d = loc.server.prefix_dir / "shards" / blob
            found = []
            if d.is_dir():
                for p in d.iterdir():
                    m = SHARD_NAME.fullmatch(p.name)
                    if m and p.is_file():
                        found.append((int(m.group(1)), int(m.group(2))))
            out[name] = sorted(found)
        return out

    def blob_complete(self, blob: str) -> tuple[bool, str]:
        """Full redundancy for one blob: for every part, k+m distinct shards, 2 per location."""
        smap = self.shard_map(blob)
        parts = sorted({part for files in smap.values() for part, _ in files})
        if not parts:
            return False, f"blob {blob}: no shard files"
        for part in parts:
            per_loc = {loc: [s for p, s in files if p == part] for loc, files in smap.items()}
            all_shards = sorted(s for v in per_loc.values() for s in v)
            if all_shards != list(range(K + M)):
                return False, f"blob {blob} part {part}: shards {per_loc}"
            if any(len(v) != SHARDS_PER_LOCATION for v in per_loc.values()):
                return False, f"blob {blob} part {part}: per location {per_loc}"
        return True, ""

    def shard_file_count(self) -> int:
        return sum(len(loc.server.shard_files()) for loc in self.locs.values())

    def logs(self) -> str:
        return "\n".join(
            f"--- rclone {n} (:{l.server.port}), proxy {l.proxy!r} {l.proxy.stats()} ---\n{l.server.log_tail(8)}"
            for n, l in self.locs.items()
        )


def describe(p: subprocess.CompletedProcess) -> str:
    out = p.stdout.decode(errors="replace")[-2500:]
    err = p.stderr.decode(errors="replace")[-2500:]
    return f"`{getattr(p, 'cmdline', p.args)}` exited {p.returncode}\nstdout:\n{out}\nstderr:\n{err}"


@dataclass
class FaultRow:
    """One line of the fault matrix printed in the terminal summary."""

    fault: str
    client_answer: str = "not reached"
    bytes_lost: str = "?"
    byte_exact: str = "?"
    redundancy: str = "not reached"
    notes: list[str] = field(default_factory=list)


# Rows of the fault matrix, printed by conftest's terminal summary.
FAULT_ROWS: list[FaultRow] = []
