"""Starting `mien serve` on a free loopback port and talking to it, for the serve tests.

Only the Python standard library: the server is started with --port 0 and the port is
read from the line it prints ("listening on http://127.0.0.1:NNNNN"), so parallel test
runs never collide. Timeouts are only hang guards, never assertions.
"""
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading

HANG_GUARD = 120  # seconds; only to fail instead of hanging forever


def skip(message):
    print("SKIP: " + message)
    sys.exit(77)


def mien_cli():
    cli = os.environ.get("MIEN_CLI") or (sys.argv[1] if len(sys.argv) > 1 else "")
    if not cli or not os.path.exists(cli):
        skip("no mien binary (set MIEN_CLI)")
    return cli


class Server:
    def __init__(self, cli, *options):
        self.proc = subprocess.Popen([cli, "serve", "--port", "0", *options],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"listening on http://([0-9.]+):(\d+)", line)
        if not m:
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            self.proc.kill()
            raise RuntimeError("mien serve did not start: %r %s" % (line, err))
        self.host, self.port = m.group(1), int(m.group(2))
        self.url = "http://%s:%d" % (self.host, self.port)
        # Drain the request log so the server never blocks on a full pipe.
        self.log = []
        self._drain = threading.Thread(target=self._read_log, daemon=True)
        self._drain.start()

    def _read_log(self):
        for line in self.proc.stderr:
            self.log.append(line)

    def request(self, method, path, body=None, headers=None, chunked=False):
        """Returns (status, headers dict with lower-case names, body bytes)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=HANG_GUARD)
        try:
            conn.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def json(self, method, path, body=None, headers=None):
        status, h, data = self.request(method, path, body, headers)
        return status, h, json.loads(data.decode("utf-8"))

    def stop(self, sig=signal.SIGTERM):
        """Sends `sig` (None: none, the server was already signalled) and waits for the exit."""
        if sig is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=HANG_GUARD)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self._drain.join(timeout=5)
        return rc


def multipart(field, filename, data, content_type="application/octet-stream"):
    boundary = "mienboundary7d3f"
    body = (("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
             "Content-Type: %s\r\n\r\n") % (boundary, field, filename, content_type)).encode()
    body += data + ("\r\n--%s--\r\n" % boundary).encode()
    return body, {"Content-Type": "multipart/form-data; boundary=" + boundary}
