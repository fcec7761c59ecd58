"""Convert face-api's FaceExpressionNet or AgeGenderNet (weights manifest + .bin) into a
.mien file.

    python3 -m mienconv.faceapi_to_mien MANIFEST_JSON OUT.mien [--net expression|age_gender]
        [--meta key=value ...] [--meta-json FILE] [--test-input RGB112.npy ...]
        [--tolerance T] [--no-check]

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

AgeGenderNet (src/ageGenderNet, src/xception/TinyXception.ts, numMainBlocks 2), same input:
  conv_in: 3x3/2 conv + bias, relu                                   112 -> 56, 32 ch
  reductionBlock(x, relu_in):  r = relu(x) if relu_in else x          (entry block 0: no relu)
                               out = sep0(r) -> relu -> sep1 -> maxPool 3x3/2 same
                               out = out + (1x1/2 conv + bias)(x)     (x, not r)
    entry_flow/reduction_block_0 (32 -> 64, 28x28), reduction_block_1 (64 -> 128, 14x14)
  mainBlock(x): sep0(relu(x)) -> relu -> sep1 -> relu -> sep2, + x    x2, 128 ch
  exit_flow/reduction_block (128 -> 256, 7x7), relu(exit_flow/separable_conv) (256 -> 512)
  avgPool 7x7 stride 2 valid -> 512; age = fc/age (512 -> 1, no activation: years);
  gender = softmax(fc/gender) (512 -> 2), face-api's order male, female.
Outputs "age" [N,1,1,1] (first: the pipeline's FaceClassifier reads it) and "gender".

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
AGE_OUTPUTS = ["age", "gender"]
AGE_GENDER_LABELS = ["man", "woman"]  # face-api: probMale = gender[0]
NETS = {"expression": [OUTPUT], "age_gender": AGE_OUTPUTS}


def normalise(rgb):
    """face-api's FaceFeatureExtractor preprocessing in float32: (x - mean) / 255."""
    x = np.asarray(rgb, np.float32)
    return ((x - np.asarray(MEAN_RGB, np.float32)) / np.float32(255.0)).astype(np.float32)


def _weights(manifest_path, net):
    """(weights dict, used-name set, get(name, shape)) for one face-api manifest."""
    with open(manifest_path) as f:
        manifest = json.load(f)
    w = load_weights(manifest_path, manifest)
    used = set()

    def get(name, shape=None):
        if name not in w:
            raise ConvertError(f"{manifest_path}: weight '{name}' is missing (is this a "
                               f"{net} manifest?)")
        a = np.asarray(w[name], np.float32)
        if shape is not None and list(a.shape) != list(shape):
            raise ConvertError(f"{manifest_path}: weight '{name}' has shape {list(a.shape)}, "
                               f"expected {shape}")
        used.add(name)
        return a

    return w, used, get


def _sep(g, get, prefix, x, cin, cout, stride, relu):
    """face-api's depthwiseSeparableConv: depthwise 3x3 (same, no bias) -> pointwise 1x1 +
    bias (+ relu when the next op applies one and nothing else reads the raw value)."""
    dw = get(f"{prefix}/depthwise_filter", [3, 3, cin, 1])[:, :, :, 0]
    pw = get(f"{prefix}/pointwise_filter", [1, 1, cin, cout])
    b = get(f"{prefix}/bias", [cout])
    d = g.add("depthwise_conv2d", f"{prefix}/depthwise", [x],
              {"strides": [stride, stride], "padding": "same"}, {"weight": dw})
    attrs = {"padding": "valid"}
    if relu:
        attrs["activation"] = "relu"
    return g.add("conv2d", prefix, [d], attrs, {"weight": pw, "bias": b})


def _check_unused(manifest_path, w, used, net):
    unused = sorted(set(w) - used)
    if unused:
        raise ConvertError(f"{manifest_path}: weights not used by {net}: {unused}")


def build(manifest_path):
    """Returns a mienfile.GraphBuilder with FaceExpressionNet (outputs set, no test
    vectors)."""
    w, used, get = _weights(manifest_path, "FaceExpressionNet")

    # The graph is written as face-api computes it, already fused (bias and relu in the
    # convs and adds), so no passes run on it.
    g = Graph()
    g.add_input(INPUT, 112, 112, 3)

    def sep(prefix, x, cin, cout, stride, relu):
        return _sep(g, get, prefix, x, cin, cout, stride, relu)

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
    _check_unused(manifest_path, w, used, "FaceExpressionNet")
    return writer.to_builder(g)


def build_age_gender(manifest_path):
    """Returns a mienfile.GraphBuilder with AgeGenderNet (TinyXception(2) + the age and
    gender heads; outputs "age", "gender"; no test vectors)."""
    w, used, get = _weights(manifest_path, "AgeGenderNet")
    g = Graph()
    g.add_input(INPUT, 112, 112, 3)

    def conv(prefix, x, cin, cout, k, relu=False):
        attrs = {"strides": [2, 2], "padding": "same"}
        if relu:
            attrs["activation"] = "relu"
        return g.add("conv2d", prefix, [x], attrs,
                     {"weight": get(f"{prefix}/filters", [k, k, cin, cout]),
                      "bias": get(f"{prefix}/bias", [cout])})

    def relu(name, x):
        # A node of its own: the block's raw input also feeds its shortcut.
        return g.add("activation", name, [x], {"type": "relu"})

    def reduction_block(prefix, x, cin, cout, relu_in):
        r = relu(f"{prefix}/relu_in", x) if relu_in else x
        out = _sep(g, get, f"{prefix}/separable_conv0", r, cin, cout, 1, True)
        out = _sep(g, get, f"{prefix}/separable_conv1", out, cout, cout, 1, False)
        out = g.add("max_pool", f"{prefix}/max_pool", [out],
                    {"kernel": [3, 3], "strides": [2, 2], "padding": "same"})
        short = conv(f"{prefix}/expansion_conv", x, cin, cout, 1)
        return g.add("add", f"{prefix}/out", [out, short])

    def main_block(prefix, x, c):
        out = _sep(g, get, f"{prefix}/separable_conv0", relu(f"{prefix}/relu_in", x), c, c, 1,
                   True)
        out = _sep(g, get, f"{prefix}/separable_conv1", out, c, c, 1, True)
        out = _sep(g, get, f"{prefix}/separable_conv2", out, c, c, 1, False)
        return g.add("add", f"{prefix}/out", [out, x])

    x = conv("entry_flow/conv_in", INPUT, 3, 32, 3, relu=True)
    x = reduction_block("entry_flow/reduction_block_0", x, 32, 64, False)
    x = reduction_block("entry_flow/reduction_block_1", x, 64, 128, True)
    for i in range(2):
        x = main_block(f"middle_flow/main_block_{i}", x, 128)
    x = reduction_block("exit_flow/reduction_block", x, 128, 256, True)
    x = _sep(g, get, "exit_flow/separable_conv", x, 256, 512, 1, True)
    x = g.add("avg_pool", "avg_pool", [x], {"kernel": [7, 7], "strides": [2, 2],
                                            "padding": "valid"})
    g.add("dense", "age", [x], {},
          {"weight": get("fc/age/weights", [512, 1]), "bias": get("fc/age/bias", [1])})
    fc = g.add("dense", "fc/gender", [x], {},
               {"weight": get("fc/gender/weights", [512, 2]), "bias": get("fc/gender/bias", [2])})
    g.add("softmax", "gender", [fc])
    g.outputs = list(AGE_OUTPUTS)
    _check_unused(manifest_path, w, used, "AgeGenderNet")
    return writer.to_builder(g)


def reference(manifest_path, rgb_npys, workdir, net="expression"):
    """Runs tools/reference/run_faceapi.mjs; returns [(rgb array, output)] where output is
    the probabilities [N,7] (expression) or {"age": [N], "gender": [N,2]} (age_gender)."""
    script = os.path.join(tfjs_to_mien.REPO, "tools", "reference", "run_faceapi.mjs")
    if not os.path.isfile(script):
        raise ConvertError(f"{script} is missing (needed to make test vectors)")
    out = []
    for k, f in enumerate(rgb_npys):
        prefix = os.path.join(workdir, f"faceapi{k}")
        r = subprocess.run(["node", script, "--net", net, "--model-dir", os.path.dirname(
            os.path.abspath(manifest_path)), f, prefix], capture_output=True, text=True)
        if r.returncode != 0:
            raise ConvertError(f"face-api reference run failed:\n{r.stderr.strip()}")
        if net == "expression":
            out.append((np.load(f), np.load(prefix + ".probabilities.npy")))
        else:
            out.append((np.load(f), {k: np.load(f"{prefix}.{k}.npy") for k in AGE_OUTPUTS}))
    return out


def as_outputs(net, ref):
    """face-api's outputs as the .mien outputs (N x 1 x 1 x C)."""
    if net == "expression":
        return {OUTPUT: ref}
    return {k: np.asarray(v, np.float32).reshape(len(v), 1, 1, -1) for k, v in ref.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description="face-api FaceExpressionNet/AgeGenderNet -> .mien",
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__)
    ap.add_argument("manifest")
    ap.add_argument("out")
    ap.add_argument("--net", choices=sorted(NETS), default="expression")
    tfjs_to_mien.add_output_args(ap, "RGB112.npy")
    a = ap.parse_args(argv)
    try:
        meta = tfjs_to_mien.parse_meta_args(a.meta, a.meta_json)
        g = build(a.manifest) if a.net == "expression" else build_age_gender(a.manifest)
        with tempfile.TemporaryDirectory() as tmp:
            for rgb, ref in reference(a.manifest, a.test_input, tmp, a.net):
                rgb = rgb if rgb.ndim == 4 else rgb[None]
                if rgb.shape[1:] != (112, 112, 3):
                    raise ConvertError(f"test input must be [1,112,112,3] RGB 0..255, got "
                                       f"{list(rgb.shape)}")
                g.add_test_vector({INPUT: normalise(rgb)}, as_outputs(a.net, ref))
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
