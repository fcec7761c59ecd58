"""python3 -m mien.dask (python/mien/dask.py) on a LocalCluster of 2 worker processes on
127.0.0.1: records equal to the single-process run, a bad image recorded and not fatal, a
worker killed mid-run losing no input, resume. No timing assertions; generous timeouts.
Run through tests/python/run.py (ctest: python_dask)."""

import json
import logging
import os
import shutil
import signal
import subprocess
import sys

import pytest

import dask
from distributed import Client, LocalCluster

import mien.dask as tool

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(SOURCE, "tests", "data")


def read_records(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def by_file(records):
    out = {}
    for r in records:
        assert r["file"] not in out, f"two records for {r['file']}"
        out[r["file"]] = r
    return out


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """30 inputs: the 14 images of tests/data twice (two folders), a corrupt image, and a
    one-second video when ffmpeg is there (else a third copy of one image)."""
    root = tmp_path_factory.mktemp("inputs")
    images = []
    for sub in ("scenes", "faces", "blazeface"):
        d = os.path.join(DATA, sub)
        images += [os.path.join(d, f) for f in sorted(os.listdir(d))
                   if f.endswith((".jpg", ".png"))]
    assert len(images) >= 14
    for copy in ("a", "b"):
        os.makedirs(root / copy / "sub")
        for i, f in enumerate(images):
            dest = root / copy / ("sub" if i % 2 else "") / f"{i:02d}_{os.path.basename(f)}"
            shutil.copy(f, dest)
    (root / "a" / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    if shutil.which("ffmpeg"):
        subprocess.run(["ffmpeg", "-v", "error", "-loop", "1", "-i", images[0], "-t", "1",
                        "-r", "10", "-vf", "scale=320:-2", "-pix_fmt", "yuv420p",
                        str(root / "b" / "clip.mp4")], check=True)
    else:
        shutil.copy(images[0], root / "b" / "extra.jpg")
    files = tool.expand_inputs([str(root / "a"), str(root / "b")])
    assert len(files) == 2 * len(images) + 2
    return files


@pytest.fixture(scope="module")
def reference(inputs, tmp_path_factory):
    """The single-process run (no Dask)."""
    out = str(tmp_path_factory.mktemp("ref") / "ref.jsonl")
    written, errors = tool.run(inputs, out, client=None, options={"fps": 5}, quiet=True)
    assert written == len(inputs) and errors == 1
    return by_file(read_records(out))


@pytest.fixture(scope="module")
def client():
    # Generous timeouts: the machine may be busy (workers are processes that load mien).
    dask.config.set({"distributed.comm.timeouts.connect": "120s",
                     "distributed.comm.timeouts.tcp": "300s"})
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
    c = Client(cluster)
    c.wait_for_workers(2, timeout=300)
    yield c
    c.close()
    cluster.close()


def test_reference_records(reference, inputs):
    assert list(reference) == inputs or set(reference) == set(inputs)
    bad = [r for r in reference.values() if r["status"] != "ok"]
    assert len(bad) == 1 and bad[0]["file"].endswith("bad.jpg")
    assert bad[0] == {"file": bad[0]["file"], "status": "error",
                      "error": bad[0]["error"]}
    assert "cannot decode image" in bad[0]["error"]
    ok = [r for r in reference.values() if r["status"] == "ok" and "kind" not in r]
    assert sum(len(r["faces"]) for r in ok) > 0
    for r in ok:
        assert list(r) == ["file", "width", "height", "faces", "status"]
    # The same records, keys in the same order, as `mien image --jsonl` writes.
    cli = os.environ.get("MIEN_CLI") or os.path.join(os.environ.get("MIEN_BUILD_DIR", ""), "mien")
    if os.access(cli, os.X_OK):
        files = sorted(r["file"] for r in ok)[:3] + [bad[0]["file"]]
        out = subprocess.run([cli, "image", "--jsonl", "-"] + files, capture_output=True,
                             text=True)
        assert out.returncode == 1  # the corrupt image
        lines = [json.loads(line) for line in out.stdout.splitlines()]
        assert [list(r) for r in lines] == [list(reference[f]) for f in files]
        assert lines[:3] == [reference[f] for f in files[:3]]
        assert lines[3]["status"] == "error" and "cannot decode image" in lines[3]["error"]
    videos = [r for r in reference.values() if r.get("kind") == "video"]
    for v in videos:
        assert v["status"] == "ok" and v["timeline"] and v["frames_analyzed"] == 5


def test_matches_single_process(client, inputs, reference, tmp_path):
    out = str(tmp_path / "dask.jsonl")
    written, errors = tool.run(inputs, out, client, options={"fps": 5}, quiet=True)
    assert written == len(inputs) and errors == 1
    records = by_file(read_records(out))
    assert set(records) == set(inputs)
    for f in inputs:
        assert records[f] == reference[f], f
    # Each worker process loaded one Pipeline (per-process cache), whatever its task count.
    loaded = client.run(lambda: len(__import__("mien.dask").dask._pipelines))
    assert all(n <= 1 for n in loaded.values()) and sum(loaded.values()) >= 1


def test_killed_worker_loses_nothing(client, inputs, reference, tmp_path):
    client.wait_for_workers(2, timeout=300)
    pids = client.run(os.getpid)  # worker address -> pid
    address, victim = sorted(pids.items())[0]
    killed = []

    def on_record(record, count):
        if count == 3 and not killed:
            busy = len(client.processing().get(address, ()))
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)
            print(f"\nkilled worker {address} (pid {victim}) after {count} records, "
                  f"{busy} task(s) assigned to it")

    out = str(tmp_path / "killed.jsonl")
    written, errors = tool.run(inputs, out, client, options={"fps": 5}, on_record=on_record,
                               quiet=True)
    assert killed == [victim]
    assert written == len(inputs)
    records = read_records(out)
    assert len(records) == len(inputs)  # no duplicates
    records = by_file(records)
    assert set(records) == set(inputs)  # no input lost
    for f in inputs:
        assert records[f] == reference[f], f
    # The nanny restarted the worker: a new process.
    client.wait_for_workers(2, timeout=300)
    after = client.run(os.getpid)
    assert victim not in after.values()
    print(f"{len(records)} records for {len(inputs)} inputs, none lost or repeated, all equal "
          f"to the single-process run; workers now {sorted(after.values())}")


def test_resume(client, inputs, reference, tmp_path):
    out = tmp_path / "resume.jsonl"
    bad = [f for f in inputs if f.endswith("bad.jpg")]
    good = [f for f in inputs if f not in bad]
    done = good[:10]
    lines = [json.dumps(reference[f]) + "\n" for f in done + bad]
    cut = json.dumps(reference[good[10]])
    out.write_text("".join(lines) + cut[: len(cut) // 2])  # a run killed mid-write
    seen = []
    tool.run(inputs, str(out), client, options={"fps": 5},
             on_record=lambda r, n: seen.append(r["file"]), quiet=True)
    assert sorted(seen) == sorted(f for f in inputs if f not in done)  # errors are retried
    records = read_records(out)  # every line parses: the cut one was dropped
    assert len(records) == len(inputs) + len(bad)
    ok = by_file([r for r in records if r["status"] == "ok"])
    assert set(ok) == set(inputs) - set(bad)
    for f in ok:
        assert ok[f] == reference[f]
    # Only the failed input is left to retry.
    seen.clear()
    assert tool.run(inputs, str(out), client, options={"fps": 5}, on_record=lambda r, n:
                    seen.append(r["file"]), quiet=True) == (1, 1)
    assert seen == bad


def run_cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "mien.dask", *args], capture_output=True,
                          text=True, timeout=timeout)


def test_cli(inputs, reference, tmp_path):
    r = run_cli("--help")
    assert r.returncode == 0 and "--scheduler" in r.stdout and "--local-workers" in r.stdout
    r = run_cli("--out", str(tmp_path / "x.jsonl"))
    assert r.returncode == 2 and "no inputs" in r.stderr
    r = run_cli(str(tmp_path / "nothing-here"), "--out", str(tmp_path / "x.jsonl"))
    assert r.returncode == 2 and "no such file or folder" in r.stderr
    r = run_cli(inputs[0], "--out", str(tmp_path / "no" / "such" / "x.jsonl"))
    assert r.returncode == 1 and "cannot write the results" in r.stderr, r.stderr
    # Nobody listens on port 9 of loopback: a clear error within the timeout, not a hang.
    r = run_cli(inputs[0], "--out", str(tmp_path / "x.jsonl"), "--scheduler",
                "tcp://127.0.0.1:9", "--timeout", "3", timeout=120)
    assert r.returncode == 1 and "cannot reach the Dask scheduler" in r.stderr, r.stderr
    # A scheduler without workers: a clear error within the timeout too.
    empty = LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address="127.0.0.1:0",
                         silence_logs=logging.ERROR)
    try:
        r = run_cli(inputs[0], "--out", str(tmp_path / "x.jsonl"), "--scheduler",
                    empty.scheduler_address, "--timeout", "3", timeout=120)
    finally:
        empty.close()
    assert r.returncode == 1 and "no Dask worker joined within 3 s" in r.stderr, r.stderr
    # A real run with its own local cluster, inputs from a list file.
    listing = tmp_path / "list.txt"
    images = [f for f in inputs if f.endswith(".jpg") and "bad" not in f][:3]
    listing.write_text("# three images\n" + "\n".join(images) + "\n")
    out = tmp_path / "cli.jsonl"
    r = run_cli("@" + str(listing), "--out", str(out), "--local-workers", "1")
    assert r.returncode == 0, r.stderr
    assert "3/3 done" in r.stderr
    records = by_file(read_records(out))
    assert set(records) == set(images)
    for f in images:
        assert records[f] == reference[f]
    r = run_cli("--list", str(listing), "--out", str(out), "--local-workers", "0")
    assert r.returncode == 0 and "nothing to do" in r.stderr
