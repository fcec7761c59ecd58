"""Convert a TF.js graph model (model.json + .bin shards) into a .mien file.

    python3 -m mienconv.tfjs_to_mien MODEL_JSON OUT.mien [--meta key=value ...]
        [--meta-json FILE] [--output TFNAME=NAME ...] [--input TFNAME=NAME ...]
        [--test-vectors DIR] [--test-input X.npy ...] [--tolerance T] [--no-check]
    (from tools/convert, or with PYTHONPATH=tools/convert)

What it does
  * reads the weights manifest: float32, int32, and quantised weights (uint8/uint16 with
    {scale, min}: q * scale + min as TF.js computes it; float16), shards concatenated;
  * maps the TF NHWC graph onto FORMAT.md ops: Conv2D / _FusedConv2D / DepthwiseConv2dNative /
    FusedDepthwiseConv2dNative -> conv2d / depthwise_conv2d with BiasAdd, FusedBatchNorm and
    the activation (Relu, Relu6, LeakyRelu, Prelu, Sigmoid, Tanh) folded in; MatMul /
    _FusedMatMul -> dense; MaxPool / AvgPool; Mean over H, W -> global_avg_pool;
    AddV2 / Add / Mul of two tensors -> add / mul; Add / Sub / Mul / RealDiv / BiasAdd /
    FusedBatchNorm with a per-channel constant -> batch_norm (scale, shift), folded into the
    preceding conv when it is the only reader; Pad / PadV2 -> pad; ResizeNearestNeighbor
    (integer factor) -> upsample_nearest; ResizeBilinear -> resize_bilinear; ConcatV2 on the
    channel axis -> concat; Reshape -> reshape / flatten; Squeeze of 1x1 -> (nothing);
    Softmax, Relu, Relu6, Sigmoid, Tanh, LeakyRelu, Prelu; Identity / NoOp / StopGradient
    are skipped. Unsupported ops or attributes raise an error naming op, node and file.
  * TF tensors of rank 3 [N, A, B] are held as N x A x 1 x B and rank 2 [N, C] as
    N x 1 x 1 x C; both keep TF's element order, so Reshape is free and outputs compare
    directly with the original runtime.
  * Metadata: --meta key=value (value parsed as JSON when it parses, else a string; lists
    mixing ints and floats become float64[]), --meta-json FILE (a JSON object). Graph
    outputs are named after the TF output nodes (e.g. "Identity"), or as --output renames.
  * Test vectors: --test-vectors DIR with <k>.input.<tf input>.npy and
    <k>.output.<tf output>.npy files (as tools/reference/run_tfjs.mjs writes with
    OUT_PREFIX=DIR/<k>.output), or --test-input X.npy (repeatable), for which the outputs
    are made by running tools/reference/run_tfjs.mjs (node + @tensorflow/tfjs, cpu). The
    converted model is then checked with numpy_runner against them (unless --no-check).

Python API: convert(model_json) -> Converted (with .builder, a mienfile.GraphBuilder, and
.tf_outputs / .tf_inputs name maps), used by convert_defaults to add test vectors and
metadata. The graph is an ir.Graph, simplified by passes.simplify before it is handed to
the builder.
"""

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

from . import mienfile, numpy_runner, passes, writer
from .ir import ConvertError, Graph
from .tfjs_weights import decode_attr, inline_tensor, load_weights

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                    ".."))


# ---------------------------------------------------------------------------------------
# Converter

# Attributes that never change what a node computes in inference.
_BENIGN_ATTRS = {"T", "_cloned", "use_cudnn_on_gpu", "_output_shapes", "Tidx", "Tshape",
                 "Tpaddings", "num_args", "_class", "Tperm", "_user_specified_name",
                 "_noinline", "_has_manual_control_dependencies", "TI", "Tindices", "N",
                 "half_pixel_centers", "align_corners", "dtype", "shape", "value",
                 "exponential_avg_factor", "U", "is_training", "epsilon", "data_format",
                 "strides", "padding", "dilations", "explicit_paddings", "fused_ops",
                 "ksize", "keep_dims", "squeeze_dims", "transpose_a", "transpose_b",
                 "leakyrelu_alpha", "alpha", "Tblock_shape", "Tcrops", "device",
                 "_XlaMustCompile", "Tsegmentids", "Tnumsegments", "Tmultiples", "Tout",
                 "Truncate", "SrcT", "DstT", "_disable_call_shape_inference",
                 "_read_only_resource_inputs", "Targuments", "Tinput"}

_ACT_OPS = {"Relu": "relu", "Relu6": "relu6", "Sigmoid": "sigmoid", "Tanh": "tanh",
            "LeakyRelu": "leaky_relu", "Prelu": "prelu", "Elu": None, "Selu": None}
_SKIP_OPS = {"Identity", "StopGradient", "Snapshot", "PreventGradient", "IdentityN"}


class Converted:
    """Result of convert(): .builder (mienfile.GraphBuilder, outputs set), .tf_inputs
    {tf name: mien name}, .tf_outputs {tf name: mien name}, .shapes {value: [H, W, C]}."""

    def __init__(self, builder, tf_inputs, tf_outputs, shapes, source):
        self.builder = builder
        self.tf_inputs = tf_inputs
        self.tf_outputs = tf_outputs
        self.shapes = shapes
        self.source = source


def _short(name):
    return name[len("StatefulPartitionedCall/"):] if name.startswith("StatefulPartitionedCall/") \
        else name


class _Converter:
    def __init__(self, path, model):
        self.path = path
        self.model = model
        topo = model.get("modelTopology") or {}
        if model.get("format") not in (None, "graph-model") or "node" not in topo:
            raise ConvertError(f"{path}: not a TF.js graph model (format "
                               f"{model.get('format')!r}; layers models are not supported)")
        if topo.get("library", {}).get("function"):
            raise ConvertError(f"{path}: the graph has functions (control flow), which mien "
                               "does not support")
        self.tf_nodes = {}
        for n in topo["node"]:
            if n["name"] in self.tf_nodes:
                raise ConvertError(f"{path}: duplicate node name '{n['name']}'")
            self.tf_nodes[n["name"]] = n
        self.weights = load_weights(path, model.get("weightsManifest", []))
        self.consts = {}      # tf tensor name -> ndarray
        self.alias = {}       # tf tensor name -> mien value name
        self.g = Graph()      # the .mien graph; nodes carry their TF shape and rank
        self.values = {}      # mien value -> ir.Node or ("input", shape)
        self.input_names = {}  # tf placeholder name -> mien input name

    # -- helpers --------------------------------------------------------------------------
    def err(self, node, msg):
        return ConvertError(f"{self.path}: node '{node['name']}' ({node['op']}): {msg}")

    def attrs(self, node):
        return {k: decode_attr(v) for k, v in node.get("attr", {}).items()}

    def check_attrs(self, node, a, extra_ok=()):
        for k in a:
            if k not in _BENIGN_ATTRS and k not in extra_ok:
                raise self.err(node, f"unsupported attribute '{k}' = {a[k]!r}")
        df = a.get("data_format", "NHWC")
        if df not in ("NHWC",):
            raise self.err(node, f"unsupported data_format '{df}' (only NHWC)")
        if a.get("T", "DT_FLOAT") not in ("DT_FLOAT", "DT_INT32"):
            raise self.err(node, f"unsupported tensor type {a.get('T')}")

    @staticmethod
    def tname(ref):
        """'name:0' / 'name' -> 'name', 'name:k' -> 'name:k'; control inputs -> None."""
        if ref.startswith("^"):
            return None
        if ref.endswith(":0"):
            return ref[:-2]
        return ref

    def data_inputs(self, node):
        return [t for t in (self.tname(r) for r in node.get("input", [])) if t is not None]

    def is_const(self, t):
        return t in self.consts

    def const(self, node, t, what):
        if t not in self.consts:
            raise self.err(node, f"{what} ('{t}') must be a constant")
        return self.consts[t]

    def value(self, node, t):
        if t in self.alias:
            return self.alias[t]
        if t in self.consts:
            raise self.err(node, f"input '{t}' is a constant where mien needs a computed "
                                 "tensor (constant folding of this pattern is not supported)")
        raise self.err(node, f"input '{t}' is not available (unsupported producer?)")

    def shape_of(self, v):
        x = self.values[v]
        return list(x[1]) if isinstance(x, tuple) else list(x.shape)

    def rank_of(self, v):
        x = self.values[v]
        return 4 if isinstance(x, tuple) else x.rank

    def unique(self, name):
        """TF node name without the StatefulPartitionedCall/ prefix; name_2, name_3... when
        taken."""
        base = _short(name)
        n, k = base, 1
        while self.g.has_name(n):
            k += 1
            n = f"{base}_{k}"
        return n

    def emit(self, tf_name, op, inputs, attrs=None, weights=None, shape=None, rank=4):
        name = self.g.add(op, self.unique(tf_name), inputs, attrs, weights, shape, rank)
        n = self.g.nodes[-1]
        self.values[name] = n
        self.alias[tf_name] = name
        return n

    # -- topological order ------------------------------------------------------------------
    def order(self):
        seen, out = set(), []
        for root in self.tf_nodes:
            if root in seen:
                continue
            stack = [(root, False)]
            while stack:
                name, done = stack.pop()
                if done:
                    out.append(name)
                    continue
                if name in seen:
                    continue
                seen.add(name)
                stack.append((name, True))
                node = self.tf_nodes[name]
                for r in node.get("input", []):
                    src = r.lstrip("^").split(":")[0]
                    if src not in self.tf_nodes:
                        raise ConvertError(f"{self.path}: node '{name}' reads unknown node "
                                           f"'{src}'")
                    if src not in seen:
                        stack.append((src, False))
        return out

    # -- conversion -------------------------------------------------------------------------
    def run(self):
        for name in self.order():
            node = self.tf_nodes[name]
            op = node["op"]
            handler = getattr(self, "op_" + op, None)
            if handler is None:
                if op in _ACT_OPS:
                    handler = self.activation_op
                elif op in _SKIP_OPS:
                    handler = self.skip_op
                else:
                    raise self.err(node, f"unsupported op '{op}'")
            handler(node)

    def op_Const(self, node):
        name = node["name"]
        if name in self.weights:
            self.consts[name] = self.weights[name]
            return
        a = self.attrs(node)
        v = a.get("value")
        if isinstance(v, tuple) and v[0] == "tensor":
            self.consts[name] = inline_tensor(v[1])
            return
        raise self.err(node, "constant has no value in the weights manifest")

    def op_Placeholder(self, node):
        a = self.attrs(node)
        if a.get("dtype", "DT_FLOAT") != "DT_FLOAT":
            raise self.err(node, f"input of type {a.get('dtype')} is not supported")
        dims = [int(d.get("size", -1)) for d in (a.get("shape") or {}).get("dim", [])]
        if len(dims) != 4:
            raise self.err(node, f"input must be 4-D NHWC, got shape {dims}")
        shape = [d if d > 0 else -1 for d in dims[1:]]
        if shape[2] < 1:
            raise self.err(node, "input has an unknown channel count")
        name = self.input_names.get(node["name"], node["name"])
        if self.g.has_name(name):
            raise self.err(node, f"input name '{name}' is already used")
        self.g.add_input(name, *shape)
        self.values[name] = ("input", shape)
        self.alias[node["name"]] = name

    op_PlaceholderWithDefault = op_Placeholder

    def skip_op(self, node):
        ins = self.data_inputs(node)
        if node["op"] == "IdentityN":
            for k, t in enumerate(ins):
                key = node["name"] if k == 0 else f"{node['name']}:{k}"
                self._forward(node, key, t)
            return
        if len(ins) != 1:
            raise self.err(node, f"expected 1 input, got {len(ins)}")
        self._forward(node, node["name"], ins[0])

    def _forward(self, node, key, t):
        if t in self.consts:
            self.consts[key] = self.consts[t]
        else:
            self.alias[key] = self.value(node, t)

    def op_NoOp(self, node):
        pass

    # conv family ----------------------------------------------------------------------------
    def _window_attrs(self, node, a, kernel_hw=None):
        out = {}
        s = a.get("strides", [1, 1, 1, 1])
        if len(s) != 4 or s[0] != 1 or s[3] != 1:
            raise self.err(node, f"unsupported strides {s}")
        d = a.get("dilations", [1, 1, 1, 1])
        if len(d) != 4 or d[0] != 1 or d[3] != 1:
            raise self.err(node, f"unsupported dilations {d}")
        pad = a.get("padding", "VALID")
        out["strides"] = mienfile.I64List([s[1], s[2]])
        if d[1] != 1 or d[2] != 1:
            out["dilations"] = mienfile.I64List([d[1], d[2]])
        if pad == "SAME":
            out["padding"] = "same"
        elif pad == "VALID":
            out["padding"] = "valid"
        elif pad == "EXPLICIT":
            e = a.get("explicit_paddings", [])
            if len(e) != 8 or any(e[i] for i in (0, 1, 6, 7)):
                raise self.err(node, f"unsupported explicit_paddings {e}")
            out["padding"] = "explicit"
            out["pads"] = mienfile.I64List([e[2], e[4], e[3], e[5]])
        else:
            raise self.err(node, f"unsupported padding '{pad}'")
        if pad != "EXPLICIT" and any(a.get("explicit_paddings", []) or []):
            raise self.err(node, "explicit_paddings given with padding " + pad)
        return out

    def _out_hw(self, node, in_shape, attrs, kh, kw):
        h, w = in_shape[0], in_shape[1]
        sh, sw = attrs["strides"]
        dh, dw = attrs.get("dilations", [1, 1])
        pads = attrs.get("pads", [0, 0, 0, 0])
        mode = attrs["padding"]
        try:
            oh = -1 if h < 0 else numpy_runner._axis(mode, h, kh, sh, dh, pads[0], pads[2])[0]
            ow = -1 if w < 0 else numpy_runner._axis(mode, w, kw, sw, dw, pads[1], pads[3])[0]
        except numpy_runner.RunError as e:
            raise self.err(node, str(e))
        return oh, ow

    def _fused(self, node, a, extra):
        """Folds _Fused* ops into (bias, activation attrs, prelu slopes, bn scale)."""
        fused = a.get("fused_ops", [])
        args = extra
        bias = scale = None
        act = {}
        slopes = None
        i = 0
        for f in fused:
            if f == "BiasAdd":
                if i >= len(args):
                    raise self.err(node, "BiasAdd without its argument")
                bias = np.asarray(self.const(node, args[i], "bias"), np.float64).reshape(-1)
                i += 1
            elif f in ("FusedBatchNorm", "FusedBatchNormV3"):
                if i + 4 > len(args):
                    raise self.err(node, "FusedBatchNorm needs scale, offset, mean, variance")
                g, b, m, v = (np.asarray(self.const(node, args[i + k], "batch norm parameter"),
                                         np.float64).reshape(-1) for k in range(4))
                eps = float(a.get("epsilon", 0.0))
                scale = g / np.sqrt(v + eps)
                bias = b - m * scale
                i += 4
            elif f in ("Relu", "Relu6", "Sigmoid", "Tanh", "LeakyRelu", "Prelu"):
                if act:
                    raise self.err(node, f"two activations fused: {fused}")
                act = {"activation": _ACT_OPS[f]}
                if f == "LeakyRelu":
                    act["alpha"] = float(a.get("leakyrelu_alpha", 0.2))
                if f == "Prelu":
                    if i >= len(args):
                        raise self.err(node, "Prelu without its alpha argument")
                    slopes = np.asarray(self.const(node, args[i], "prelu alpha"),
                                        np.float32).reshape(-1)
                    i += 1
            else:
                raise self.err(node, f"unsupported fused op '{f}' (fused_ops {fused})")
        if i != len(args):
            raise self.err(node, f"fused_ops {fused} use {i} arguments, the node has "
                                 f"{len(args)}")
        return bias, scale, act, slopes

    def _conv(self, node, depthwise):
        a = self.attrs(node)
        self.check_attrs(node, a)
        ins = self.data_inputs(node)
        if len(ins) < 2:
            raise self.err(node, "needs an input and a filter")
        x = self.value(node, ins[0])
        filt = np.asarray(self.const(node, ins[1], "filter"), np.float32)
        if filt.ndim != 4:
            raise self.err(node, f"filter must be 4-D, got {list(filt.shape)}")
        shape = self.shape_of(x)
        if self.rank_of(x) != 4:
            raise self.err(node, "input must be a 4-D tensor")
        attrs = self._window_attrs(node, a)
        kh, kw = filt.shape[0], filt.shape[1]
        if depthwise:
            if filt.shape[3] != 1:
                raise self.err(node, f"depth multiplier {filt.shape[3]} is not supported "
                                     "(only 1)")
            if filt.shape[2] != shape[2]:
                raise self.err(node, f"filter has {filt.shape[2]} channels, input has "
                                     f"{shape[2]}")
            w = filt[:, :, :, 0]
            cout = filt.shape[2]
        else:
            if filt.shape[2] != shape[2]:
                raise self.err(node, f"filter expects {filt.shape[2]} input channels, input "
                                     f"has {shape[2]} (grouped convolution is not supported)")
            w = filt
            cout = filt.shape[3]
        bias, scale, act, slopes = self._fused(node, a, ins[2:])
        if scale is not None:
            w = (w.astype(np.float64) * scale).astype(np.float32)
        weights = {"weight": w}
        if bias is not None:
            if bias.size != cout:
                raise self.err(node, f"bias has {bias.size} values for {cout} channels")
            weights["bias"] = bias.astype(np.float32)
        if slopes is not None:
            weights["slopes"] = slopes
        attrs.update(act)
        oh, ow = self._out_hw(node, shape, attrs, kh, kw)
        self.emit(node["name"], "depthwise_conv2d" if depthwise else "conv2d", [x], attrs,
                  weights, [oh, ow, cout])

    def op_Conv2D(self, node):
        self._conv(node, False)

    def op__FusedConv2D(self, node):
        self._conv(node, False)

    def op_DepthwiseConv2dNative(self, node):
        self._conv(node, True)

    def op_FusedDepthwiseConv2dNative(self, node):
        self._conv(node, True)

    def op_MatMul(self, node):
        a = self.attrs(node)
        self.check_attrs(node, a)
        ins = self.data_inputs(node)
        if a.get("transpose_a"):
            raise self.err(node, "transpose_a is not supported")
        x = self.value(node, ins[0])
        w = np.asarray(self.const(node, ins[1], "weight"), np.float32)
        if a.get("transpose_b"):
            w = w.T
        shape = self.shape_of(x)
        if self.rank_of(x) != 2:
            raise self.err(node, "MatMul input must be 2-D [N, K]")
        if shape[2] != w.shape[0]:
            raise self.err(node, f"weight has {w.shape[0]} rows, input has {shape[2]} columns")
        bias, scale, act, slopes = self._fused(node, a, ins[2:])
        if scale is not None:
            w = (w * scale).astype(np.float32)
        weights = {"weight": np.ascontiguousarray(w)}
        if bias is not None:
            weights["bias"] = bias.astype(np.float32)
        if slopes is not None:
            weights["slopes"] = slopes
        self.emit(node["name"], "dense", [x], act, weights, [1, 1, w.shape[1]], rank=2)

    op__FusedMatMul = op_MatMul

    # pooling ----------------------------------------------------------------------------------
    def _pool(self, node, op):
        a = self.attrs(node)
        self.check_attrs(node, a)
        x = self.value(node, self.data_inputs(node)[0])
        k = a.get("ksize", [1, 1, 1, 1])
        if len(k) != 4 or k[0] != 1 or k[3] != 1:
            raise self.err(node, f"unsupported ksize {k}")
        attrs = {"kernel": mienfile.I64List([k[1], k[2]])}
        attrs.update(self._window_attrs(node, a))
        attrs.pop("dilations", None)
        shape = self.shape_of(x)
        oh, ow = self._out_hw(node, shape, attrs, k[1], k[2])
        self.emit(node["name"], op, [x], attrs, None, [oh, ow, shape[2]])

    def op_MaxPool(self, node):
        self._pool(node, "max_pool")

    def op_AvgPool(self, node):
        self._pool(node, "avg_pool")

    def op_Mean(self, node):
        a = self.attrs(node)
        self.check_attrs(node, a)
        ins = self.data_inputs(node)
        x = self.value(node, ins[0])
        axes = sorted(int(v) % 4 for v in np.asarray(self.const(node, ins[1], "axes")).reshape(-1))
        if self.rank_of(x) != 4 or axes != [1, 2]:
            raise self.err(node, f"only the mean over H and W of a 4-D tensor is supported "
                                 f"(axes {axes})")
        c = self.shape_of(x)[2]
        self.emit(node["name"], "global_avg_pool", [x], None, None, [1, 1, c],
                  rank=4 if a.get("keep_dims") else 2)

    # element-wise -----------------------------------------------------------------------------
    def _per_channel(self, node, const, channels, what):
        """A constant broadcast over N, H, W -> 1-D [C] float64, or None if not per-channel."""
        c = np.asarray(const, np.float64)
        if c.size == 1:
            return np.full(channels, float(c.reshape(-1)[0]))
        if c.shape[-1] == channels and c.size == channels:
            return c.reshape(-1)
        return None

    def _binary(self, node, kind):
        a = self.attrs(node)
        self.check_attrs(node, a)
        ins = self.data_inputs(node)
        if len(ins) != 2:
            raise self.err(node, f"expected 2 inputs, got {len(ins)}")
        ca, cb = self.is_const(ins[0]), self.is_const(ins[1])
        if ca and cb:
            raise self.err(node, "both inputs are constants (constant folding is not supported)")
        if ca or cb:
            ti, tc = (ins[1], ins[0]) if ca else (ins[0], ins[1])
            x = self.value(node, ti)
            shape, rank = self.shape_of(x), self.rank_of(x)
            c = self._per_channel(node, self.consts[tc], shape[2], "constant")
            if c is None:
                raise self.err(node, f"constant of shape {list(np.shape(self.consts[tc]))} is "
                                     "not a scalar or per-channel vector: mien cannot broadcast "
                                     "it")
            if kind == "add":
                scale, shift = np.ones_like(c), c
            elif kind == "sub":
                scale, shift = (np.ones_like(c), -c) if not ca else (-np.ones_like(c), c)
            elif kind == "mul":
                scale, shift = c, np.zeros_like(c)
            elif kind == "div":
                if ca:
                    raise self.err(node, "division of a constant by a tensor is not supported")
                scale, shift = 1.0 / c, np.zeros_like(c)
            self.emit(node["name"], "batch_norm", [x], None,
                      {"scale": scale.astype(np.float32), "shift": shift.astype(np.float32)},
                      shape, rank)
            return
        xa, xb = self.value(node, ins[0]), self.value(node, ins[1])
        if kind not in ("add", "mul"):
            raise self.err(node, f"{node['op']} of two computed tensors is not supported")
        sa, sb = self.shape_of(xa), self.shape_of(xb)
        ra, rb = self.rank_of(xa), self.rank_of(xb)

        def small(s):
            return s[0] == 1 and s[1] == 1
        if sa != sb and small(sa) and not small(sb):
            xa, xb, sa, sb, ra, rb = xb, xa, sb, sa, rb, ra
        if sa != sb and not (small(sb) and sb[2] == sa[2]):
            raise self.err(node, f"shapes {sa} and {sb} do not broadcast the way mien "
                                 "supports (same shape, or the second N x 1 x 1 x C)")
        self.emit(node["name"], kind, [xa, xb], None, None, sa, max(ra, rb))

    def op_AddV2(self, node):
        self._binary(node, "add")

    op_Add = op_AddV2

    def op_Sub(self, node):
        self._binary(node, "sub")

    def op_Mul(self, node):
        self._binary(node, "mul")

    def op_RealDiv(self, node):
        self._binary(node, "div")

    def op_BiasAdd(self, node):
        self._binary(node, "add")

    def op_FusedBatchNormV3(self, node):
        a = self.attrs(node)
        self.check_attrs(node, a)
        if a.get("is_training"):
            raise self.err(node, "is_training=true is not supported")
        ins = self.data_inputs(node)
        x = self.value(node, ins[0])
        g, b, m, v = (np.asarray(self.const(node, t, "batch norm parameter"),
                                 np.float64).reshape(-1) for t in ins[1:5])
        scale = g / np.sqrt(v + float(a.get("epsilon", 0.001)))
        self.emit(node["name"], "batch_norm", [x], None,
                  {"scale": scale.astype(np.float32),
                   "shift": (b - m * scale).astype(np.float32)},
                  self.shape_of(x), self.rank_of(x))

    op_FusedBatchNorm = op_FusedBatchNormV2 = op_FusedBatchNormV3

    def activation_op(self, node):
        a = self.attrs(node)
        self.check_attrs(node, a)
        kind = _ACT_OPS[node["op"]]
        if kind is None:
            raise self.err(node, f"unsupported activation op '{node['op']}'")
        ins = self.data_inputs(node)
        x = self.value(node, ins[0])
        attrs = {"type": kind}
        weights = None
        if kind == "leaky_relu":
            attrs["alpha"] = float(a.get("alpha", 0.2))
        if kind == "prelu":
            s = np.asarray(self.const(node, ins[1], "prelu alpha"), np.float32).reshape(-1)
            weights = {"slopes": s}
        self.emit(node["name"], "activation", [x], attrs, weights, self.shape_of(x),
                  self.rank_of(x))

    def op_Softmax(self, node):
        a = self.attrs(node)
        self.check_attrs(node, a)
        x = self.value(node, self.data_inputs(node)[0])
        self.emit(node["name"], "softmax", [x], None, None, self.shape_of(x), self.rank_of(x))

    # layout -----------------------------------------------------------------------------------
    def op_Pad(self, node):
        a = self.attrs(node)
        self.check_attrs(node, a)
        ins = self.data_inputs(node)
        x = self.value(node, ins[0])
        p = np.asarray(self.const(node, ins[1], "paddings")).astype(np.int64)
        if self.rank_of(x) != 4 or p.shape != (4, 2) or p[0].any() or (p < 0).any():
            raise self.err(node, f"only padding of H, W and C of a 4-D tensor is supported "
                                 f"(paddings {p.tolist()})")
        value = 0.0
        if node["op"] == "PadV2":
            value = float(np.asarray(self.const(node, ins[2], "constant_values")).reshape(-1)[0])
        s = self.shape_of(x)
        attrs = {"pads": mienfile.I64List([p[1, 0], p[2, 0], p[1, 1], p[2, 1], p[3, 0], p[3, 1]])}
        if value != 0.0:
            attrs["value"] = value
        grow = lambda d, a_, b_: -1 if d < 0 else d + a_ + b_  # noqa: E731
        self.emit(node["name"], "pad", [x], attrs, None,
                  [grow(s[0], *p[1]), grow(s[1], *p[2]), s[2] + p[3, 0] + p[3, 1]])

    op_PadV2 = op_Pad

    def op_ConcatV2(self, node):
        a = self.attrs(node)
        self.check_attrs(node, a)
        ins = self.data_inputs(node)
        axis = int(np.asarray(self.const(node, ins[-1], "axis")).reshape(-1)[0])
        xs = [self.value(node, t) for t in ins[:-1]]
        ranks = {self.rank_of(x) for x in xs}
        if len(ranks) != 1:
            raise self.err(node, "inputs of different ranks")
        rank = ranks.pop()
        if axis % rank != rank - 1:
            raise self.err(node, f"concatenation on axis {axis} of rank-{rank} tensors is not "
                                 "supported (only the last axis)")
        shapes = [self.shape_of(x) for x in xs]
        if any(s[:2] != shapes[0][:2] for s in shapes):
            raise self.err(node, f"inputs differ in spatial size: {shapes}")
        self.emit(node["name"], "concat", xs, None, None,
                  [shapes[0][0], shapes[0][1], sum(s[2] for s in shapes)], rank)

    def op_Reshape(self, node):
        a = self.attrs(node)
        self.check_attrs(node, a)
        ins = self.data_inputs(node)
        x = self.value(node, ins[0])
        target = [int(v) for v in np.asarray(self.const(node, ins[1], "shape")).reshape(-1)]
        s = self.shape_of(x)
        if min(s) < 0:
            raise self.err(node, "reshape of a tensor of unknown size is not supported")
        per = s[0] * s[1] * s[2]
        if len(target) < 2 or len(target) > 4:
            raise self.err(node, f"reshape to rank {len(target)} is not supported")
        if target[0] not in (-1, 1):
            raise self.err(node, f"reshape changes the batch dimension ({target})")
        dims = target[1:]
        if target[0] == -1 and -1 in dims:
            raise self.err(node, f"reshape target {target} has two unknown dimensions")
        if dims.count(-1) > 1:
            raise self.err(node, f"reshape target {target} has two unknown dimensions")
        if -1 in dims:
            known = int(np.prod([d for d in dims if d != -1])) if len(dims) > 1 else 1
            if known <= 0 or per % known:
                raise self.err(node, f"cannot reshape {s} to {target}")
            dims[dims.index(-1)] = per // known
        if int(np.prod(dims)) != per:
            raise self.err(node, f"cannot reshape {s} ({per} values per sample) to {target}")
        rank = len(target)
        if rank == 2:
            self.emit(node["name"], "flatten", [x], None, None, [1, 1, per], rank=2)
            return
        new = dims if rank == 4 else [dims[0], 1, dims[1]]
        self.emit(node["name"], "reshape", [x], {"shape": mienfile.I64List(new)}, None, new,
                  rank)

    def op_Squeeze(self, node):
        a = self.attrs(node)
        self.check_attrs(node, a)
        x = self.value(node, self.data_inputs(node)[0])
        axes = sorted(int(v) % 4 for v in a.get("squeeze_dims", []))
        s = self.shape_of(x)
        if self.rank_of(x) != 4 or axes != [1, 2] or s[:2] != [1, 1]:
            raise self.err(node, f"only squeezing H and W of N x 1 x 1 x C is supported "
                                 f"(axes {axes}, shape {s})")
        self.emit(node["name"], "flatten", [x], None, None, [1, 1, s[2]], rank=2)

    def _resize(self, node, bilinear):
        a = self.attrs(node)
        self.check_attrs(node, a)
        ins = self.data_inputs(node)
        x = self.value(node, ins[0])
        size = [int(v) for v in np.asarray(self.const(node, ins[1], "size")).reshape(-1)]
        s = self.shape_of(x)
        ac, hp = bool(a.get("align_corners")), bool(a.get("half_pixel_centers"))
        if bilinear:
            self.emit(node["name"], "resize_bilinear", [x],
                      {"size": mienfile.I64List(size), "align_corners": int(ac),
                       "half_pixel_centers": int(hp)}, None, [size[0], size[1], s[2]])
            return
        if min(s[:2]) < 0:
            raise self.err(node, "nearest resize of a tensor of unknown size")
        fh, fw = size[0] // s[0], size[1] // s[1]
        if ac or fh != fw or fh * s[0] != size[0] or fw * s[1] != size[1] or fh < 1:
            raise self.err(node, f"only an integer nearest upsampling without align_corners "
                                 f"is supported ({s[:2]} -> {size})")
        self.emit(node["name"], "upsample_nearest", [x], {"scale": fh}, None,
                  [size[0], size[1], s[2]])

    def op_ResizeNearestNeighbor(self, node):
        self._resize(node, False)

    def op_ResizeBilinear(self, node):
        self._resize(node, True)


def _signature_outputs(model):
    sig = model.get("signature") or (model.get("userDefinedMetadata") or {}).get("signature")
    if sig and sig.get("outputs"):
        return [o.get("name", k) for k, o in sig["outputs"].items()]
    return None


def convert(model_json, output_names=None, output_order=None, input_names=None):
    """Converts a TF.js graph model; returns Converted. output_names: {tf output: name};
    output_order: TF output names in the order wanted (default: signature order, else
    graph sinks in file order); input_names: {tf placeholder: name}."""
    with open(model_json) as f:
        model = json.load(f)
    c = _Converter(model_json, model)
    c.input_names = dict(input_names or {})
    c.run()
    tf_outs = output_order or _signature_outputs(model)
    if not tf_outs:
        consumed = set()
        for n in c.tf_nodes.values():
            for r in n.get("input", []):
                consumed.add(r.lstrip("^").split(":")[0])
        tf_outs = [n for n, node in c.tf_nodes.items()
                   if n not in consumed and node["op"] not in ("Const", "NoOp")]
    tf_outs = [o[:-2] if o.endswith(":0") else o for o in tf_outs]
    output_names = dict(output_names or {})
    for o in output_names:
        if o not in tf_outs:
            raise ConvertError(f"{model_json}: --output names '{o}', the model's outputs are "
                               f"{tf_outs}")
    # Resolve each TF output to the mien value that computes it.
    produced = []
    for o in tf_outs:
        if o not in c.alias:
            raise ConvertError(f"{model_json}: output '{o}' is not computed by the graph "
                               "(a constant?)")
        produced.append(c.alias[o])
    if len(set(produced)) != len(produced):
        raise ConvertError(f"{model_json}: two outputs are the same tensor")
    g = c.g
    g.outputs = list(produced)
    # A fused pair takes the name of its last TF op (keep="consumer"); graph outputs are
    # never fused away, so the names in `produced` stay valid.
    passes.simplify(g, keep="consumer")
    # Now give outputs their final names.
    final = {}
    for o, v in zip(tf_outs, produced):
        want = output_names.get(o, o)
        if want != v:
            if want in g.value_names():
                raise ConvertError(f"{model_json}: output name '{want}' is already the "
                                   "name of another value")
            node = g.producer_map().get(v)
            if node is None:
                raise ConvertError(f"{model_json}: output '{o}' is a graph input")
            g.rename_node(node, want)
        final[o] = want
    g.outputs = [final[o] for o in tf_outs]
    b = writer.to_builder(g)
    shapes = {name: [h, w, ch] for name, h, w, ch in g.inputs}
    for n in g.nodes:
        shapes[n.name] = n.shape
    tf_inputs = {}
    for name, node in c.tf_nodes.items():
        if node["op"] in ("Placeholder", "PlaceholderWithDefault"):
            tf_inputs[name] = c.alias[name]
    return Converted(b, tf_inputs, final, shapes, model_json)


# ---------------------------------------------------------------------------------------
# Metadata and test vectors (shared with faceapi_to_mien / convert_defaults)

def parse_meta_args(pairs, json_file=None):
    meta = {}
    if json_file:
        with open(json_file) as f:
            meta.update(json.load(f))
    for p in pairs or []:
        key, sep, raw = p.partition("=")
        if not sep or not key:
            raise ConvertError(f"--meta wants key=value, got '{p}'")
        try:
            meta[key] = json.loads(raw)
        except json.JSONDecodeError:
            meta[key] = raw
    return writer.typed_meta(meta)


def sanitise(name):
    """File-name form of a tensor name, as tools/reference/npy.mjs writes it."""
    name = name[:-2] if name.endswith(":0") else name
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def read_test_dir(d, tf_inputs, tf_outputs):
    """Reads DIR/<k>.input.<tf input>.npy and DIR/<k>.output.<tf output>.npy ->
    [(inputs by mien name, outputs by mien name)]."""
    ks = sorted({os.path.basename(p).split(".")[0] for p in glob.glob(os.path.join(d, "*.npy"))})
    tests = []
    for k in ks:
        ins, outs = {}, {}
        for tf, mien in tf_inputs.items():
            f = os.path.join(d, f"{k}.input.{sanitise(tf)}.npy")
            if not os.path.isfile(f):
                raise ConvertError(f"test vector {k}: missing {f}")
            ins[mien] = np.load(f)
        for tf, mien in tf_outputs.items():
            f = os.path.join(d, f"{k}.output.{sanitise(tf)}.npy")
            if not os.path.isfile(f):
                raise ConvertError(f"test vector {k}: missing {f}")
            outs[mien] = np.load(f)
        tests.append((ins, outs))
    if not tests:
        raise ConvertError(f"no test vectors (<k>.input.*.npy) in {d}")
    return tests


def run_reference(model_json, input_npys, workdir):
    """Runs tools/reference/run_tfjs.mjs on each input; returns [(input file, {tf output name:
    array})]."""
    script = os.path.join(REPO, "tools", "reference", "run_tfjs.mjs")
    if not os.path.isfile(script):
        script = os.path.join(REPO, "tools", "reference", "tfjs_quick.mjs")
    results = []
    for k, x in enumerate(input_npys):
        prefix = os.path.join(workdir, f"ref{k}")
        r = subprocess.run(["node", script, model_json, x, prefix], capture_output=True, text=True)
        if r.returncode != 0:
            raise ConvertError(f"reference run failed ({script}):\n{r.stderr.strip()}")
        with open(prefix + ".json") as f:
            manifest = json.load(f)
        outs = {}
        for o in manifest["outputs"]:
            outs[o["name"]] = np.load(os.path.join(workdir, o["file"]))
        results.append((x, outs))
    return results


def attach_tests(conv, tests):
    """tests: [(inputs {mien name: array}, outputs {mien name: array})]."""
    for ins, outs in tests:
        conv.builder.add_test_vector(ins, {k: as_nhwc(v) for k, v in outs.items()})


def as_nhwc(a):
    """TF tensor of rank 2 [N, C] / 3 [N, A, B] / 4 -> the NHWC form mien holds it in."""
    a = np.asarray(a, np.float32)
    if a.ndim == 2:
        return a.reshape(a.shape[0], 1, 1, a.shape[1])
    if a.ndim == 3:
        return a.reshape(a.shape[0], a.shape[1], 1, a.shape[2])
    if a.ndim == 4:
        return a
    raise ConvertError(f"output of rank {a.ndim} cannot be stored as NHWC")


def add_output_args(ap, test_input_metavar, test_input_help=None):
    """The options tfjs_to_mien and faceapi_to_mien share: metadata, reference test inputs,
    tolerance, --no-check."""
    ap.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--meta-json", metavar="FILE")
    ap.add_argument("--test-input", action="append", default=[], metavar=test_input_metavar,
                    help=test_input_help)
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--no-check", action="store_true")


def check_file(path, tolerance):
    ok, worst = numpy_runner.check(path, verbose=True)
    if not ok:
        raise ConvertError(f"{path}: numpy_runner does not reproduce the reference outputs "
                           f"(worst {worst:.3g} > tolerance {tolerance:.3g})")
    return worst


def main(argv=None):
    ap = argparse.ArgumentParser(description="TF.js graph model -> .mien",
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__)
    ap.add_argument("model_json")
    ap.add_argument("out")
    add_output_args(ap, "X.npy", "run tools/reference/run_tfjs.mjs on it to make a test vector")
    ap.add_argument("--output", action="append", default=[], metavar="TFNAME=NAME",
                    help="name a graph output (default: the TF output node's name)")
    ap.add_argument("--input", action="append", default=[], metavar="TFNAME=NAME",
                    help="name a graph input (default: the TF placeholder's name)")
    ap.add_argument("--test-vectors", metavar="DIR")
    a = ap.parse_args(argv)
    try:
        renames, in_renames = {}, {}
        for specs, dest, opt in ((a.output, renames, "--output"), (a.input, in_renames, "--input")):
            for spec in specs:
                k, sep, v = spec.partition("=")
                if not sep or not k or not v:
                    raise ConvertError(f"{opt} wants TFNAME=NAME, got '{spec}'")
                dest[k[:-2] if k.endswith(":0") else k] = v
        meta = parse_meta_args(a.meta, a.meta_json)
        conv = convert(a.model_json, renames, input_names=in_renames)
        tests = []
        if a.test_vectors:
            tests += read_test_dir(a.test_vectors, conv.tf_inputs, conv.tf_outputs)
        if a.test_input:
            if len(conv.tf_inputs) != 1:
                raise ConvertError("--test-input needs a single-input model")
            (in_name,) = conv.tf_inputs.values()
            with tempfile.TemporaryDirectory() as tmp:
                for x, outs in run_reference(a.model_json, a.test_input, tmp):
                    got = {}
                    for tf, mien in conv.tf_outputs.items():
                        key = next((k for k in outs if k in (tf, tf + ":0")), None)
                        if key is None:
                            raise ConvertError(f"reference gave outputs {list(outs)}, "
                                               f"not '{tf}'")
                        got[mien] = outs[key]
                    tests.append(({in_name: np.load(x)}, got))
        attach_tests(conv, tests)
        conv.builder.save(a.out, meta, a.tolerance)
        print(f"wrote {a.out}: {len(conv.builder.nodes)} nodes, outputs "
              f"{conv.builder.outputs}, {len(tests)} test vector(s)")
        if tests and not a.no_check:
            check_file(a.out, a.tolerance)
        return 0
    except (ConvertError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
