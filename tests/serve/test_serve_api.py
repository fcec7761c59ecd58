#!/usr/bin/python3
"""`mien serve` API end to end (ctest `serve_api`): every endpoint, bad and oversize
bodies, the in-flight limit, concurrent requests equal to `mien image --json`, a video
equal to `mien video --json`, and a clean SIGTERM with a request in flight.

usage: test_serve_api.py MIEN_BINARY   (exit 77 = skipped)
"""
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import zlib
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import HANG_GUARD, Server, mien_cli, multipart  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SCENES = os.path.join(ROOT, "tests", "data", "scenes")
PHOTO = os.path.join(SCENES, "faceapi_sample1.jpg")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def without_timing(j):
    j = dict(j)
    j.pop("timing_ms", None)
    j.pop("file", None)
    return j


def cli_json(cli, path, *options):
    out = subprocess.run([cli, "image", "--json", *options, path], capture_output=True,
                         text=True, timeout=HANG_GUARD, check=True).stdout
    return json.loads(out)


def png(width, height, rows=b""):
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) +
            chunk(b"IEND", b""))


def expect_error(srv, status, method, path, body=None, headers=None, what="", chunked=False):
    code, h, data = srv.request(method, path, body, headers, chunked)
    try:
        j = json.loads(data.decode("utf-8"))
        ok_json = isinstance(j.get("error"), str) and j.get("status") == code
    except ValueError:
        j, ok_json = data[:80], False
    check(code == status and ok_json and h.get("content-type", "").startswith("application/json"),
          "%s -> %d JSON error (got %d: %s)" % (what or method + " " + path, status, code, j))
    return j


def raw_admitted_request(srv, declared, path="/v1/analyze"):
    """Opens a POST to `path` that declares `declared` body bytes and sends none yet."""
    s = socket.create_connection((srv.host, srv.port), timeout=HANG_GUARD)
    s.sendall(("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream"
               "\r\nContent-Length: %d\r\n\r\n" % (path, declared)).encode())
    return s


def wait_in_flight(srv, n, key="in_flight"):
    # Polls the server's own count (no sleeping on a clock): the request is admitted once
    # its headers are parsed.
    for _ in range(100000):
        if srv.json("GET", "/healthz")[2][key] == n:
            return True
    return False


def read_response(s):
    data = b""
    while True:
        got = s.recv(65536)
        if not got:
            return data
        data += got
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep:
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    if len(rest) >= int(line.split(b":")[1]):
                        return data


def test_endpoints(cli, srv):
    code, h, page = srv.request("GET", "/")
    check(code == 200 and h["content-type"].startswith("text/html") and b"photo-input" in page,
          "GET / serves the page")
    code, _, j = srv.json("GET", "/healthz")
    check(code == 200 and j["status"] == "ok", "GET /healthz")
    code, _, j = srv.json("GET", "/v1/models")
    roles = [m["role"] for m in j["models"]]
    check(code == 200 and roles[0] == "detector" and "emotion" in roles and "gender" in roles,
          "GET /v1/models lists detector, emotion and gender models: %s" % roles)
    check(len(j["emotion_labels"]) >= 7 and all("metadata" in m for m in j["models"]),
          "GET /v1/models has labels and metadata")

    expected = cli_json(cli, PHOTO)
    photo = read(PHOTO)
    code, _, j = srv.json("POST", "/v1/analyze", photo, {"Content-Type": "image/jpeg"})
    check(code == 200 and without_timing(j) == without_timing(expected),
          "POST /v1/analyze (raw bytes) equals mien image --json (%d faces)" % len(expected["faces"]))
    check(all(k in j["timing_ms"] for k in ("decode", "analyze", "total")), "timing_ms present")
    body, headers = multipart("image", "sample1.jpg", photo, "image/jpeg")
    code, _, j = srv.json("POST", "/v1/analyze", body, headers)
    check(code == 200 and j["file"] == "sample1.jpg" and
          without_timing(j) == without_timing(expected), "POST /v1/analyze (multipart) equals CLI")

    code, h, img = srv.request("POST", "/v1/analyze?draw=1", photo, {"Content-Type": "image/jpeg"})
    check(code == 200 and h["content-type"] == "image/jpeg" and img[:2] == b"\xff\xd8" and
          h.get("x-mien-faces") == str(len(expected["faces"])), "?draw=1 returns an annotated JPEG")
    with tempfile.TemporaryDirectory() as d:
        drawn = os.path.join(d, "drawn.jpg")
        subprocess.run([cli, "image", "--draw", drawn, PHOTO], capture_output=True, check=True,
                       timeout=HANG_GUARD)
        check(img == read(drawn), "?draw=1 is byte-identical to mien image --draw")
    code, h, img = srv.request("POST", "/v1/analyze?draw=1&format=png", photo)
    check(code == 200 and h["content-type"] == "image/png" and img[:4] == b"\x89PNG",
          "?draw=1&format=png returns a PNG")

    # Webcam frames: a session keeps track ids and smooths labels.
    astro = read(os.path.join(SCENES, "astronaut.jpg"))
    for i in range(3):
        code, _, j = srv.json("POST", "/v1/analyze?track=test-session", astro)
    f = j["faces"][0] if j.get("faces") else {}
    check(code == 200 and f.get("track") == 1 and "smoothed" in f and
          set(f["smoothed"]["scores"]) == set(f["emotion"]["scores"]),
          "?track=ID adds track id 1 and smoothed scores on the third frame")


def test_concurrency(cli, srv):
    expected = {}
    photos = ["faceapi_sample1.jpg", "faceapi_sample5.jpg", "faceapi_sample6.jpg", "astronaut.jpg"]
    for p in photos:
        expected[p] = without_timing(cli_json(cli, os.path.join(SCENES, p)))
    jobs = [photos[i % len(photos)] for i in range(16)]

    def post(name):
        code, _, j = srv.json("POST", "/v1/analyze", read(os.path.join(SCENES, name)),
                              {"Content-Type": "image/jpeg"})
        return name, code, without_timing(j)

    with ThreadPoolExecutor(max_workers=8) as ex:
        results = list(ex.map(post, jobs))
    bad = [(n, c) for n, c, j in results if c != 200 or j != expected[n]]
    check(not bad, "16 requests on 8 connections at once all equal mien image --json: %s" % bad)


def test_bad_input(srv, max_body):
    photo = read(PHOTO)
    expect_error(srv, 400, "POST", "/v1/analyze", b"", {"Content-Type": "image/jpeg"},
                 "empty body")
    expect_error(srv, 400, "POST", "/v1/analyze", os.urandom(5000), {"Content-Type": "image/jpeg"},
                 "garbage bytes")
    expect_error(srv, 400, "POST", "/v1/analyze", photo[:len(photo) // 2],
                 {"Content-Type": "image/jpeg"}, "truncated JPEG")
    j = expect_error(srv, 400, "POST", "/v1/analyze", png(60000, 60000),
                     {"Content-Type": "image/png"}, "PNG header claiming 60000x60000")
    check("too large" in j.get("error", ""), "  ... says the image is too large")
    j = expect_error(srv, 400, "POST", "/v1/analyze", png(0, 0), {"Content-Type": "image/png"},
                     "PNG of 0x0 pixels")
    check("zero-sized" in j.get("error", ""), "  ... says zero-sized")
    expect_error(srv, 413, "POST", "/v1/analyze", photo * (max_body // len(photo) + 1),
                 {"Content-Type": "image/jpeg"}, "body over --max-body-mb")
    # Chunked upload without a Content-Length: the limit holds while reading.
    chunks = (photo for _ in range(max_body // len(photo) + 2))
    expect_error(srv, 413, "POST", "/v1/analyze", chunks, {"Content-Type": "image/jpeg"},
                 "chunked body over the limit", chunked=True)
    expect_error(srv, 415, "POST", "/v1/analyze", photo, {"Content-Type": "text/plain"},
                 "Content-Type text/plain")
    expect_error(srv, 415, "POST", "/v1/analyze", photo,
                 {"Content-Type": "application/x-www-form-urlencoded"},
                 "curl --data-binary's default form type")
    body, headers = multipart("note", "", b"hello", "text/plain")
    headers_nofile = {"Content-Type": headers["Content-Type"]}
    body = body.replace(b'; filename=""', b"")
    expect_error(srv, 400, "POST", "/v1/analyze", body, headers_nofile, "multipart without a file")
    expect_error(srv, 400, "POST", "/v1/analyze?track=../../etc", photo, {}, "bad session id")
    expect_error(srv, 400, "POST", "/v1/analyze?draw=1&format=gif", photo, {}, "bad draw format")
    expect_error(srv, 404, "GET", "/v1/nothing", what="unknown path")
    expect_error(srv, 404, "GET", "/../../etc/passwd", what="path traversal attempt")
    j = expect_error(srv, 405, "GET", "/v1/analyze", what="GET /v1/analyze")
    expect_error(srv, 405, "DELETE", "/v1/models", what="DELETE /v1/models")
    expect_error(srv, 403, "GET", "/healthz", headers={"Host": "evil.example:8080"},
                 what="foreign Host header (DNS rebinding)")
    j = expect_error(srv, 400, "POST", "/v1/video", b"\0" + os.urandom(4000),
                     {"Content-Type": "video/mp4"}, "video ffmpeg cannot open")
    msg = j.get("error", "") if isinstance(j, dict) else ""
    check("/mien-serve-" not in msg and " @ 0x" not in msg,
          "  ... without the temporary path or ffmpeg's addresses: %r" % msg)
    expect_error(srv, 415, "POST", "/v1/video", b"#EXTM3U\n#EXT-X-VERSION:3\nfile:///etc/passwd\n",
                 {"Content-Type": "video/mp4"}, "a playlist posing as a video")
    expect_error(srv, 400, "POST", "/v1/video?stream=1", b"\0" + os.urandom(4000),
                 {"Content-Type": "video/mp4"}, "unreadable video, streaming asked")
    expect_error(srv, 400, "POST", "/v1/video?fps=abc", photo, {}, "bad fps")
    code, _, j = srv.json("GET", "/healthz")
    check(code == 200 and j["in_flight"] == 0, "server healthy after the bad input")


def test_busy(cli):
    """More requests than --max-requests: 503 at once, deterministically (a request is held
    admitted by sending its body late)."""
    srv = Server(cli, "--threads", "1", "--max-requests", "1", "--quiet")
    try:
        photo = read(PHOTO)
        held = raw_admitted_request(srv, len(photo))
        check(wait_in_flight(srv, 1), "a slow upload is counted in flight")
        code, h, _ = srv.request("POST", "/v1/analyze", photo)
        check(code == 503 and h.get("retry-after") == "1", "a second request gets 503 + Retry-After")
        held.sendall(photo)
        resp = read_response(held)
        held.close()
        check(resp.startswith(b"HTTP/1.1 200"), "the held request still completes with 200")
        code, _, _ = srv.request("POST", "/v1/analyze", photo)
        check(code == 200, "after it, requests are admitted again")
        # Videos: --max-videos 1 (the default), the same way.
        junk = b"\0" + os.urandom(3000)
        held = raw_admitted_request(srv, len(junk), "/v1/video")
        check(wait_in_flight(srv, 1, "videos"), "a slow video upload is counted")
        code, h, _ = srv.request("POST", "/v1/video", junk)
        check(code == 503 and h.get("retry-after") == "5", "a second video gets 503 + Retry-After")
        held.sendall(junk)
        resp = read_response(held)
        held.close()
        check(resp.startswith(b"HTTP/1.1 400"), "the held video upload is answered (400: not a video)")
    finally:
        srv.stop()


def test_port_taken(cli, srv):
    """A second server on a port in use fails (no SO_REUSEPORT sharing of the port)."""
    r = subprocess.run([cli, "serve", "--port", str(srv.port), "--quiet"], capture_output=True,
                       text=True, timeout=HANG_GUARD)
    check(r.returncode == 1 and "cannot listen" in r.stderr,
          "a second mien serve on the same port exits 1: %r" % r.stderr.strip())


def test_shutdown(cli):
    """SIGTERM with a request in flight: it completes, then the server exits 0."""
    srv = Server(cli, "--threads", "1", "--quiet")
    photo = read(PHOTO)
    held = raw_admitted_request(srv, len(photo))
    check(wait_in_flight(srv, 1), "request in flight before SIGTERM")
    srv.proc.terminate()
    held.sendall(photo)
    resp = read_response(held)
    held.close()
    check(resp.startswith(b"HTTP/1.1 200") and b'"faces"' in resp,
          "the in-flight request completes after SIGTERM")
    rc = srv.stop(sig=None)
    check(rc == 0, "mien serve exits 0 after SIGTERM (got %s)" % rc)
    check(any("stopped by SIGTERM" in line for line in srv.log), "it says it stopped")


def test_video(cli, srv):
    if shutil.which("ffmpeg") is None:
        print("ffmpeg not installed: video endpoint tests skipped")
        return
    with tempfile.TemporaryDirectory() as d:
        clip = os.path.join(d, "clip.mp4")
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-loop", "1", "-framerate", "10", "-t", "2",
                        "-i", os.path.join(SCENES, "astronaut.jpg"), "-vf", "scale=320:-2",
                        "-c:v", "libx264", "-pix_fmt", "yuv420p", clip], check=True,
                       timeout=HANG_GUARD)
        out = os.path.join(d, "timeline.json")
        subprocess.run([cli, "video", "--quiet", "--threads", "2", "--json", out, clip],
                       capture_output=True, check=True, timeout=HANG_GUARD)
        with open(out) as f:
            expected = json.load(f)
        data = read(clip)
        code, _, j = srv.json("POST", "/v1/video", data, {"Content-Type": "video/mp4"})
        check(code == 200 and j["type"] == "result" and len(j["tracks"]) >= 1,
              "POST /v1/video returns tracks (%s)" % [t.get("emotion") for t in j.get("tracks", [])])
        check(j.get("timeline") == expected and len(expected) > 0,
              "its timeline equals mien video --json (%d entries)" % len(expected))
        body, headers = multipart("video", "clip.mp4", data, "video/mp4")
        code, h, raw = srv.request("POST", "/v1/video?stream=1", body, headers)
        events = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
        kinds = [e["type"] for e in events]
        check(code == 200 and h["content-type"] == "application/x-ndjson" and kinds[0] == "info" and
              kinds[-1] == "result" and events[-1]["timeline"] == expected,
              "?stream=1 sends info, progress and the same result as NDJSON: %s" % kinds[:3])


def main():
    cli = mien_cli()
    max_body_mb = 1
    srv = Server(cli, "--threads", "2", "--max-requests", "16", "--max-body-mb", str(max_body_mb))
    try:
        test_endpoints(cli, srv)
        test_concurrency(cli, srv)
        test_bad_input(srv, max_body_mb << 20)
        test_video(cli, srv)
        test_port_taken(cli, srv)
    finally:
        rc = srv.stop()
    check(rc == 0, "server stopped cleanly")
    test_busy(cli)
    test_shutdown(cli)
    if failures:
        print("%d check(s) failed" % len(failures))
        print("server log tail:\n" + "".join(srv.log[-20:]))
        return 1
    print("all serve API checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
