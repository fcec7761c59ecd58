"""Analyse many images and videos on a Dask cluster: python3 -m mien.dask --help.

Every input file is one task: an image gives the object `mien image --json` prints for
it, a video (by extension) what `mien video --json` gives. Results stream to a JSON Lines
file as they complete, one record per input, flushed per record:

    {"file": "a.jpg", "width": .., "height": .., "faces": [...], "status": "ok"}
    {"file": "b.mp4", "kind": "video", "width": .., "fps": .., "timeline": [...], "status": "ok"}
    {"file": "c.jpg", "status": "error", "error": "c.jpg: cannot decode image: ..."}

A rerun with the same --out skips the inputs that already have an "ok" record (a
truncated last line, from a run that was killed, is dropped) and appends the others: for
a file with several records, the last one counts.

Each worker process loads one Pipeline, on its first task, and keeps it (a per-process
cache shared by the worker's threads: Pipeline is thread-safe and releases the GIL).
Workers must see the input files under the same paths (a shared file system; the tool
sends absolute paths) and import this package (PYTHONPATH=<prefix>/lib/python3.11/
site-packages on the workers).
"""

import argparse
import json
import os
import sys
import threading
import time

# As `mien image` (tools/cli/image_command.hpp), which also skips hidden files and folders.
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".tga", ".gif", ".pnm", ".ppm", ".pgm",
                    ".psd"}
VIDEO_EXTENSIONS = {".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv",
                    ".flv", ".ts", ".3gp"}

# ---- worker side ----------------------------------------------------------------------

_pipelines = {}
_pipelines_lock = threading.Lock()


def _pipeline(options):
    """This process's Pipeline for these options, loaded once."""
    key = (bool(options.get("fast", False)),)
    with _pipelines_lock:
        p = _pipelines.get(key)
        if p is None:
            import mien

            p = mien.Pipeline(fast=key[0], threads=1)
            _pipelines[key] = p
        return p


def analyze_file(file, path, kind, options):
    """One input's record. `file` is the name written out, `path` the one opened."""
    try:
        p = _pipeline(options)
        if kind == "video":
            v = p.analyze_video(path, fps=options.get("fps"), threads=1)
            record = {"file": file, "kind": "video"}
            record.update((k, v[k]) for k in v if k != "file")
            record["status"] = "ok"
            return record
        # The keys in the order of `mien image --jsonl` (status last), so the two tools'
        # lines are the same text, not only the same objects.
        record = p.image_record(path, file=file)
        record["status"] = "ok"
        return record
    except Exception as e:  # mien.Error, OSError...: recorded, not fatal
        # mien names the path it opened (absolute): name the input as given, as the CLI does.
        message = str(e).replace(path, file) if path != file else str(e)
        return {"file": file, "status": "error", "error": message}


def worker_info():
    """Checks that a worker can run mien (sent with client.run)."""
    import mien

    return {"pid": os.getpid(), "mien": os.path.dirname(mien.__file__)}


# ---- inputs and results ---------------------------------------------------------------


def kind_of(path):
    ext = os.path.splitext(path)[1].lower()
    return "video" if ext in VIDEO_EXTENSIONS else "image"


def expand_inputs(inputs, lists=()):
    """Files as given, folders walked recursively (images and videos by extension, sorted),
    list files (@FILE or --list FILE: one path per line, # comments) read. Duplicates are
    dropped. Raises ValueError for a missing input."""
    out, seen = [], set()

    def add(path):
        if path not in seen:
            seen.add(path)
            out.append(path)

    def read_list(name):
        try:
            with open(name, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError as e:
            raise ValueError(f"{name}: cannot read the list: {e.strerror}")
        base = os.path.dirname(name)
        for line in lines:
            line = line.strip()
            if line and not line.startswith("#"):
                near = os.path.isabs(line) or os.path.exists(line)
                expand(line if near else os.path.join(base, line))

    def expand(item):
        if item.startswith("@"):
            read_list(item[1:])
        elif os.path.isdir(item):
            found = []
            for root, dirs, files in os.walk(item):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in files:
                    if name.startswith("."):
                        continue
                    ext = os.path.splitext(name)[1].lower()
                    if ext in IMAGE_EXTENSIONS or ext in VIDEO_EXTENSIONS:
                        found.append(os.path.join(root, name))
            for f in sorted(found):
                add(f)
        elif os.path.isfile(item):
            add(item)
        else:
            raise ValueError(f"{item}: no such file or folder")

    for name in lists:
        read_list(name)
    for item in inputs:
        expand(item)
    return out


def read_done(out_path):
    """The files with an "ok" record in out_path. A last line cut short (a killed run) is
    removed from the file, so that appended records start on a line of their own."""
    done = set()
    if not os.path.exists(out_path):
        return done
    with open(out_path, "rb") as f:
        data = f.read()
    keep = len(data)
    lines = data.split(b"\n")
    if data and not data.endswith(b"\n"):
        try:
            json.loads(lines[-1])
        except ValueError:
            keep = len(data) - len(lines[-1])
            lines = lines[:-1]
    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("status") == "ok" and "file" in record:
            done.add(record["file"])
    if keep < len(data):
        with open(out_path, "r+b") as f:
            f.truncate(keep)
    elif data and not data.endswith(b"\n"):
        with open(out_path, "ab") as f:
            f.write(b"\n")
    return done


def record_line(record):
    """One JSONL line, compact like the CLI's JSON."""
    return json.dumps(record, separators=(",", ":"), ensure_ascii=True) + "\n"


class Progress:
    def __init__(self, total, stream=sys.stderr, quiet=False):
        self.total, self.stream, self.quiet = total, stream, quiet
        self.done = self.errors = 0
        self.start = time.monotonic()
        self.last = 0.0

    def add(self, record):
        self.done += 1
        if record.get("status") != "ok":
            self.errors += 1
            if not self.quiet:
                print(f"mien.dask: error: {record.get('error')}", file=self.stream)
        now = time.monotonic()
        if now - self.last >= 1.0 or self.done == self.total:
            self.last = now
            self.report(now)

    def report(self, now=None):
        if self.quiet:
            return
        secs = (now or time.monotonic()) - self.start
        rate = self.done / secs if secs > 0 else 0.0
        print(f"mien.dask: {self.done}/{self.total} done, {self.errors} error(s), "
              f"{secs:.1f} s, {rate:.2f} files/s", file=self.stream, flush=True)


def run(files, out_path, client=None, options=None, on_record=None, quiet=False):
    """Analyses `files` (minus those already ok in out_path) on `client` (None: in this
    process) and appends a record per file to out_path. Returns (records written, errors).
    on_record(record, count) is called after each record is written (tests use it)."""
    options = dict(options or {})
    done = read_done(out_path)
    todo = [f for f in files if f not in done]
    if not quiet and done:
        print(f"mien.dask: {len(files) - len(todo)} of {len(files)} input(s) already done "
              f"in {out_path}", file=sys.stderr)
    progress = Progress(len(todo), quiet=quiet)
    if not todo:
        if not quiet:
            print("mien.dask: nothing to do", file=sys.stderr)
        return 0, 0
    with open(out_path, "a", encoding="ascii") as out:
        def write(record):
            out.write(record_line(record))
            out.flush()
            progress.add(record)
            if on_record:
                on_record(record, progress.done)

        if client is None:
            for f in todo:
                write(analyze_file(f, os.path.abspath(f), kind_of(f), options))
        else:
            from distributed import as_completed

            # Videos first: the longest tasks should not start last.
            order = sorted(todo, key=lambda f: kind_of(f) != "video")
            futures = client.map(analyze_file, order, [os.path.abspath(f) for f in order],
                                 [kind_of(f) for f in order], options=options, pure=False)
            names = {fut.key: f for fut, f in zip(futures, order)}
            for fut in as_completed(futures):
                try:
                    record = fut.result()
                except Exception as e:  # e.g. KilledWorker: the task killed its workers
                    record = {"file": names[fut.key], "status": "error",
                              "error": f"{type(e).__name__}: {e}"}
                write(record)
                fut.release()
    return progress.done, progress.errors


# ---- command line ---------------------------------------------------------------------


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="python3 -m mien.dask",
        description="Analyse images and videos with mien on a Dask cluster (or local worker "
                    "processes); one JSON record per input, streamed to --out as tasks "
                    "complete. A rerun skips the inputs already recorded with status ok.",
        epilog="Inputs: files; folders (recursive: images .jpg .jpeg .png .bmp .tga .gif "
               ".pnm .ppm .pgm .psd, hidden ones skipped; videos .mp4 .mkv .avi .mov .webm "
               ".m4v .mpg .mpeg .wmv .flv .ts .3gp); @FILE or --list FILE: a text file with "
               "one path per line (relative paths: to the current folder, else to the "
               "list's folder). Files given by name with another extension are read as "
               "images. Exit status: 0, 1 if an input failed, 2 for bad usage. A real cluster: "
               "start `dask-scheduler` on one machine and `dask-worker tcp://HOST:8786 "
               "--nthreads 1 --nworkers K` (with PYTHONPATH to this package) on the others, "
               "then --scheduler tcp://HOST:8786; the workers must see the inputs under the "
               "same absolute paths.")
    ap.add_argument("inputs", nargs="*", metavar="INPUT", help="file, folder or @LIST")
    ap.add_argument("--list", action="append", default=[], metavar="FILE",
                    help="a file with one input path per line (repeatable)")
    ap.add_argument("--out", required=True, metavar="FILE.jsonl", help="results (appended)")
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="a running Dask scheduler")
    where.add_argument("--local-workers", type=int, metavar="N",
                       help="start N worker processes on this machine (default: one per "
                            "core); 0: no Dask, analyse in this process")
    ap.add_argument("--threads-per-worker", type=int, default=1, metavar="T",
                    help="tasks run at once per local worker process (default 1)")
    ap.add_argument("--fps", type=float, metavar="F",
                    help="videos: analyse about F frames per second (default: every frame)")
    ap.add_argument("--fast", action="store_true",
                    help="the single built-in emotion model (about half the work per face)")
    ap.add_argument("--timeout", type=float, default=30.0, metavar="S",
                    help="seconds to wait for the scheduler and its first worker (default 30)")
    ap.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = ap.parse_args(argv)
    if args.local_workers is not None and args.local_workers < 0:
        ap.error("--local-workers must be >= 0")
    if args.threads_per_worker < 1:
        ap.error("--threads-per-worker must be >= 1")
    if args.fps is not None and not 0.01 <= args.fps <= 1000:
        ap.error("--fps must be 0.01..1000")
    if not args.inputs and not args.list:
        ap.error("no inputs: give files, folders, @LIST or --list FILE")
    return args


def connect(args):
    """(client, cluster or None). Raises RuntimeError with a clear message."""
    import logging

    from distributed import Client, LocalCluster

    if args.scheduler:
        try:
            client = Client(args.scheduler, timeout=f"{args.timeout}s")
        except (OSError, TimeoutError) as e:
            raise RuntimeError(f"cannot reach the Dask scheduler at {args.scheduler} within "
                               f"{args.timeout:g} s: {e}") from None
        cluster = None
    else:
        n = args.local_workers or os.cpu_count() or 1
        cluster = LocalCluster(n_workers=n, threads_per_worker=args.threads_per_worker,
                               processes=True, host="127.0.0.1",
                               dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
        client = Client(cluster)
    try:
        client.wait_for_workers(1, timeout=args.timeout)
    except (TimeoutError, OSError):
        client.close()
        if cluster is not None:
            cluster.close()
        raise RuntimeError(f"no Dask worker joined within {args.timeout:g} s") from None
    try:
        client.run(worker_info)
    except Exception as e:
        client.close()
        if cluster is not None:
            cluster.close()
        raise RuntimeError("the Dask workers cannot import mien (start them with PYTHONPATH "
                           f"pointing at the installed package): {type(e).__name__}: {e}") from None
    return client, cluster


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        files = expand_inputs(args.inputs, args.list)
    except ValueError as e:
        print(f"mien.dask: error: {e}", file=sys.stderr)
        return 2
    if not files:
        print("mien.dask: error: no images or videos in the inputs", file=sys.stderr)
        return 2
    options = {"fast": args.fast, "fps": args.fps}
    try:
        done = read_done(args.out)
        open(args.out, "a").close()  # writable, before any work
    except OSError as e:
        print(f"mien.dask: error: {args.out}: cannot write the results: {e.strerror}",
              file=sys.stderr)
        return 1
    if all(f in done for f in files):  # no cluster to start
        if not args.quiet:
            print(f"mien.dask: all {len(files)} input(s) already done in {args.out}: nothing "
                  "to do", file=sys.stderr)
        return 0
    client = cluster = None
    if args.scheduler or args.local_workers != 0:
        try:
            client, cluster = connect(args)
        except RuntimeError as e:
            print(f"mien.dask: error: {e}", file=sys.stderr)
            return 1
        if not args.quiet:
            workers = len(client.scheduler_info()["workers"])
            print(f"mien.dask: {len(files)} input(s) on {workers} worker(s) "
                  f"({client.scheduler.address})", file=sys.stderr)
    try:
        _, errors = run(files, args.out, client, options, quiet=args.quiet)
    except KeyboardInterrupt:
        print("mien.dask: interrupted (rerun to resume)", file=sys.stderr)
        return 130
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    return 1 if errors else 0


if __name__ == "__main__":
    # Run as `python3 -m mien.dask`: use the importable module's functions, so that tasks
    # are pickled by reference (mien.dask.analyze_file) and each worker's cache is its own.
    import mien.dask as _tool

    sys.exit(_tool.main())
