"""A fault-injecting TCP proxy for HTTP backends (pure Python, threads).

One `FaultProxy` listens on a loopback port and forwards every connection to one upstream
(`host`, `port`). The test switches its mode at any moment; the switch applies to new
connections and to connections already in flight (mid-request, mid-response):

| mode                | new connections                                   | connections in flight                     |
|---------------------|---------------------------------------------------|-------------------------------------------|
| `pass_()`           | forwarded                                         | keep forwarding                           |
| `refuse()`          | the listening socket is closed: connection refused | reset (RST) at once                       |
| `blackhole()`       | accepted, everything read and dropped, no answer  | nothing more is forwarded either way (reset when the mode changes again) |
| `error500()`        | every request answered with an S3 500 InternalError XML (Connection: close) | reset at once (a server restarting broken) |
| `slow(s)`           | forwarded; each response held back `s` seconds     | the same from their next response on      |
| `kill_after(n)`     | forwarded, reset after `n` bytes (both directions) | reset after `n` more bytes (per connection) |

"Each response" for `slow` means: the first bytes coming back from upstream after the client
has sent something (a request on a keep-alive connection), so a GET's body is delayed once,
not per packet.

Counters (`connections`, `bytes_up`, `bytes_down`, `resets`, `answered_500`) let a test see
that a fault was actually hit.

Besides faults, the proxy corrects one non-conformance of `rclone serve s3` (its gofakes3 answers
a ranged GET with `200 OK` plus `Content-Range` instead of `206 Partial Content`): a response
that starts with `HTTP/1.1 200 OK` and carries `Content-Range` gets the status line
`HTTP/1.1 206 Partial Content` (`ranges_fixed` counts them). object_store refuses a 200 to a
ranged request, and the gateway's fallback (a whole-blob GET, tested against rclone directly in
`tests/locations.rs`) would read every shard file 16 times over, which is not what a real
provider costs and would drown the timings the fault tests look at.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
import uuid

_POLL = 0.05  # seconds: how often pumps look at the mode
_BUF = 256 * 1024

ERROR_500_BODY = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<Error><Code>InternalError</Code>"
    "<Message>We encountered an internal error. Please try again.</Message>"
    "<RequestId>{rid}</RequestId></Error>"
)


def _reset(sock: socket.socket | None):
    """Close with RST (SO_LINGER 0) so the peer sees 'connection reset', not a clean EOF."""
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def _close(sock: socket.socket | None):
    if sock is None:
        return
    try:
        sock.close()
    except OSError:
        pass


class _Conn:
    """One client connection and (unless born in blackhole/error500 mode) its upstream."""

    def __init__(self, proxy: "FaultProxy", client: socket.socket, upstream: socket.socket | None):
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self.lock = threading.Lock()
        self.closed = False
        self.epoch = proxy._epoch
        self.budget: int | None = proxy._kill_budget
        self.awaiting_response = True  # client sent a request, no response byte seen yet

    def abort(self):
        with self.lock:
            if self.closed:
                return
            self.closed = True
        self.proxy.resets += 1
        _reset(self.client)
        _reset(self.upstream)

    def finish(self):
        with self.lock:
            if self.closed:
                return
            self.closed = True
        _close(self.client)
        _close(self.upstream)

    def _spend(self, n: int) -> int:
        """How many of n bytes may pass before a kill_after budget runs out (n if none)."""
        with self.proxy._lock:
            if self.proxy._mode != "kill_after":
                return n
            if self.epoch != self.proxy._epoch:
                # kill_after was set after this connection began: take the fresh budget
                self.epoch = self.proxy._epoch
                self.budget = self.proxy._kill_budget
            if self.budget is None:
                return n
            allowed = min(n, self.budget)
            self.budget -= allowed
            return allowed

    def pump(self, src: socket.socket, dst: socket.socket | None, upstream_to_client: bool):
        p = self.proxy
        try:
            while not self.closed:
                try:
                    ready, _, _ = select.select([src], [], [], _POLL)
                except (OSError, ValueError):
                    break
                mode = p._mode
                if not ready:
                    continue
                data = src.recv(_BUF)
                if not data:
                    # orderly EOF: pass it on (half close) and stop this direction
                    if dst is not None and p._mode not in ("blackhole",):
                        try:
                            dst.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
                    break
                mode = p._mode
                if mode == "blackhole" or dst is None:
                    continue  # read and drop
                if upstream_to_client:
                    if self.awaiting_response and mode == "slow":
                        self._sleep_slow()
                        if self.closed:
                            break
                        if p._mode == "blackhole":
                            continue
                    if self.awaiting_response:
                        data = p._fix_range_status(data)
                    self.awaiting_response = False
                else:
                    self.awaiting_response = True
                allowed = self._spend(len(data))
                if allowed:
                    dst.sendall(data[:allowed])
                    if upstream_to_client:
                        p.bytes_down += allowed
                    else:
                        p.bytes_up += allowed
                if allowed < len(data):
                    self.abort()
                    break
        except OSError:
            self.abort()
            return
        # one direction ended cleanly; the other pump ends the connection when it sees EOF

    def _sleep_slow(self):
        deadline = time.monotonic() + self.proxy._slow_seconds
        while not self.closed and self.proxy._mode == "slow":
            left = deadline - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(left, _POLL))


class FaultProxy:
    """TCP proxy 127.0.0.1:<port> → upstream, with switchable faults (see module docstring)."""

    def __init__(self, upstream_host: str, upstream_port: int, name: str = "proxy", port: int = 0):
        self.name = name
        self.upstream = (upstream_host, upstream_port)
        self.host = "127.0.0.1"
        self._lock = threading.Lock()
        self._mode = "pass"
        self._slow_seconds = 0.0
        self._kill_budget: int | None = None
        self._epoch = 0
        self._conns: set[_Conn] = set()
        self._listener: socket.socket | None = None
        self._stop = threading.Event()
        self.connections = 0
        self.bytes_up = 0  # client → upstream
        self.bytes_down = 0  # upstream → client
        self.resets = 0
        self.answered_500 = 0
        self.ranges_fixed = 0
        self._bind(port)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, name=f"faultproxy-{name}", daemon=True)
        self._thread.start()

    # --- public control ------------------------------------------------------------------

    @property
    def mode(self) -> str:
        return self._mode if self._mode != "slow" else f"slow({self._slow_seconds}s)"

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def pass_(self):
        self._set("pass")

    def refuse(self):
        self._set("refuse")

    def blackhole(self):
        self._set("blackhole")

    def error500(self):
        self._set("error500")

    def slow(self, seconds: float):
        self._slow_seconds = float(seconds)
        self._set("slow")

    def kill_after(self, n_bytes: int):
        with self._lock:
            self._kill_budget = int(n_bytes)
        self._set("kill_after")

    def close(self):
        self._stop.set()
        self._set("refuse")
        self._thread.join(5)

    def stats(self) -> dict:
        return dict(
            mode=self.mode,
            connections=self.connections,
            bytes_up=self.bytes_up,
            bytes_down=self.bytes_down,
            resets=self.resets,
            answered_500=self.answered_500,
            ranges_fixed=self.ranges_fixed,
        )

    def __repr__(self):
        return f"FaultProxy({self.name} :{self.port} -> {self.upstream[1]}, {self.mode})"

    # --- internals -------------------------------------------------------------------------

    def _set(self, mode: str):
        with self._lock:
            leaving_blackhole = self._mode == "blackhole" and mode != "blackhole"
            self._mode = mode
            self._epoch += 1
            if mode != "kill_after":
                self._kill_budget = None
            conns = list(self._conns)
            if mode == "refuse":
                if self._listener is not None:
                    _close(self._listener)
                    self._listener = None
            elif self._listener is None and not self._stop.is_set():
                self._bind(self.port)
        # refuse/error500 end what is in flight; leaving blackhole too, since bytes were dropped
        # from those streams and they can't carry valid HTTP any more
        if mode in ("refuse", "error500") or leaving_blackhole:
            for c in conns:
                c.abort()

    def _bind(self, port: int):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        deadline = time.monotonic() + 5
        while True:
            try:
                s.bind((self.host, port))
                break
            except OSError:
                if time.monotonic() > deadline:
                    _close(s)
                    raise
                time.sleep(0.05)
        s.listen(128)
        s.settimeout(_POLL)
        self._listener = s

    def _accept_loop(self):
        while not self._stop.is_set():
            lst = self._listener
            if lst is None:
                time.sleep(_POLL)
                continue
            try:
                client, _ = lst.accept()
            except socket.timeout:
                continue
            except OSError:
                time.sleep(_POLL)  # the listener was closed under us (refuse)
                continue
            client.settimeout(None)
            self.connections += 1
            mode = self._mode
            if mode == "refuse":  # raced with a switch
                _reset(client)
                continue
            threading.Thread(target=self._serve, args=(client, mode), daemon=True).start()

    def _serve(self, client: socket.socket, mode: str):
        if mode == "error500":
            self._answer_500(client)
            return
        upstream = None
        if mode != "blackhole":
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                return
        conn = _Conn(self, client, upstream)
        with self._lock:
            self._conns.add(conn)
        try:
            if upstream is None:
                conn.pump(client, None, upstream_to_client=False)
            else:
                t = threading.Thread(target=conn.pump, args=(upstream, client, True), daemon=True)
                t.start()
                conn.pump(client, upstream, upstream_to_client=False)
                t.join()
        finally:
            conn.finish()
            with self._lock:
                self._conns.discard(conn)

    def _fix_range_status(self, data: bytes) -> bytes:
        """`200 OK` with a Content-Range header → `206 Partial Content` (see module docstring).
        Only when the whole header block is in `data` (it is: headers come first and small)."""
        ok = b"HTTP/1.1 200 OK\r\n"
        if not data.startswith(ok):
            return data
        end = data.find(b"\r\n\r\n")
        if end < 0 or b"\r\ncontent-range:" not in data[: end + 2].lower():
            return data
        self.ranges_fixed += 1
        return b"HTTP/1.1 206 Partial Content\r\n" + data[len(ok) :]

    def _answer_500(self, client: socket.socket):
        """Reads requests and answers each with 500 InternalError, then closes."""
        client.settimeout(5)
        buf = b""
        try:
            while b"\r\n\r\n" not in buf:
                d = client.recv(65536)
                if not d:
                    return
                buf += d
                if len(buf) > 1 << 20:
                    break
            head = buf.split(b"\r\n\r\n", 1)[0].decode("latin-1")
            method = head.split(" ", 1)[0]
            rid = uuid.uuid4().hex[:16].upper()
            body = b"" if method == "HEAD" else ERROR_500_BODY.format(rid=rid).encode()
            resp = (
                "HTTP/1.1 500 Internal Server Error\r\n"
                "Content-Type: application/xml\r\n"
                f"Content-Length: {len(ERROR_500_BODY.format(rid=rid).encode())}\r\n"
                f"x-amz-request-id: {rid}\r\n"
                "Connection: close\r\n\r\n"
            ).encode() + body
            client.sendall(resp)
            self.answered_500 += 1
            try:
                client.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            # drain what the client still sends (a request body) so it reads our answer
            # instead of a reset; give up after a few seconds
            deadline = time.monotonic() + 5
            client.settimeout(0.5)
            while time.monotonic() < deadline:
                try:
                    if not client.recv(_BUF):
                        break
                except socket.timeout:
                    continue
                except OSError:
                    break
        except OSError:
            pass
        finally:
            _close(client)
