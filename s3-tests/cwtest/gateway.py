"""Starting and stopping a `chunkworks serve` process for tests."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ACCESS_KEY = "CWTESTACCESSKEY00001"
SECRET_KEY = "cwtest/secret/key/0000000000000000000000"
REGION = "us-east-1"
LOCATIONS = ("a", "b", "c")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]



def terminate(proc):
    """SIGTERM a child process (graceful shutdown), SIGKILL it if it lingers."""
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

class Gateway:
    """One gateway process with its own fresh data directory."""

    def __init__(
        self,
        binary: str,
        workdir: Path,
        config: str | None = None,
        name="gw",
        extra_env: dict[str, str] | None = None,
    ):
        """`extra_env`: more environment for the gateway and its subcommands (location
        secrets named in `[locations.options_from_env]`)."""
        self.binary = binary
        self.extra_env = dict(extra_env or {})
        self.workdir = Path(workdir)
        self.data_dir = self.workdir / "data"
        self.tmp_dir = self.workdir / "tmp"  # the gateway's TMPDIR
        self.log_path = self.workdir / "gateway.log"
        self.config_text = config
        self.name = name
        self.proc: subprocess.Popen | None = None
        self.port = None
        self.host = "127.0.0.1"

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def location_dir(self, loc: str) -> Path:
        return self.data_dir / "locations" / loc

    def log(self) -> str:
        """The gateway's stderr/stdout so far, ANSI colour codes removed."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return ANSI.sub("", text)

    def warn_lines(self) -> list[str]:
        return [line for line in self.log().splitlines() if re.search(r"\bWARN\b", line)]

    def log_tail(self, n=60) -> str:
        return "\n".join(self.log().splitlines()[-n:])

    def start(self, timeout: float = 30.0):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        if not (os.path.isfile(self.binary) and os.access(self.binary, os.X_OK)):
            raise RuntimeError(
                f"gateway binary {self.binary!r} not found or not executable; build it with "
                "`cargo build --release` or set CHUNKWORKS_BIN"
            )
        self.port = free_port()
        args = [
            self.binary,
            "serve",
            "--data-dir",
            str(self.data_dir),
            "--listen",
            f"{self.host}:{self.port}",
        ]
        if self.config_text is not None:
            self.config_path.write_text(self.config_text)
            args += ["--config", str(self.config_path)]
        env = self._env()
        self._log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            args, stdout=self._log_file, stderr=subprocess.STDOUT, env=env, cwd=self.workdir
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"gateway exited with {self.proc.returncode} before accepting connections; "
                    f"args={args}\n--- gateway output ---\n{self.log_tail(80)}"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"gateway did not accept connections on {self.host}:{self.port} within "
                    f"{timeout}s; args={args}\n--- gateway output ---\n{self.log_tail(80)}"
                )
            time.sleep(0.05)
        return self

    def stop(self):
        terminate(self.proc)
        if getattr(self, "_log_file", None):
            self._log_file.close()
            self._log_file = None

    def kill9(self):
        """SIGKILL, no chance to clean up."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        if getattr(self, "_log_file", None):
            self._log_file.close()
            self._log_file = None

    def _env(self) -> dict[str, str]:
        """The environment of the gateway process and of its subcommands."""
        env = dict(os.environ)
        env.update(
            CHUNKWORKS_ACCESS_KEY=ACCESS_KEY,
            CHUNKWORKS_SECRET_KEY=SECRET_KEY,
            TMPDIR=str(self.tmp_dir),
            RUST_BACKTRACE="1",
            NO_COLOR="1",
        )
        env.setdefault("CHUNKWORKS_LOG", "info")
        env.update(self.extra_env)
        return env

    @property
    def config_path(self) -> Path:
        return self.workdir / "config.toml"

    def cli(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
        """`chunkworks <args> --data-dir DIR [--config FILE]` with the gateway's environment
        (works while the gateway runs and while it is stopped)."""
        env = self._env()
        cmd = [self.binary, *args, "--data-dir", str(self.data_dir)]
        if self.config_text is not None:
            if not self.config_path.exists():
                self.config_path.write_text(self.config_text)
            cmd += ["--config", str(self.config_path)]
        p = subprocess.run(cmd, env=env, capture_output=True, timeout=timeout, cwd=self.workdir)
        p.cmdline = " ".join(cmd)  # type: ignore[attr-defined]
        return p

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def proc_status(self) -> dict[str, int]:
        """VmRSS/VmHWM etc. in KiB from /proc/<pid>/status."""
        out = {}
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                m = re.match(r"(Vm\w+):\s+(\d+) kB", line)
                if m:
                    out[m.group(1)] = int(m.group(2))
        return out

    def open_files(self) -> list[str]:
        out = []
        fd_dir = f"/proc/{self.pid}/fd"
        try:
            for fd in os.listdir(fd_dir):
                try:
                    out.append(os.readlink(os.path.join(fd_dir, fd)))
                except OSError:
                    pass
        except OSError:
            pass
        return out

    def shard_files(self, loc: str) -> list[Path]:
        root = self.location_dir(loc) / "shards"
        return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []

    def all_location_files(self) -> list[Path]:
        root = self.data_dir / "locations"
        return sorted(p for p in root.rglob("*") if p.is_file())


def make_workdir(prefix: str) -> Path:
    base = os.environ.get("CHUNKWORKS_TEST_TMP") or None
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base))


def remove_workdir(path: Path):
    shutil.rmtree(path, ignore_errors=True)
