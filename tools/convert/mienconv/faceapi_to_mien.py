"""Convert face-api's FaceExpressionNet (weights manifest + .bin) into a .mien file.

    python3 -m mienconv.faceapi_to_mien MANIFEST_JSON OUT.mien [--meta key=value ...]
        [--meta-json FILE] [--test-input RGB112.npy ...] [--tolerance T] [--no-check]

face-api (npm @vladmandic/face-api, src/faceExpressionNet, src/faceFeatureExtractor) has no
graph in its files: the network is code. This converter rebuilds it from that code:

  input 112x112 RGB, normalised (x - [122.782, 117.001, 104.298]) / 255 (done by the caller
  per the metadata input.scale / input.offset, not in the graph)
  FaceFeatureExtractor = denseBlock4(dense0, first layer) -> dense1 -> dense2 -> dense3
    denseBlock4(x):  out1 = relu(conv0(x))            conv0: 3x3/2 conv + bias (dense0),
                                                      else separable 3x3/2 + bias
                     out2 = sep(out1)                  sep: depthwise 3x3 (same, no bias)
                     in3  = relu(out1 + out2)               -> pointwise 1x1 + bias
                     out3 = sep(in3)
                     in4  = relu(out1 + (out2 + out3))
                     out4 = sep(in4)
                     out  = relu(out1 + (out2 + (out3 + out4)))
  avgPool 7x7 stride 2 valid (7x7x256 -> 1x1x256), fc (dense 256 -> 7), softmax.
Labels in face-api's order: neutral, happy, sad, angry, fearful, disgusted, surprised.

Weights are uint8-quantised in the manifest (q * scale + min, as TF.js decodes them) and
stored as float32. --test-input files are RGB 0..255 [1,112,112,3]; their expected
outputs come from tools/reference/run_faceapi.mjs (face-api's own code on TF.js cpu) and
the stored test input is the normalised tensor, computed in float32 as face-api does.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from . import tfjs_to_mien, writer
from .tfjs_weights import load_weights
from .ir import ConvertError, Graph

MEAN_RGB = [122.782, 117.001, 104.298]
LABELS = ["neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"]
INPUT = "input"
OUTPUT = "probabilities"


def normalise(rgb):
    """face-api's FaceFeatureExtractor preprocessing in float32: (x - mean) / 255."""
    x = np.asarray(rgb, np.float32)
    return ((x - np.asarray(MEAN_RGB, np.float32)) / np.float32(255.0)).astype(np.float32)


def build(manifest_path):
    """Returns a mienfile.GraphBuilder with FaceExpressionNet (outputs set, no test
    vectors)."""
    with open(manifest_path) as f:
        manifest = json.load(f)
    w = load_weights(manifest_path, manifest)
    used = set()

    def get(name, shape=None):
        if name not in w:
            raise ConvertError(f"{manifest_path}: weight '{name}' is missing (is this a "
                               "FaceExpressionNet manifest?)")
        a = np.asarray(w[name], np.float32)
        if shape is not None and list(a.shape) != list(shape):
            raise ConvertError(f"{manifest_path}: weight '{name}' has shape {list(a.shape)}, "
                               f"expected {shape}")
        used.add(name)
        return a

    # The graph is written as face-api computes it, already fused (bias and relu in the
    # convs and adds), so no passes run on it.
    g = Graph()
    g.add_input(INPUT, 112, 112, 3)

    def sep(prefix, x, cin, cout, stride, relu):
        dw = get(f"{prefix}/depthwise_filter", [3, 3, cin, 1])[:, :, :, 0]
        pw = get(f"{prefix}/pointwise_filter", [1, 1, cin, cout])
        b = get(f"{prefix}/bias", [cout])
        d = g.add("depthwise_conv2d", f"{prefix}/depthwise", [x],
                       {"strides": [stride, stride], "padding": "same"}, {"weight": dw})
        attrs = {"padding": "valid"}
        if relu:
            attrs["activation"] = "relu"
        return g.add("conv2d", prefix, [d], attrs, {"weight": pw, "bias": b})

    def add(name, a, b, relu):
        return g.add("add", name, [a, b], {"activation": "relu"} if relu else {})

    def dense_block4(prefix, x, cin, cout, first):
        if first:
            f = get(f"{prefix}/conv0/filters", [3, 3, cin, cout])
            b = get(f"{prefix}/conv0/bias", [cout])
            out1 = g.add("conv2d", f"{prefix}/conv0", [x],
                              {"strides": [2, 2], "padding": "same", "activation": "relu"},
                              {"weight": f, "bias": b})
        else:
            out1 = sep(f"{prefix}/conv0", x, cin, cout, 2, True)
        out2 = sep(f"{prefix}/conv1", out1, cout, cout, 1, False)
        in3 = add(f"{prefix}/in3", out1, out2, True)
        out3 = sep(f"{prefix}/conv2", in3, cout, cout, 1, False)
        s23 = add(f"{prefix}/sum23", out2, out3, False)
        in4 = add(f"{prefix}/in4", out1, s23, True)
        out4 = sep(f"{prefix}/conv3", in4, cout, cout, 1, False)
        s34 = add(f"{prefix}/sum34", out3, out4, False)
        s234 = add(f"{prefix}/sum234", out2, s34, False)
        return add(f"{prefix}/out", out1, s234, True)

    x = INPUT
    for i, (cin, cout) in enumerate([(3, 32), (32, 64), (64, 128), (128, 256)]):
        x = dense_block4(f"dense{i}", x, cin, cout, i == 0)
    x = g.add("avg_pool", "avg_pool", [x],
                   {"kernel": [7, 7], "strides": [2, 2], "padding": "valid"})
    fc = g.add("dense", "fc", [x], {},
                    {"weight": get("fc/weights", [256, 7]), "bias": get("fc/bias", [7])})
    g.add("softmax", OUTPUT, [fc])
    g.outputs = [OUTPUT]
    unused = sorted(set(w) - used)
    if unused:
        raise ConvertError(f"{manifest_path}: weights not used by FaceExpressionNet: "
                           f"{unused}")
    return writer.to_builder(g)


def reference(manifest_path, rgb_npys, workdir):
    """Runs tools/reference/run_faceapi.mjs; returns [(rgb array, probabilities [N,7])]."""
    script = os.path.join(tfjs_to_mien.REPO, "tools", "reference", "run_faceapi.mjs")
    if not os.path.isfile(script):
        raise ConvertError(f"{script} is missing (needed to make test vectors)")
    out = []
    for k, f in enumerate(rgb_npys):
        prefix = os.path.join(workdir, f"faceapi{k}")
        r = subprocess.run(["node", script, "--model-dir", os.path.dirname(
            os.path.abspath(manifest_path)), f, prefix], capture_output=True, text=True)
        if r.returncode != 0:
            raise ConvertError(f"face-api reference run failed:\n{r.stderr.strip()}")
        out.append((np.load(f), np.load(prefix + ".probabilities.npy")))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description="face-api FaceExpressionNet -> .mien",
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__)
    ap.add_argument("manifest")
    ap.add_argument("out")
    tfjs_to_mien.add_output_args(ap, "RGB112.npy")
    a = ap.parse_args(argv)
    try:
        meta = tfjs_to_mien.parse_meta_args(a.meta, a.meta_json)
        g = build(a.manifest)
        with tempfile.TemporaryDirectory() as tmp:
            for rgb, probs in reference(a.manifest, a.test_input, tmp):
                rgb = rgb if rgb.ndim == 4 else rgb[None]
                if rgb.shape[1:] != (112, 112, 3):
                    raise ConvertError(f"test input must be [1,112,112,3] RGB 0..255, got "
                                       f"{list(rgb.shape)}")
                g.add_test_vector({INPUT: normalise(rgb)}, {OUTPUT: probs})
        g.save(a.out, meta, a.tolerance)
        print(f"wrote {a.out}: {len(g.nodes)} nodes, {len(g.tests)} test vector(s)")
        if g.tests and not a.no_check:
            tfjs_to_mien.check_file(a.out, a.tolerance)
        return 0
    except (ConvertError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
