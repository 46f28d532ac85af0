"""Fixtures: gateway processes, boto3 clients, raw signed clients, aws-cli, rclone and s3cmd
runners.

The suite builds nothing. It runs the binary named by CHUNKWORKS_BIN (default:
../target/release/chunkworks relative to this directory).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from cwtest.gateway import ACCESS_KEY, REGION, SECRET_KEY, Gateway, make_workdir, remove_workdir
from cwtest.sigv4 import Raw, Signer
from cwtest.util import REPORT_LINES, new_bucket_name
from cwtest.remote import FAULT_ROWS, Remotes

HERE = Path(__file__).resolve().parent
VHOST_DOMAIN = "s3.example.test"


def gateway_binary() -> str:
    return os.environ.get("CHUNKWORKS_BIN") or str(HERE.parent / "target" / "release" / "chunkworks")


def _start(prefix: str, config_text: str | None = None) -> Gateway:
    workdir = make_workdir(prefix)
    gw = Gateway(gateway_binary(), workdir, config=config_text)
    try:
        gw.start()
    except Exception:
        remove_workdir(workdir)
        raise
    return gw


def _stop(gw: Gateway, keep_on_failure: bool = False):
    gw.stop()
    if not keep_on_failure:
        remove_workdir(gw.workdir)


@pytest.fixture(scope="session")
def server():
    """The shared gateway for ordinary (non-destructive) tests."""
    gw = _start("cw-session-")
    yield gw
    _stop(gw)


@pytest.fixture
def fresh_server():
    """A gateway of its own for one test (location removal, corruption, memory)."""
    gw = _start("cw-fresh-")
    yield gw
    _stop(gw)


@pytest.fixture(scope="session")
def vhost_server():
    """A gateway with virtual-hosted-style addressing enabled for VHOST_DOMAIN."""
    gw = _start("cw-vhost-", f'base_domain = ["{VHOST_DOMAIN}"]\n')
    yield gw
    _stop(gw)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the tail of each gateway's log to a failing test's report."""
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and rep.when in ("setup", "call"):
        for name in ("fresh_server", "server", "vhost_server", "remote_gateway"):
            gw = getattr(item, "funcargs", {}).get(name)
            if gw is not None:
                rep.sections.append((f"gateway log ({name}, tail)", gw.log_tail(40)))
        remotes = getattr(item, "funcargs", {}).get("remotes")
        if remotes is not None:
            rep.sections.append(("remote locations (rclone logs, proxy stats)", remotes.logs()))


def pytest_terminal_summary(terminalreporter):
    if REPORT_LINES:
        terminalreporter.section("chunkworks measurements")
        for line in REPORT_LINES:
            terminalreporter.write_line(line)
    if FAULT_ROWS:
        terminalreporter.section("chunkworks fault matrix")
        for line in format_fault_rows(FAULT_ROWS):
            terminalreporter.write_line(line)


def format_fault_rows(rows) -> list[str]:
    """The fault matrix as a Markdown table (for the closing note)."""
    head = ["fault", "client answer", "bytes lost", "objects byte-exact", "redundancy restored"]
    body = [[r.fault, r.client_answer, r.bytes_lost, r.byte_exact, r.redundancy] for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    fmt = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    out = [fmt(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [fmt(b) for b in body]
    for r in rows:
        for note in r.notes:
            out.append(f"  {r.fault}: {note}")
    return out


def boto_client(gw: Gateway, *, retries: int = 0, addressing: str = "path", **cfg):
    return boto3.session.Session().client(
        "s3",
        endpoint_url=gw.endpoint,
        aws_access_key_id=cfg.pop("access_key", ACCESS_KEY),
        aws_secret_access_key=cfg.pop("secret_key", SECRET_KEY),
        region_name=REGION,
        config=Config(
            s3={"addressing_style": addressing},
            retries={"max_attempts": retries + 1, "mode": "standard"},
            signature_version="s3v4",
            connect_timeout=10,
            read_timeout=300,
            **cfg,
        ),
    )


@pytest.fixture(scope="session")
def s3(server):
    """boto3 client, path style, no retries (so error codes are seen as sent)."""
    return boto_client(server)


@pytest.fixture
def fresh_s3(fresh_server):
    return boto_client(fresh_server)


@pytest.fixture(scope="session")
def raw(server):
    return Raw(server.host, server.port, Signer(ACCESS_KEY, SECRET_KEY, REGION))


@pytest.fixture
def fresh_raw(fresh_server):
    return Raw(fresh_server.host, fresh_server.port, Signer(ACCESS_KEY, SECRET_KEY, REGION))


def _empty_and_delete(client, name):
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
        for up in client.list_multipart_uploads(Bucket=name).get("Uploads", []):
            client.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
        client.delete_bucket(Bucket=name)
    except Exception:
        pass  # best effort: the session server's data dir goes away anyway


@pytest.fixture
def bucket(s3):
    """A new empty bucket on the session server, removed afterwards."""
    name = new_bucket_name()
    s3.create_bucket(Bucket=name)
    yield name
    _empty_and_delete(s3, name)


@pytest.fixture
def fresh_bucket(fresh_s3):
    name = new_bucket_name()
    fresh_s3.create_bucket(Bucket=name)
    return name


# --- command-line clients -------------------------------------------------------------------


def _venv_bin() -> Path:
    import sys

    return Path(sys.executable).parent


class Cli:
    """Runs aws-cli and rclone against one gateway with credentials from the environment, and
    s3cmd with a config file of its own (`s3cmd.cfg` in the test's temp dir)."""

    def __init__(self, gw: Gateway, tmp: Path):
        self.gw = gw
        self.tmp = tmp
        aws_config = tmp / "aws-config"
        aws_config.write_text(
            "[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n"
        )
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AWS_", "RCLONE_"))
        }
        self.env.update(
            AWS_ACCESS_KEY_ID=ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=SECRET_KEY,
            AWS_DEFAULT_REGION=REGION,
            AWS_CONFIG_FILE=str(aws_config),
            AWS_SHARED_CREDENTIALS_FILE=str(tmp / "aws-credentials-none"),
            AWS_EC2_METADATA_DISABLED="true",
            AWS_MAX_ATTEMPTS="1",
            RCLONE_CONFIG=str(tmp / "rclone.conf"),
            RCLONE_CONFIG_CW_TYPE="s3",
            RCLONE_CONFIG_CW_PROVIDER="Other",
            RCLONE_CONFIG_CW_ENDPOINT=gw.endpoint,
            RCLONE_CONFIG_CW_ACCESS_KEY_ID=ACCESS_KEY,
            RCLONE_CONFIG_CW_SECRET_ACCESS_KEY=SECRET_KEY,
            RCLONE_CONFIG_CW_REGION=REGION,
            RCLONE_CONFIG_CW_FORCE_PATH_STYLE="true",
        )
        self.env["PATH"] = f"{_venv_bin()}{os.pathsep}{self.env.get('PATH', '')}"
        # s3cmd reads no credentials from the environment here: everything is in its config.
        # host_bucket without %(bucket)s means path-style requests to the gateway's port.
        self.s3cmd_config = tmp / "s3cmd.cfg"
        hostport = f"{gw.host}:{gw.port}"
        self.s3cmd_config.write_text(
            "[default]\n"
            f"access_key = {ACCESS_KEY}\n"
            f"secret_key = {SECRET_KEY}\n"
            f"host_base = {hostport}\n"
            f"host_bucket = {hostport}\n"
            f"bucket_location = {REGION}\n"
            "use_https = False\n"
            "signature_v2 = False\n"
            "check_ssl_certificate = False\n"
            "progress_meter = False\n"
            "socket_timeout = 60\n"
            "max_retries = 1\n"
        )

    def run(self, args: list[str], check=True, timeout=300) -> subprocess.CompletedProcess:
        p = subprocess.run(
            args, env=self.env, capture_output=True, timeout=timeout, cwd=self.tmp
        )
        if check and p.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} exited {p.returncode}\nstdout: {p.stdout.decode(errors='replace')[-3000:]}"
                f"\nstderr: {p.stderr.decode(errors='replace')[-3000:]}"
                f"\n--- gateway log tail ---\n{self.gw.log_tail(30)}"
            )
        return p

    def aws(self, *args, check=True, timeout=300):
        return self.run(
            ["aws", "--endpoint-url", self.gw.endpoint, *args],
            check=check,
            timeout=timeout,
        )

    def rclone(self, *args, check=True, timeout=300):
        return self.run(
            ["rclone", "--retries", "1", "--low-level-retries", "1", *args],
            check=check,
            timeout=timeout,
        )


    def s3cmd(self, *args, check=True, timeout=300):
        return self.run(
            ["s3cmd", "--config", str(self.s3cmd_config), "--no-progress", *args],
            check=check,
            timeout=timeout,
        )


@pytest.fixture
def cli(server, tmp_path):
    return Cli(server, tmp_path)


# --- remote locations behind fault-injecting proxies (test_faults.py) -----------------------

# Small health timeouts so every fault resolves in seconds; background jobs effectively off so
# the tests decide when heal/scrub/gc run (they call the subcommands).
FAULT_HEALTH = {"request_timeout_secs": 3, "hedge_delay_ms": 300, "retry_after_secs": 1}
FAULT_JOBS = {
    "gc_grace_secs": 3600,
    "multipart_expiry_secs": 86400,
    "scrub_interval_secs": 86400,
    "gc_interval_secs": 86400,
}


@pytest.fixture
def remotes():
    """Three `rclone serve s3` servers (buckets loc-a/b/c) each behind a FaultProxy."""
    workdir = make_workdir("cw-remotes-")
    r = Remotes(workdir)
    try:
        r.start()
        yield r
    finally:
        r.stop()
        remove_workdir(workdir)


@pytest.fixture
def remote_gateway(remotes):
    """A gateway whose locations a/b/c are the proxies of `remotes` (not yet started)."""
    workdir = make_workdir("cw-faults-")
    gw = Gateway(
        gateway_binary(),
        workdir,
        config=remotes.config_toml(health=FAULT_HEALTH, jobs=FAULT_JOBS),
        extra_env=remotes.env(),
    )
    yield gw
    gw.stop()
    remove_workdir(workdir)
