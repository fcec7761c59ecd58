"""What the command-line converters (keras_to_mien, onnx_to_mien) share: model metadata
flags (--name --task --labels --color --scale --offset ...) and test inputs (a deterministic
pseudo-image, or a real image decoded with ffmpeg), and the test.tolerance measure.
"""

import json
import shutil
import subprocess

import sys

import numpy as np

from . import numpy_runner
from .ir import ConvertError


def add_metadata_args(ap):
    g = ap.add_argument_group("model metadata (written to the .mien file)")
    g.add_argument("--name", help="model.name (default: the input file's stem)")
    g.add_argument("--task", help="model.task: face_detector, emotion, gender, ...")
    g.add_argument("--labels", help="model.labels, comma separated, in output order")
    g.add_argument("--color", choices=["rgb", "bgr", "gray"], help="input.color")
    g.add_argument("--scale", help="input.scale: one value or one per channel, comma "
                   "separated (x*scale + offset, x in 0..255)")
    g.add_argument("--offset", help="input.offset: one value or one per channel")
    g.add_argument("--resize", choices=["letterbox", "stretch"], help="input.resize")
    g.add_argument("--source", help="model.source (where the original model comes from)")
    g.add_argument("--license", help="model.license")
    g.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE",
                   help="any other metadata; VALUE is JSON when it parses (numbers, lists), "
                   "else a string; repeatable")


def add_test_args(ap):
    """--test-image, --tests, --tolerance: the test vectors written into the file."""
    ap.add_argument("--test-image", help="image (decoded with ffmpeg) for the first test "
                    "vector; the others are deterministic pseudo-images")
    ap.add_argument("--tests", type=int, default=2, help="number of test vectors (2)")
    ap.add_argument("--tolerance", type=float, default=1e-4, help="test.tolerance (1e-4)")


def _floats(text):
    return [float(v) for v in text.split(",") if v.strip()]


def metadata_from_args(args, default_name, input_hw=None):
    meta = {"model.name": args.name or default_name}
    if args.task:
        meta["model.task"] = args.task
    if args.labels:
        meta["model.labels"] = [s.strip() for s in args.labels.split(",")]
    if args.color:
        meta["input.color"] = args.color
    if args.scale:
        meta["input.scale"] = _floats(args.scale)
    if args.offset:
        meta["input.offset"] = _floats(args.offset)
    if args.resize:
        meta["input.resize"] = args.resize
    if args.source:
        meta["model.source"] = args.source
    if args.license:
        meta["model.license"] = args.license
    if input_hw is not None:
        h, w = input_hw
        if h > 0 and "input.height" not in meta:
            meta["input.height"] = int(h)
        if w > 0 and "input.width" not in meta:
            meta["input.width"] = int(w)
    for item in args.meta:
        if "=" not in item:
            raise SystemExit("--meta expects KEY=VALUE, got '%s'" % item)
        key, text = item.split("=", 1)
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        if isinstance(value, bool) or value is None:
            value = text
        meta[key.strip()] = value
    return meta


def check_metadata(meta, channels):
    for key in ("input.scale", "input.offset"):
        v = meta.get(key)
        if v is not None and len(v) not in (1, channels):
            raise SystemExit("%s has %d values for %d input channels" % (key, len(v), channels))
    if meta.get("input.color") == "gray" and channels != 1:
        raise SystemExit("--color gray but the model input has %d channels" % channels)
    if meta.get("input.color") in ("rgb", "bgr") and channels != 3:
        raise SystemExit("--color %s but the model input has %d channels"
                         % (meta["input.color"], channels))


# ---------------------------------------------------------------------------------------
# Test inputs


def pseudo_image(h, w, channels, seed=0):
    """A deterministic smooth random u8-range image [H,W,C] (float64 in 0..255): low-res
    noise upsampled bilinearly plus a little fine noise, so it has edges and gradients."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, size=(max(2, h // 8 + 2), max(2, w // 8 + 2), channels))
    ys = np.linspace(0, coarse.shape[0] - 1.001, h)
    xs = np.linspace(0, coarse.shape[1] - 1.001, w)
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    top = coarse[y0][:, x0] * (1 - fx) + coarse[y0][:, x0 + 1] * fx
    bot = coarse[y0 + 1][:, x0] * (1 - fx) + coarse[y0 + 1][:, x0 + 1] * fx
    img = top * (1 - fy) + bot * fy + rng.normal(0, 8, size=(h, w, channels))
    return np.clip(np.round(img), 0, 255)


def load_image(path, h, w):
    """RGB u8 image [H,W,3] (float64) stretched to w x h, decoded with ffmpeg."""
    if not shutil.which("ffmpeg"):
        raise SystemExit("--test-image needs ffmpeg to decode images")
    cmd = ["ffmpeg", "-v", "error", "-i", path, "-vf", "scale=%d:%d" % (w, h), "-frames:v",
           "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    raw = subprocess.run(cmd, check=True, stdout=subprocess.PIPE).stdout
    if len(raw) != h * w * 3:
        raise SystemExit("ffmpeg returned %d bytes for a %dx%d image" % (len(raw), w, h))
    return np.frombuffer(raw, np.uint8).reshape(h, w, 3).astype(np.float64)


def preprocess(rgb_or_any, meta, channels):
    """u8-range image -> the model's input values per input.color / scale / offset."""
    img = np.asarray(rgb_or_any, np.float64)
    color = meta.get("input.color")
    if img.shape[-1] == 3 and color == "gray":
        img = (0.2989 * img[..., 0] + 0.587 * img[..., 1] + 0.114 * img[..., 2])[..., None]
    elif img.shape[-1] == 3 and color == "bgr":
        img = img[..., ::-1]
    if img.shape[-1] != channels:
        if img.shape[-1] == 3 and channels == 1:
            img = img.mean(axis=-1, keepdims=True)
        else:
            img = np.repeat(img[..., :1], channels, axis=-1)
    scale = np.asarray(meta.get("input.scale", [1.0]), np.float64)
    offset = np.asarray(meta.get("input.offset", [0.0]), np.float64)
    return img * scale + offset


def test_inputs(meta, h, w, c, image=None, count=1):
    """NHWC float32 [1,H,W,C] test inputs: the given image first, then pseudo-images."""
    out = []
    if image:
        out.append(preprocess(load_image(image, h, w), meta, c))
    seed = 0
    while len(out) < count:
        out.append(preprocess(pseudo_image(h, w, 3 if c == 3 or meta.get("input.color") ==
                                           "gray" else c, seed), meta, c))
        seed += 1
    return [x[None].astype(np.float32) for x in out]


def compare(got, ref):
    """(max |got-ref|, max |got-ref| / max(1, |ref|)) -- the test.tolerance measure."""
    got = np.asarray(got, np.float64)
    ref = np.asarray(ref, np.float64)
    if got.size != ref.size:
        raise ConvertError("size mismatch: %s vs %s" % (got.shape, ref.shape))
    got = got.reshape(-1)
    ref = ref.reshape(-1)
    d = np.abs(got - ref)
    return float(d.max(initial=0.0)), float((d / np.maximum(1.0, np.abs(ref))).max(initial=0.0))


def check_written(path, input_name, xs, refs, outputs, tolerance, tool, reference, say):
    """Runs the written file with numpy_runner on each test input and compares it with the
    reference outputs; returns the exit status (1 when over tolerance or misshapen)."""
    worst = (0.0, 0.0)  # (max rel, max abs)
    for x, ref in zip(xs, refs):
        got = numpy_runner.run(path, {input_name: x})
        for k in outputs:
            if got[k].shape != ref[k].shape:
                print("%s: error: output %s has shape %s, reference %s"
                      % (tool, k, got[k].shape, ref[k].shape), file=sys.stderr)
                return 1
            a, rel = compare(got[k], ref[k])
            worst = max(worst, (rel, a))
    say("%s: numpy_runner vs %s reference: max abs %.3g, max rel %.3g"
        % (tool, reference, worst[1], worst[0]))
    if worst[0] > tolerance:
        print("%s: error: converted graph differs from the reference by %.3g "
              "(> tolerance %g)" % (tool, worst[0], tolerance), file=sys.stderr)
        return 1
    return 0
