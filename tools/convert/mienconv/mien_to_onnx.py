"""Export a .mien graph to ONNX, so peers (ONNX Runtime, OpenCV DNN) can be benchmarked on
exactly the same graph and weights.

    python3 -m mienconv.mien_to_onnx MODEL.mien OUT.onnx [--io nhwc|nchw] [--opset 13] [--no-verify]
                    [--onnxruntime]

Layout choice: the exported graph is NCHW inside. Both ONNX Runtime's CPU provider and
OpenCV DNN are NCHW-native: their Conv kernels, Conv+activation fusion and graph
optimisers expect NCHW, and a Transpose around every conv (the NHWC alternative) would be
measured as pure overhead (OpenCV DNN also handles such graphs poorly). So weights are
converted once (HWIO -> OIHW, depthwise -> group conv) and the only transposes are:
  --io nhwc (default): one Transpose after the NHWC input and one before each NHWC output,
                       so inputs/outputs are exactly the .mien's (same test vectors);
  --io nchw:           none at all: input [N,C,H,W], outputs [N,C,H,W] (blobFromImage
                       style; the cleanest graph for OpenCV DNN).
Ops are kept to opset-13 operators OpenCV 4.6 imports: hard_swish is emitted as
HardSigmoid(1/6, 1/2) * x, swish as Sigmoid(x) * x, relu6/clip as Clip, batch_norm as
Mul + Add, dense as a Conv whose kernel covers the whole (fixed) input map, flatten and
reshape as Transpose to NHWC + Reshape (+ Transpose back), squeeze_excite as
GlobalAveragePool -> 1x1 Conv -> Relu -> 1x1 Conv -> Sigmoid -> Mul.

Verification: onnx.checker.check_model always; then, unless --no-verify, the embedded test
vectors (or a random input when there are none) are run through the exported ONNX with
the numpy ONNX reference (onnx_reference.py), and with onnxruntime-node
(tools/reference/run_onnx.mjs) when --onnxruntime is given, and compared with the .mien's
expected outputs / numpy_runner.
"""

import argparse
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from . import mienfile, numpy_runner, onnx_reference


class ExportError(Exception):
    pass


def _pair(attrs, key, default):
    v = attrs.get(key, [default, default])
    if isinstance(v, int):
        v = [v, v]
    return [int(x) for x in v]


def _same_pads(size, k, s, d):
    ext = d * (k - 1) + 1
    if size is None:
        if s == 1:  # independent of the size
            total = ext - 1
            return total // 2, total - total // 2
        return None
    out = -(-size // s)
    total = max(0, (out - 1) * s + ext - size)
    return total // 2, total - total // 2


class Exporter:
    def __init__(self, meta, tensors, io="nhwc", opset=13):
        self.view = mienfile.graph_from_meta(meta, tensors)
        self.meta = meta
        self.io = io
        self.opset = opset
        self.nodes = []
        self.inits = []
        self.names = set()
        self.shape = {}  # mien value -> (h, w, c), None for a dynamic size
        self.t = {}      # mien value -> ONNX tensor name (NCHW)

    def uniq(self, base):
        name, k = base, 1
        while name in self.names:
            name = "%s_%d" % (base, k)
            k += 1
        self.names.add(name)
        return name

    def const(self, base, arr, dtype=np.float32):
        name = self.uniq(base)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr, dtype=dtype), name))
        return name

    def node(self, op, inputs, base, **attrs):
        out = self.uniq(base)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    # -- activations -------------------------------------------------------------------
    def activation(self, x, kind, attrs, weights, base, c):
        if kind == "none":
            return x
        if kind == "relu":
            return self.node("Relu", [x], base + "_relu")
        if kind in ("relu6", "clip"):
            lo, hi = (0.0, 6.0) if kind == "relu6" else [float(v) for v in attrs["clip"]]
            return self.node("Clip", [x, self.const(base + "_lo", np.array(lo)),
                                      self.const(base + "_hi", np.array(hi))], base + "_clip")
        if kind == "leaky_relu":
            return self.node("LeakyRelu", [x], base + "_leaky",
                             alpha=float(attrs.get("alpha", 0.2)))
        if kind == "prelu":
            s = np.asarray(weights["slopes"], np.float32).reshape(-1)
            s = np.broadcast_to(s, (c,)).reshape(c, 1, 1)
            return self.node("PRelu", [x, self.const(base + "_slopes", s)], base + "_prelu")
        if kind == "sigmoid":
            return self.node("Sigmoid", [x], base + "_sigmoid")
        if kind == "tanh":
            return self.node("Tanh", [x], base + "_tanh")
        if kind == "swish":
            s = self.node("Sigmoid", [x], base + "_sigmoid")
            return self.node("Mul", [x, s], base + "_swish")
        if kind == "hard_swish":
            s = self.node("HardSigmoid", [x], base + "_hsig", alpha=1.0 / 6.0, beta=0.5)
            return self.node("Mul", [x, s], base + "_hswish")
        raise ExportError("activation '%s'" % kind)

    # -- ops ---------------------------------------------------------------------------
    def conv_pads(self, n, hw, kh, kw):
        a = n["attrs"]
        sh, sw = _pair(a, "strides", 1)
        dh, dw = _pair(a, "dilations", 1)
        mode = a.get("padding", "valid")
        extra = {}
        if mode == "valid":
            pads = [0, 0, 0, 0]
        elif mode == "explicit":
            t, l, b, r = [int(v) for v in a["pads"]]
            pads = [t, l, b, r]
        else:
            ph = _same_pads(hw[0], kh, sh, dh)
            pw = _same_pads(hw[1], kw, sw, dw)
            if ph is None or pw is None:
                extra["auto_pad"] = "SAME_UPPER"
                pads = None
            else:
                pads = [ph[0], pw[0], ph[1], pw[1]]
        if pads is not None:
            extra["pads"] = pads
        return extra, (sh, sw), (dh, dw), pads

    def out_hw(self, hw, k, s, d, pads, mode):
        out = []
        for i in range(2):
            if hw[i] is None:
                out.append(None)
            elif mode == "same":
                out.append(-(-hw[i] // s[i]))
            else:
                p = pads[i] + pads[i + 2] if pads else 0
                out.append((hw[i] + p - (d[i] * (k[i] - 1) + 1)) // s[i] + 1)
        return tuple(out)

    def export_node(self, n):
        op, a, w = n["op"], n["attrs"], n["weights"]
        name = n["name"]
        xs = [self.t[i] for i in n["inputs"]]
        shp = [self.shape[i] for i in n["inputs"]]
        h, wd, c = shp[0]
        act = a.get("activation", "none")
        if op in ("conv2d", "depthwise_conv2d"):
            wt = np.asarray(w["weight"], np.float32)
            if op == "conv2d":
                kh, kw, cin, cout = wt.shape
                W = wt.transpose(3, 2, 0, 1)
                group = 1
            else:
                kh, kw, cout = wt.shape
                W = wt.transpose(2, 0, 1)[:, None]
                group = cout
            extra, s, d, pads = self.conv_pads(n, (h, wd), kh, kw)
            ins = [xs[0], self.const(name + ".weight", W)]
            if "bias" in w:
                ins.append(self.const(name + ".bias", np.asarray(w["bias"]).reshape(-1)))
            y = self.node("Conv", ins, name + "_conv", kernel_shape=[kh, kw], strides=list(s),
                          dilations=list(d), group=group, **extra)
            oh, ow = self.out_hw((h, wd), (kh, kw), s, d, pads, a.get("padding", "valid"))
            return self.activation(y, act, a, w, name, cout), (oh, ow, cout)
        if op == "dense":
            wt = np.asarray(w["weight"], np.float32)
            cin, cout = wt.shape
            if h is None or wd is None:
                raise ExportError("dense '%s' on an input of dynamic size" % name)
            if h * wd * c != cin:
                raise ExportError("dense '%s': %d inputs for a %dx%dx%d map"
                                  % (name, cin, h, wd, c))
            W = wt.reshape(h, wd, c, cout).transpose(3, 2, 0, 1)  # [O, C, H, W]
            ins = [xs[0], self.const(name + ".weight", W)]
            if "bias" in w:
                ins.append(self.const(name + ".bias", np.asarray(w["bias"]).reshape(-1)))
            y = self.node("Conv", ins, name + "_dense", kernel_shape=[h, wd])
            return self.activation(y, act, a, w, name, cout), (1, 1, cout)
        if op in ("max_pool", "avg_pool"):
            k = _pair(a, "kernel", 2)
            n2 = dict(n)
            n2["attrs"] = dict(a)
            n2["attrs"].pop("dilations", None)
            extra, s, d, pads = self.conv_pads(n2, (h, wd), k[0], k[1])
            kw_ = dict(kernel_shape=k, strides=list(s), **extra)
            if op == "avg_pool":
                kw_["count_include_pad"] = 0
            y = self.node("MaxPool" if op == "max_pool" else "AveragePool", [xs[0]],
                          name + "_pool", **kw_)
            return y, self.out_hw((h, wd), k, s, (1, 1), pads, a.get("padding", "valid")) + (c,)
        if op == "global_avg_pool":
            return self.node("GlobalAveragePool", [xs[0]], name + "_gap"), (1, 1, c)
        if op == "add":
            y = self.node("Add", xs, name + "_add")
            return self.activation(y, act, a, w, name, c), (h, wd, c)
        if op == "mul":
            if len(xs) == 2:
                return self.node("Mul", xs, name + "_mul"), (h, wd, c)
            s = np.broadcast_to(np.asarray(w["scale"], np.float32).reshape(-1), (c,))
            return self.node("Mul", [xs[0], self.const(name + ".scale", s.reshape(1, c, 1, 1))],
                             name + "_mul"), (h, wd, c)
        if op == "batch_norm":
            s = np.asarray(w["scale"], np.float32).reshape(1, c, 1, 1)
            t = np.asarray(w["shift"], np.float32).reshape(1, c, 1, 1)
            y = self.node("Mul", [xs[0], self.const(name + ".scale", s)], name + "_scale")
            return self.node("Add", [y, self.const(name + ".shift", t)], name + "_shift"), \
                (h, wd, c)
        if op == "concat":
            return self.node("Concat", xs, name + "_concat", axis=1), \
                (h, wd, sum(s[2] for s in shp))
        if op == "pad":
            p = [int(v) for v in a["pads"]]
            pads = np.array([0, p[4], p[0], p[1], 0, p[5], p[2], p[3]], np.int64)
            y = self.node("Pad", [xs[0], self.const(name + ".pads", pads, np.int64),
                                  self.const(name + ".value", np.array(float(a.get("value", 0.0))))],
                          name + "_pad", mode="constant")
            return y, (None if h is None else h + p[0] + p[2],
                       None if wd is None else wd + p[1] + p[3], c + p[4] + p[5])
        if op == "upsample_nearest":
            s = int(a.get("scale", 2))
            scales = self.const(name + ".scales", np.array([1, 1, s, s], np.float32))
            roi = self.const(name + ".roi", np.zeros(0, np.float32))
            y = self.node("Resize", [xs[0], roi, scales], name + "_up", mode="nearest",
                          coordinate_transformation_mode="asymmetric", nearest_mode="floor")
            return y, (None if h is None else h * s, None if wd is None else wd * s, c)
        if op == "resize_bilinear":
            oh, ow = _pair(a, "size", 1)
            ctm = "align_corners" if int(a.get("align_corners", 0)) else (
                "half_pixel" if int(a.get("half_pixel_centers", 0)) else "asymmetric")
            roi = self.const(name + ".roi", np.zeros(0, np.float32))
            if h is not None and wd is not None:
                scales = self.const(name + ".scales", np.array([1, 1, oh / h, ow / wd],
                                                               np.float32))
                ins = [xs[0], roi, scales]
                if ctm != "align_corners" and (abs(np.float32(oh / h) * h - oh) > 1e-6 or
                                               abs(np.float32(ow / wd) * wd - ow) > 1e-6):
                    ins = None
            else:
                ins = None
            if ins is None:
                sh = self.node("Shape", [xs[0]], name + "_shape")
                nc = self.node("Slice", [sh, self.const(name + ".s0", np.array([0]), np.int64),
                                         self.const(name + ".s1", np.array([2]), np.int64)],
                               name + "_nc")
                sizes = self.node("Concat", [nc, self.const(name + ".hw", np.array([oh, ow]),
                                                            np.int64)], name + "_sizes", axis=0)
                empty = self.const(name + ".noscales", np.zeros(0, np.float32))
                ins = [xs[0], roi, empty, sizes]
            y = self.node("Resize", ins, name + "_resize", mode="linear",
                          coordinate_transformation_mode=ctm)
            return y, (oh, ow, c)
        if op == "reshape":
            s = [int(v) for v in a["shape"]]
            t1 = self.node("Transpose", [xs[0]], name + "_tonhwc", perm=[0, 2, 3, 1])
            r = self.node("Reshape", [t1, self.const(name + ".shape", np.array([0] + s),
                                                     np.int64)], name + "_reshape")
            y = self.node("Transpose", [r], name + "_tonchw", perm=[0, 3, 1, 2])
            if None in (h, wd) and -1 in s:
                out = tuple(None if v == -1 else v for v in s)
            else:
                per = h * wd * c if None not in (h, wd) else None
                out = list(s)
                if -1 in out and per is not None:
                    out[out.index(-1)] = per // int(np.prod([v for v in s if v != -1]))
                out = tuple(out)
            return y, out
        if op == "flatten":
            if h == 1 and wd == 1:
                return xs[0], (1, 1, c)
            t1 = self.node("Transpose", [xs[0]], name + "_tonhwc", perm=[0, 2, 3, 1])
            y = self.node("Reshape", [t1, self.const(name + ".shape", np.array([0, -1, 1, 1]),
                                                     np.int64)], name + "_flatten")
            return y, (1, 1, None if None in (h, wd) else h * wd * c)
        if op == "activation":
            kind = a.get("type", "none")
            if kind == "none":
                return self.node("Identity", [xs[0]], name + "_id"), (h, wd, c)
            return self.activation(xs[0], kind, a, w, name, c), (h, wd, c)
        if op == "softmax":
            return self.node("Softmax", [xs[0]], name + "_softmax", axis=1), (h, wd, c)
        if op == "squeeze_excite":
            w1, b1 = np.asarray(w["w1"], np.float32), np.asarray(w["b1"], np.float32)
            w2, b2 = np.asarray(w["w2"], np.float32), np.asarray(w["b2"], np.float32)
            r = w1.shape[1]
            g = self.node("GlobalAveragePool", [xs[0]], name + "_gap")
            y = self.node("Conv", [g, self.const(name + ".w1", w1.T.reshape(r, c, 1, 1)),
                                   self.const(name + ".b1", b1.reshape(-1))], name + "_fc1",
                          kernel_shape=[1, 1])
            y = self.node("Relu", [y], name + "_relu")
            y = self.node("Conv", [y, self.const(name + ".w2", w2.T.reshape(c, r, 1, 1)),
                                   self.const(name + ".b2", b2.reshape(-1))], name + "_fc2",
                          kernel_shape=[1, 1])
            y = self.node("Sigmoid", [y], name + "_gate")
            return self.node("Mul", [xs[0], y], name + "_scale"), (h, wd, c)
        raise ExportError("op '%s' cannot be exported" % op)

    def run(self):
        v = self.view
        graph_inputs = []
        for name, (h, wd, c) in v["inputs"]:
            hh = "H" if h == -1 else h
            ww = "W" if wd == -1 else wd
            self.names.add(name)
            if self.io == "nhwc":
                graph_inputs.append(helper.make_tensor_value_info(
                    name, TensorProto.FLOAT, ["N", hh, ww, c]))
                self.t[name] = self.node("Transpose", [name], name + "_nchw", perm=[0, 3, 1, 2])
            else:
                graph_inputs.append(helper.make_tensor_value_info(
                    name, TensorProto.FLOAT, ["N", c, hh, ww]))
                self.t[name] = name
            self.shape[name] = (None if h == -1 else h, None if wd == -1 else wd, c)
        out_names = set(v["outputs"])
        for name in out_names:
            self.names.add(name)
        for n in v["nodes"]:
            try:
                y, shp = self.export_node(n)
            except (KeyError, ValueError) as e:
                raise ExportError("node '%s' (%s): %s" % (n["name"], n["op"], e))
            self.t[n["output"]] = y
            self.shape[n["output"]] = shp
        graph_outputs = []
        for o in v["outputs"]:
            h, wd, c = self.shape[o]
            dims_h = h if h is not None else "OH_" + o
            dims_w = wd if wd is not None else "OW_" + o
            if self.io == "nhwc":
                self.nodes.append(helper.make_node("Transpose", [self.t[o]], [o],
                                                   name=o + "_nhwc", perm=[0, 2, 3, 1]))
                dims = ["N", dims_h, dims_w, c]
            else:
                self.nodes.append(helper.make_node("Identity", [self.t[o]], [o],
                                                   name=o + "_out"))
                dims = ["N", c, dims_h, dims_w]
            graph_outputs.append(helper.make_tensor_value_info(o, TensorProto.FLOAT, dims))
        graph = helper.make_graph(self.nodes, self.meta.get("model.name", "mien"),
                                  graph_inputs, graph_outputs, self.inits)
        # producer_name keeps the old script path: exports stay byte-identical.
        model = helper.make_model(graph, producer_name="mien tools/convert/mien_to_onnx.py",
                                  opset_imports=[helper.make_opsetid("", self.opset)])
        model.ir_version = 7  # readable by ONNX Runtime >= 1.3 and OpenCV 4.x
        for k in ("model.name", "model.task", "model.source", "model.license", "input.color"):
            if k in self.meta:
                e = model.metadata_props.add()
                e.key, e.value = k, str(self.meta[k])
        e = model.metadata_props.add()
        e.key, e.value = "mien.io_layout", self.io
        onnx.checker.check_model(model)
        return model


def export(path, io="nhwc", opset=13):
    meta, tensors = mienfile.read(path)
    return Exporter(meta, tensors, io, opset).run(), meta, tensors


def verify(mien_path, onnx_path, model, io, use_ort, say):
    """Runs the exported ONNX on the test vectors (or a random input); returns worst
    relative error against the .mien's expected outputs (or numpy_runner)."""
    view, _ = numpy_runner.load(mien_path)
    cases = view["tests"]
    if not cases:
        rng = np.random.default_rng(0)
        ins = {}
        for name, (h, w, c) in view["inputs"]:
            ins[name] = rng.uniform(-1, 1, (1, 64 if h == -1 else h, 64 if w == -1 else w, c))
        cases = [(ins, numpy_runner.run(mien_path, ins))]
    worst = {}
    for ins, outs in cases:
        feeds = {k: (np.asarray(x, np.float32) if io == "nhwc" else
                     np.asarray(x, np.float32).transpose(0, 3, 1, 2)) for k, x in ins.items()}
        results = {"numpy": onnx_reference.run(model, feeds)}
        if use_ort:
            results["onnxruntime"] = run_ort(onnx_path, model, feeds)
        for who, got in results.items():
            for o in view["outputs"]:
                y = np.asarray(got[o], np.float64)
                if io == "nchw":
                    y = y.transpose(0, 2, 3, 1)
                r = np.asarray(outs[o], np.float64)
                if y.shape != r.shape:
                    raise ExportError("%s output %s: shape %s, expected %s"
                                      % (who, o, y.shape, r.shape))
                d = float((np.abs(y - r) / np.maximum(1, np.abs(r))).max())
                worst[who] = max(worst.get(who, 0.0), d)
    for who, d in worst.items():
        say("mien_to_onnx: %s on the exported ONNX vs the .mien test vectors: max rel %.3g"
            % (who, d))
    return max(worst.values())


def run_ort(onnx_path, model, feeds):
    """feeds: {input name: array} -> onnxruntime-node's outputs."""
    return onnx_reference.run_onnxruntime(onnx_path,
                                          [feeds[i.name] for i in model.graph.input])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help=".mien file")
    ap.add_argument("output", help="ONNX file to write")
    ap.add_argument("--io", choices=["nhwc", "nchw"], default="nhwc",
                    help="layout of the graph input/outputs (default nhwc: same tensors as "
                    "the .mien; nchw: no transposes at all)")
    ap.add_argument("--opset", type=int, default=13, help="ONNX opset (13)")
    ap.add_argument("--no-verify", action="store_true", help="only run the onnx checker")
    ap.add_argument("--onnxruntime", action="store_true",
                    help="also verify with onnxruntime-node (tools/reference/run_onnx.mjs)")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr))
    if args.opset < 13:
        print("mien_to_onnx: error: opset >= 13 is needed", file=sys.stderr)
        return 2
    try:
        model, meta, _ = export(args.model, args.io, args.opset)
    except (ExportError, ValueError, onnx.checker.ValidationError) as e:
        print("mien_to_onnx: error: %s: %s" % (args.model, e), file=sys.stderr)
        return 1
    onnx.save(model, args.output)
    say("mien_to_onnx: wrote %s (%d nodes, io %s, opset %d), onnx checker ok"
        % (args.output, len(model.graph.node), args.io, args.opset))
    if not args.no_verify:
        try:
            worst = verify(args.model, args.output, model, args.io, args.onnxruntime, say)
        except (ExportError, subprocess.CalledProcessError) as e:
            print("mien_to_onnx: error: verification failed: %s" % e, file=sys.stderr)
            return 1
        if worst > args.tolerance:
            print("mien_to_onnx: error: exported graph differs by %.3g (> %g)"
                  % (worst, args.tolerance), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
