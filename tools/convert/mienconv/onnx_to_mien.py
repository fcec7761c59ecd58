"""ONNX (PyTorch exports, YuNet) -> .mien, converting NCHW to NHWC.

    python3 -m mienconv.onnx_to_mien MODEL.onnx OUT.mien [--input-size H,W] [--fixed-size]
        [--detector yunet] [--color bgr --scale 1 --offset 0 --task ... --labels ...]
        [--test-image IMG] [--tests N] [--tolerance 1e-4] [--reference numpy|onnxruntime]
        [--no-fold] [--quiet]

How the layout is handled: every ONNX value is tracked with a layout that says how its
NCHW-semantics index maps onto the NHWC .mien value:
  nchw  [N,C,H,W]  the .mien value is [N,H,W,C]; weights go OIHW -> HWIO, depthwise
                   (group == channels) -> [KH,KW,C]; other groups -> block-diagonal conv2d
  nhwc  [N,H,W,C]  after Transpose(0,2,3,1): the same memory, no node
  rows  [N,L,K]    a Reshape of nhwc (YuNet's heads): the same memory, no node; as a graph
                   output it stays the N x H x W x K grid (anchor index = row*W + col)
  cl    [N,C,L]    a Reshape of nchw; only Transpose(0,2,1) -> rows may follow
  flat  [N,K]      the .mien value is N x 1 x 1 x K in NHWC flattening order; when that
                   differs from ONNX's CHW order (Flatten of an HxW map) the next
                   Gemm/MatMul weights are permuted so the result is the same
Shapes and shape subgraphs (Shape/Gather/Unsqueeze/Concat feeding Reshape, ...) are
resolved by running the numpy reference (onnx_reference.py) at the conversion size and,
for inputs of dynamic size, at a second size: whatever differs between the two depends on
the input size and must not be needed as a constant.

Ops: Conv, BatchNormalization, Relu, Clip, LeakyRelu, PRelu, Sigmoid, Tanh, HardSigmoid,
HardSwish, Add/Sub/Mul/Div (same shape, per-channel broadcast, or constant), Gemm, MatMul,
GlobalAveragePool, ReduceMean over H,W, MaxPool, AveragePool (pads, ceil_mode,
count_include_pad), Flatten, Reshape, Transpose (layout changes only), Concat (channels),
Resize/Upsample (nearest integer factor; linear to a fixed size), Softmax, Pad (constant),
Squeeze/Unsqueeze of 1x1 maps, Constant, Identity, Dropout, Cast, Expand (dropped: only as
a no-op or in front of an Add/Sub/Mul that broadcasts the same way, as in PyTorch's SE
Mul(x, Expand(s, Shape(x))); otherwise an error). x*sigmoid(x) -> swish, x*hardsigmoid(x)
-> hard_swish; squeeze-excitation blocks -> squeeze_excite; BatchNorm and activations fused
into convolutions.

Test vectors: outputs of the numpy reference on the original ONNX graph (or onnxruntime
via tools/reference/run_onnx.mjs with --reference onnxruntime), converted to NHWC.
"""

import argparse
import os
import subprocess
import sys

import numpy as np
import onnx

from . import cli, onnx_reference as ref, passes, writer
from .ir import ConvertError, Graph

F32_MAX = 3.4028234663852886e38


class V:
    """A runtime ONNX value as a .mien value."""
    __slots__ = ("m", "layout", "shape", "dyn", "perm", "mshape")

    def __init__(self, m, layout, shape, dyn, mshape, perm=None):
        self.m = m                # .mien value name
        self.layout = layout      # nchw | nhwc | rows | cl | flat
        self.shape = tuple(shape)  # ONNX shape at the conversion size
        self.dyn = tuple(dyn)     # per ONNX axis: depends on the input size
        self.mshape = tuple(mshape)  # the .mien NHWC shape at the conversion size
        self.perm = perm          # flat only: mien element i is ONNX element perm[i]

    def channels(self):
        return self.mshape[3]


def _sanitize(name):
    return name.strip("/").replace("/", ".") or "node"


class Converter:
    def __init__(self, model, path, input_hw=None, fixed=False, say=None):
        self.model = model
        self.path = path
        self.opset = ref.opset_of(model)
        self.say = say or (lambda *a: None)
        self.g = Graph()
        self.v = {}
        gr = model.graph
        self.inits = {t.name for t in gr.initializer}
        self.inputs = [i for i in gr.input if i.name not in self.inits]
        self.input_hw = input_hw
        self.fixed = fixed
        self.producer = {}
        for n in gr.node:
            for o in n.output:
                self.producer[o] = n
        self.readers = {}
        for n in gr.node:
            for i in n.input:
                self.readers.setdefault(i, []).append(n)

    # -- errors -----------------------------------------------------------------------
    def err(self, node, msg):
        return ConvertError("%s: node '%s' (%s): %s" % (os.path.basename(self.path),
                                                         node.name, node.op_type, msg))

    # -- shapes and constants ---------------------------------------------------------
    def input_specs(self):
        """-> [(name, dims at size 1, dims at size 2, dynamic flags)]"""
        specs = []
        for i in self.inputs:
            tt = i.type.tensor_type
            if tt.elem_type not in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16,
                                    onnx.TensorProto.DOUBLE):
                raise ConvertError("%s: input '%s' is not a float tensor"
                                   % (self.path, i.name))
            dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
                    for d in tt.shape.dim]
            if len(dims) not in (2, 4):
                raise ConvertError("%s: input '%s' has rank %d; NCHW (rank 4) or [N,K] "
                                   "inputs are supported" % (self.path, i.name, len(dims)))
            if dims[1] is None:
                raise ConvertError("%s: input '%s' has a dynamic channel count"
                                   % (self.path, i.name))
            d1, d2 = [1, dims[1]], [1, dims[1]]
            dyn = [True, False]
            for k in range(2, len(dims)):
                want = self.input_hw[k - 2] if self.input_hw else None
                if dims[k] is None:
                    if want is None:
                        want = 320
                        if k == 2:
                            self.say("onnx_to_mien: input '%s' has a dynamic size; "
                                     "converting at 320x320 (use --input-size)" % i.name)
                    d1.append(want)
                    d2.append(want * 2)
                    dyn.append(not self.fixed)
                else:
                    if want is not None and want != dims[k]:
                        raise ConvertError("%s: --input-size %s but the model input is "
                                           "fixed at %s" % (self.path, self.input_hw,
                                                            dims[2:]))
                    d1.append(dims[k])
                    d2.append(dims[k])
                    dyn.append(False)
            specs.append((i.name, d1, d2, dyn))
        return specs

    def discover(self):
        """Runs the reference at the conversion size (and a second size when the input
        size is dynamic) -> shapes, constants, runtime flags of all values."""
        specs = self.input_specs()
        self.specs = specs
        rng = np.random.default_rng(0)
        feeds1 = {n: rng.uniform(0, 1, d1) for n, d1, _, _ in specs}
        vals1 = ref.run(self.model, feeds1, keep_all=True)
        any_dyn = any(any(dy[2:]) for _, _, _, dy in specs)
        vals2 = None
        if any_dyn:
            feeds2 = {n: rng.uniform(0, 1, d2) for n, _, d2, _ in specs}
            vals2 = ref.run(self.model, feeds2, keep_all=True)
        runtime = set(n for n, _, _, _ in specs)
        for node in self.model.graph.node:
            if node.op_type == "Shape":
                continue
            if any(i in runtime for i in node.input if i):
                runtime.update(o for o in node.output if o)
        self.runtime = runtime
        self.shape1 = {k: np.shape(v) for k, v in vals1.items()}
        self.shape2 = {k: np.shape(v) for k, v in vals2.items()} if vals2 else self.shape1
        self.consts = {k: v for k, v in vals1.items() if k not in runtime}
        self.dyn_consts = set()
        if vals2:
            for k in self.consts:
                a, b = np.asarray(vals1[k]), np.asarray(vals2[k])
                if a.shape != b.shape or not np.array_equal(a, b):
                    self.dyn_consts.add(k)

    def const(self, node, name, what):
        if name not in self.consts:
            raise self.err(node, "%s ('%s') must be a constant, it depends on the input"
                           % (what, name))
        if name in self.dyn_consts:
            raise self.err(node, "%s ('%s') depends on the input size" % (what, name))
        return np.asarray(self.consts[name])

    def opt_const(self, node, idx, what):
        if len(node.input) <= idx or not node.input[idx]:
            return None
        return self.const(node, node.input[idx], what)

    def dyn_of(self, name):
        s1, s2 = self.shape1[name], self.shape2[name]
        if len(s1) != len(s2):
            raise ConvertError("%s: rank of '%s' depends on the input size" % (self.path, name))
        return tuple(a != b for a, b in zip(s1, s2))

    # -- emitting -----------------------------------------------------------------------
    def base(self, node):
        return _sanitize(node.name) if node.name else "%s_%d" % (
            node.op_type, list(self.model.graph.node).index(node))

    def emit(self, op, name, inputs, attrs=None, weights=None):
        return self.g.add(op, name, inputs, attrs, weights)

    def rt(self, node, idx=0):
        name = node.input[idx]
        if name not in self.v:
            raise self.err(node, "input '%s' is not a runtime value" % name)
        return self.v[name]

    def out_v(self, node, m, layout, mshape=None, perm=None, idx=0):
        name = node.output[idx]
        shape = self.shape1[name]
        dyn = self.dyn_of(name)
        if mshape is None:
            mshape = self.mien_shape(node, layout, shape)
        v = V(m, layout, shape, dyn, mshape, perm)
        self.v[name] = v
        return v

    def mien_shape(self, node, layout, shape):
        if layout == "nchw":
            return (shape[0], shape[2], shape[3], shape[1])
        if layout == "nhwc":
            return tuple(shape)
        if layout == "flat":
            return (shape[0], 1, 1, shape[1])
        raise self.err(node, "internal: mien shape of a %s value" % layout)

    # -- conversion ---------------------------------------------------------------------
    def run(self):
        self.discover()
        for name, d1, d2, dyn in self.specs:
            if len(d1) == 4:
                h = -1 if dyn[2] else d1[2]
                w = -1 if dyn[3] else d1[3]
                self.g.add_input(name, h, w, d1[1])
                self.v[name] = V(name, "nchw", d1, dyn, (1, d1[2], d1[3], d1[1]))
            else:
                self.g.add_input(name, 1, 1, d1[1])
                self.v[name] = V(name, "flat", d1, dyn, (1, 1, 1, d1[1]))
        # output names are kept for the outputs: no other node may take them
        inputs = set(n for n, _, _, _ in self.specs)
        self.g.reserve_all(_sanitize(o.name) for o in self.model.graph.output
                             if _sanitize(o.name) not in inputs)
        for node in self.model.graph.node:
            if not any(o in self.runtime for o in node.output if o):
                continue  # folded into constants
            fn = getattr(self, "op_" + node.op_type, None)
            if fn is None or node.domain not in ("", "ai.onnx"):
                raise self.err(node, "operator not supported by onnx_to_mien")
            fn(node)
        self.finish_outputs()
        return self.g

    def finish_outputs(self):
        outs = []
        self.out_layout = {}
        for o in self.model.graph.output:
            if o.name not in self.v:
                raise ConvertError("%s: output '%s' does not depend on the input"
                                   % (self.path, o.name))
            v = self.v[o.name]
            if v.layout == "flat" and v.perm is not None:
                raise ConvertError("%s: output '%s' is a Flatten of an NCHW map; its NHWC "
                                   "element order would differ from ONNX's" % (self.path,
                                                                              o.name))
            if v.layout == "cl":
                raise ConvertError("%s: output '%s' has layout [N,C,H*W], which has no NHWC "
                                   "equivalent" % (self.path, o.name))
            m = v.m
            prod = self.g.producer_map().get(m)
            want = _sanitize(o.name)
            if want not in self.g.value_names():
                self.g.release(want)  # reserved in run(); free it now
            taken = want in self.g.value_names() and want != m
            if prod is not None and m not in outs and not taken and \
                    m not in self.g.outputs:
                self.g.rename_node(prod, want)
                for vv in self.v.values():
                    if vv.m == m:
                        vv.m = want
                m = want
            else:
                m = self.g.add("activation", want, [m], {"type": "none"})
            outs.append(m)
            self.out_layout[o.name] = (m, v.layout, v.mshape)
        self.g.outputs = outs

    # -- helpers --------------------------------------------------------------------------
    def channel_vector(self, node, k, v, what):
        """A constant broadcast against v along its channel axis only -> per-channel vector
        in .mien channel order (length C), or None when it varies elsewhere."""
        k = np.asarray(k, np.float64)
        rank = len(v.shape)
        if k.ndim > rank:
            return None
        kk = k.reshape((1,) * (rank - k.ndim) + k.shape)
        cax = {"nchw": 1, "nhwc": 3, "rows": 2, "flat": 1, "cl": 1}[v.layout]
        c = v.shape[cax]
        for ax in range(rank):
            if ax != cax and kk.shape[ax] != 1:
                return None
        if kk.shape[cax] not in (1, c):
            return None
        vec = np.broadcast_to(kk.reshape(-1), (c,)).copy()
        if v.layout == "flat" and v.perm is not None:
            vec = vec[v.perm]
        return vec

    def affine(self, node, v, scale, shift, name=None):
        m = self.emit("batch_norm", name or self.base(node), [v.m], {},
                      {"scale": scale, "shift": shift})
        return self.out_v(node, m, v.layout, v.mshape, v.perm)

    def act(self, node, v, attrs, weights=None):
        m = self.emit("activation", self.base(node), [v.m], attrs, weights)
        return self.out_v(node, m, v.layout, v.mshape, v.perm)

    def single_reader(self, value):
        outs = {o.name for o in self.model.graph.output}
        return len(self.readers.get(value, [])) == 1 and value not in outs

    # -- ops --------------------------------------------------------------------------------
    def op_Conv(self, node):
        v = self.rt(node)
        if v.layout != "nchw":
            raise self.err(node, "input is not an NCHW map (layout %s)" % v.layout)
        a = ref.attrs_of(node)
        w = self.const(node, node.input[1], "weight")
        b = self.opt_const(node, 2, "bias")
        if w.ndim != 4:
            raise self.err(node, "only 2-D convolutions are supported")
        o, ig, kh, kw = w.shape
        c = v.shape[1]
        group = int(a.get("group", 1))
        strides = [int(s) for s in a.get("strides", [1, 1])]
        dil = [int(d) for d in a.get("dilations", [1, 1])]
        if strides != [1, 1] and dil != [1, 1]:
            raise self.err(node, "strides and dilations together are not supported")
        attrs = {"strides": strides, "dilations": dil}
        attrs.update(self.padding(node, a, v, [kh, kw], strides, dil))
        weights = {}
        if group == 1:
            weights["weight"] = w.transpose(2, 3, 1, 0)
            op = "conv2d"
        elif group == c and o == c and ig == 1:
            weights["weight"] = w[:, 0].transpose(1, 2, 0)
            op = "depthwise_conv2d"
        else:
            if ig * group != c or o % group:
                raise self.err(node, "weight %s does not fit %d channels in %d groups"
                               % (w.shape, c, group))
            og = o // group
            full = np.zeros((kh, kw, c, o))
            for gi in range(group):
                full[:, :, gi * ig:(gi + 1) * ig, gi * og:(gi + 1) * og] = \
                    w[gi * og:(gi + 1) * og].transpose(2, 3, 1, 0)
            weights["weight"] = full
            op = "conv2d"
            self.say("onnx_to_mien: %s: group %d conv expanded to a dense conv2d"
                     % (node.name, group))
        if b is not None:
            weights["bias"] = b.reshape(-1)
        m = self.emit(op, self.base(node), [v.m], attrs, weights)
        self.out_v(node, m, "nchw")

    def padding(self, node, a, v, kernel, strides, dil, extra=(0, 0)):
        ap = a.get("auto_pad", "NOTSET")
        if ap == "SAME_UPPER" and extra == (0, 0):
            return {"padding": "same"}
        if ap == "VALID":
            pads = [0, 0, 0, 0]
        elif ap in ("SAME_LOWER", "SAME_UPPER"):
            if any(v.dyn[2:]):
                raise self.err(node, "%s padding on an input of dynamic size" % ap)
            pads = ref.auto_pads(ap, v.shape[2:], kernel, strides, dil)
        else:
            pads = [int(p) for p in a.get("pads", [0, 0, 0, 0])]
        if len(pads) != 4 or min(pads) < 0:
            raise self.err(node, "pads %r are not supported" % (pads,))
        pads = [pads[0], pads[1], pads[2] + extra[0], pads[3] + extra[1]]
        if not any(pads):
            return {"padding": "valid"}
        return {"padding": "explicit", "pads": pads}

    def op_BatchNormalization(self, node):
        v = self.rt(node)
        a = ref.attrs_of(node)
        if int(a.get("training_mode", 0)) or len([o for o in node.output if o]) > 1:
            raise self.err(node, "training-mode BatchNormalization")
        if v.layout not in ("nchw", "flat"):
            raise self.err(node, "channel axis 1 of a %s value is not the .mien channel axis"
                           % v.layout)
        scale, bias, mean, var = (self.const(node, node.input[i], "parameter")
                                  for i in range(1, 5))
        eps = float(a.get("epsilon", 1e-5))
        s = scale / np.sqrt(var + eps)
        t = bias - mean * s
        if v.layout == "flat" and v.perm is not None:
            s, t = s[v.perm], t[v.perm]
        self.affine(node, v, s, t)

    def op_Relu(self, node):
        self.act(node, self.rt(node), {"type": "relu"})

    def op_Sigmoid(self, node):
        self.act(node, self.rt(node), {"type": "sigmoid"})

    def op_Tanh(self, node):
        self.act(node, self.rt(node), {"type": "tanh"})

    def op_HardSwish(self, node):
        self.act(node, self.rt(node), {"type": "hard_swish"})

    def op_LeakyRelu(self, node):
        a = ref.attrs_of(node)
        self.act(node, self.rt(node), {"type": "leaky_relu",
                                       "alpha": float(a.get("alpha", 0.01))})

    def op_Clip(self, node):
        v = self.rt(node)
        if self.opset >= 11:
            lo = self.opt_const(node, 1, "min")
            hi = self.opt_const(node, 2, "max")
            lo = -np.inf if lo is None else float(lo)
            hi = np.inf if hi is None else float(hi)
        else:
            a = ref.attrs_of(node)
            lo, hi = float(a.get("min", -np.inf)), float(a.get("max", np.inf))
        if lo == 0 and hi == 6:
            attrs = {"type": "relu6"}
        elif lo == 0 and hi >= F32_MAX:
            attrs = {"type": "relu"}
        else:
            attrs = {"type": "clip", "clip": [max(lo, -F32_MAX), min(hi, F32_MAX)]}
        self.act(node, v, attrs)

    def op_PRelu(self, node):
        v = self.rt(node)
        slope = self.const(node, node.input[1], "slope")
        vec = self.channel_vector(node, slope, v, "slope")
        if vec is None:
            raise self.err(node, "slope of shape %s is not per channel" % (slope.shape,))
        self.act(node, v, {"type": "prelu"}, {"slopes": vec})

    def op_HardSigmoid(self, node):
        v = self.rt(node)
        a = ref.attrs_of(node)
        c = v.channels()
        alpha, beta = float(a.get("alpha", 0.2)), float(a.get("beta", 0.5))
        m = self.emit("batch_norm", self.base(node) + "_affine", [v.m], {},
                      {"scale": np.full(c, alpha), "shift": np.full(c, beta)})
        m = self.emit("activation", self.base(node), [m], {"type": "clip", "clip": [0.0, 1.0]})
        self.out_v(node, m, v.layout, v.mshape, v.perm)

    def _gate_pattern(self, node):
        """Mul(x, Sigmoid(x)) -> swish, Mul(x, HardSigmoid(x)) -> hard_swish."""
        for xi in (0, 1):
            x, s = node.input[xi], node.input[1 - xi]
            p = self.producer.get(s)
            if p is None or p.input[0] != x or x not in self.v:
                continue
            if p.op_type == "Sigmoid":
                return x, "swish"
            if p.op_type == "HardSigmoid":
                a = ref.attrs_of(p)
                if abs(float(a.get("alpha", 0.2)) - 1 / 6) < 1e-6 and \
                        float(a.get("beta", 0.5)) == 0.5:
                    return x, "hard_swish"
        return None

    def op_Mul(self, node):
        self.binary(node, "mul")

    def op_Add(self, node):
        self.binary(node, "add")

    def op_Sub(self, node):
        self.binary(node, "sub")

    def op_Div(self, node):
        self.binary(node, "div")

    def binary(self, node, kind):
        a_rt = node.input[0] in self.v
        b_rt = node.input[1] in self.v
        if kind == "mul" and a_rt and b_rt:
            gate = self._gate_pattern(node)
            if gate:
                x, act = gate
                self.act(node, self.v[x], {"type": act})
                return
        if a_rt and b_rt:
            a, b = self.v[node.input[0]], self.v[node.input[1]]
            if kind == "div":
                raise self.err(node, "division by a runtime tensor is not supported")
            if a.layout != b.layout or (a.layout == "flat" and not _same_perm(a.perm, b.perm)):
                raise self.err(node, "inputs have different layouts (%s, %s)"
                               % (a.layout, b.layout))
            full = self.shape1[node.output[0]]
            if a.shape != full:
                a, b = b, a
                swapped = True
            else:
                swapped = False
            if a.shape != full:
                raise self.err(node, "broadcast of %s and %s is not supported"
                               % (a.shape, b.shape))
            if b.shape != a.shape:
                ok = a.layout == "nchw" and b.shape == (a.shape[0], a.shape[1], 1, 1)
                if not ok:
                    raise self.err(node, "broadcast of %s against %s is not supported (only "
                                   "N x C x 1 x 1)" % (b.shape, a.shape))
            base = self.base(node)
            if kind == "sub":
                # a - b, or b - a when swapped: negate the subtrahend, then add
                sub = a if swapped else b
                keep = b if swapped else a
                c = sub.channels()
                neg = self.emit("batch_norm", base + "_neg", [sub.m], {},
                                {"scale": -np.ones(c), "shift": np.zeros(c)})
                if sub is a:  # the full-size one is negated: add(neg, keep)
                    m = self.emit("add", base, [neg, keep.m])
                else:
                    m = self.emit("add", base, [keep.m, neg])
            else:
                m = self.emit(kind, base, [a.m, b.m])
            self.out_v(node, m, a.layout, a.mshape, a.perm)
            return
        if not a_rt and not b_rt:
            raise self.err(node, "internal: no runtime input")
        vi = 0 if a_rt else 1
        v = self.v[node.input[vi]]
        k = self.const(node, node.input[1 - vi], "operand")
        if tuple(self.shape1[node.output[0]]) != v.shape:
            raise self.err(node, "the constant operand %s broadcasts the input %s"
                           % (k.shape, v.shape))
        vec = self.channel_vector(node, k, v, "operand")
        if vec is None:
            raise self.err(node, "constant of shape %s is neither a scalar nor per channel"
                           % (k.shape,))
        c = len(vec)
        if kind == "add":
            self.affine(node, v, np.ones(c), vec)
        elif kind == "sub":
            if vi == 0:
                self.affine(node, v, np.ones(c), -vec)
            else:
                self.affine(node, v, -np.ones(c), vec)
        elif kind == "mul":
            self.affine(node, v, vec, np.zeros(c))
        else:
            if vi == 1:
                raise self.err(node, "constant divided by a runtime tensor")
            self.affine(node, v, 1.0 / vec, np.zeros(c))

    def op_GlobalAveragePool(self, node):
        v = self.rt(node)
        if v.layout != "nchw":
            raise self.err(node, "input is not an NCHW map")
        m = self.emit("global_avg_pool", self.base(node), [v.m])
        self.out_v(node, m, "nchw")

    def op_ReduceMean(self, node):
        v = self.rt(node)
        a = ref.attrs_of(node)
        axes = ref._axes(a, [None] + [self.opt_const(node, 1, "axes")], 1, self.opset, 18)
        if v.layout != "nchw" or axes is None or sorted(x % 4 for x in axes) != [2, 3]:
            raise self.err(node, "only the mean over H and W of an NCHW map is supported")
        m = self.emit("global_avg_pool", self.base(node), [v.m])
        if int(a.get("keepdims", 1)):
            self.out_v(node, m, "nchw")
        else:
            self.out_v(node, m, "flat")

    def _pool(self, node, op):
        v = self.rt(node)
        if v.layout != "nchw":
            raise self.err(node, "input is not an NCHW map")
        a = ref.attrs_of(node)
        if len([o for o in node.output if o]) > 1:
            raise self.err(node, "the indices output is not supported")
        k = [int(x) for x in a["kernel_shape"]]
        if len(k) != 2:
            raise self.err(node, "only 2-D pooling is supported")
        strides = [int(x) for x in a.get("strides", [1, 1])]
        if [int(x) for x in a.get("dilations", [1, 1])] != [1, 1]:
            raise self.err(node, "dilated pooling is not supported")
        # ceil_mode: the extra cells at the end become padding that the op ignores
        out = self.shape1[node.output[0]]
        a2 = dict(a)
        a2.pop("ceil_mode", None)
        base_pads = self.padding(node, a2, v, k, strides, [1, 1])
        pads = base_pads.get("pads", [0, 0, 0, 0]) if base_pads["padding"] != "same" else None
        extra = (0, 0)
        if int(a.get("ceil_mode", 0)):
            if pads is None:
                raise self.err(node, "ceil_mode with SAME padding")
            extra = tuple(max(0, (out[2 + i] - 1) * strides[i] + k[i] -
                              (v.shape[2 + i] + pads[i] + pads[i + 2])) for i in range(2))
            if any(v.dyn[2:]):
                out2 = self.shape2[node.output[0]]
                in2 = self.shape2[node.input[0]]
                extra2 = tuple(max(0, (out2[2 + i] - 1) * strides[i] + k[i] -
                                   (in2[2 + i] + pads[i] + pads[i + 2])) for i in range(2))
                if extra2 != extra:
                    raise self.err(node, "ceil_mode padding depends on the input size")
        src = v.m
        attrs = {"kernel": k, "strides": strides}
        if op == "avg_pool" and int(a.get("count_include_pad", 0)) and pads and any(pads):
            # padded zeros count: pad explicitly, then pool the padded map
            src = self.emit("pad", self.base(node) + "_pad", [src],
                            {"pads": [pads[0], pads[1], pads[2], pads[3], 0, 0],
                             "value": 0.0})
            pads = [0, 0, 0, 0]
        if pads is None:
            attrs["padding"] = "same"
        else:
            p = [pads[0], pads[1], pads[2] + extra[0], pads[3] + extra[1]]
            if any(p):
                attrs.update({"padding": "explicit", "pads": p})
            else:
                attrs["padding"] = "valid"
        m = self.emit(op, self.base(node), [src], attrs)
        self.out_v(node, m, "nchw")

    def op_MaxPool(self, node):
        self._pool(node, "max_pool")

    def op_AveragePool(self, node):
        self._pool(node, "avg_pool")

    def _as_flat(self, node, v):
        """-> (mien value, perm) of v seen as [N, K] in ONNX (CHW) order."""
        if v.layout == "flat":
            return v.m, v.perm
        if v.layout == "nchw":
            n, c, h, w = v.shape
            if any(v.dyn[2:]):
                raise self.err(node, "flattening a map of dynamic size")
            if h == 1 and w == 1:
                return v.m, None
            perm = np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).reshape(-1)
            m = self.emit("flatten", self.base(node) + "_flatten", [v.m])
            return m, perm
        if v.layout in ("nhwc", "rows"):
            if any(v.dyn[1:]):
                raise self.err(node, "flattening a map of dynamic size")
            if v.mshape[1] == 1 and v.mshape[2] == 1:
                return v.m, None
            return self.emit("flatten", self.base(node) + "_flatten", [v.m]), None
        raise self.err(node, "cannot flatten a %s value" % v.layout)

    def op_Flatten(self, node):
        v = self.rt(node)
        a = ref.attrs_of(node)
        if int(a.get("axis", 1)) % max(1, len(v.shape)) != 1 and len(v.shape) > 1:
            raise self.err(node, "only axis=1 is supported")
        m, perm = self._as_flat(node, v)
        self.out_v(node, m, "flat", perm=perm)

    def op_Gemm(self, node):
        v = self.rt(node)
        a = ref.attrs_of(node)
        if int(a.get("transA", 0)):
            raise self.err(node, "transA=1 is not supported")
        if node.input[1] in self.v:
            raise self.err(node, "the weight B must be a constant")
        B = self.const(node, node.input[1], "B")
        W = B.T if int(a.get("transB", 0)) else B
        W = W * float(a.get("alpha", 1.0))
        C = self.opt_const(node, 2, "C")
        if v.layout == "nchw" and v.shape[2:] == (1, 1):
            m, perm = v.m, None
        elif v.layout == "flat":
            m, perm = v.m, v.perm
        else:
            raise self.err(node, "Gemm input must be [N, K], got layout %s" % v.layout)
        self.dense(node, m, perm, W, C, float(a.get("beta", 1.0)))

    def dense(self, node, m, perm, W, C=None, beta=1.0):
        k, n_out = W.shape
        if perm is not None:
            W = W[perm]
        weights = {"weight": W}
        if C is not None:
            C = np.asarray(C, np.float64).reshape(-1)
            if C.size not in (1, n_out):
                raise self.err(node, "bias C of %d values for %d outputs" % (C.size, n_out))
            weights["bias"] = np.broadcast_to(C, (n_out,)) * beta
        out = self.emit("dense", self.base(node), [m], {}, weights)
        self.out_v(node, out, "flat")

    def op_MatMul(self, node):
        v = self.rt(node)
        if node.input[1] in self.v:
            raise self.err(node, "the second operand must be a constant")
        B = self.const(node, node.input[1], "B")
        if B.ndim != 2:
            raise self.err(node, "B of rank %d is not supported" % B.ndim)
        if v.layout == "flat":
            self.dense(node, v.m, v.perm, B)
        elif v.layout in ("nhwc", "rows"):
            m = self.emit("conv2d", self.base(node), [v.m], {"padding": "valid"},
                          {"weight": B.reshape(1, 1, B.shape[0], B.shape[1])})
            ms = v.mshape[:3] + (B.shape[1],)
            self.out_v(node, m, v.layout, ms)
        else:
            raise self.err(node, "MatMul over the last axis of a %s value has no NHWC "
                           "equivalent" % v.layout)

    # Elementwise ONNX ops whose .mien counterpart (add / mul, sub via add) broadcasts an
    # N x C x 1 x 1 second operand by itself (see binary()).
    BROADCASTING_READERS = ("Add", "Sub", "Mul")

    def op_Expand(self, node):
        """Expand(s, shape) broadcasts s (numpy rules). .mien has no such node: it is dropped
        when it changes nothing, or when every reader is an elementwise Add/Sub/Mul whose
        result is the same with s itself, because the reader broadcasts s anyway (PyTorch's
        squeeze-excitation x * s exports as Mul(x, Expand(s, Shape(x)))); binary() then
        checks that .mien can express that broadcast. The shape input itself is never
        needed, so it may depend on the input size."""
        v = self.rt(node)
        name = node.output[0]
        src = node.input[0]
        shapes = [(self.shape1, "conversion size")]
        if self.shape2 is not self.shape1:
            shapes.append((self.shape2, "second size"))
        if all(tuple(sh[name]) == tuple(sh[src]) for sh, _ in shapes):
            self.v[name] = v  # a no-op broadcast
            return
        outs = {o.name for o in self.model.graph.output}
        if name in outs:
            raise self.err(node, "an Expand of %s to %s as a graph output is not supported "
                           "(.mien has no broadcast node)" % (list(v.shape),
                                                              list(self.shape1[name])))
        readers = self.readers.get(name, [])
        if not readers:
            raise self.err(node, "internal: Expand without readers")
        for r in readers:
            if r.op_type not in self.BROADCASTING_READERS or r.domain not in ("", "ai.onnx") \
                    or len(r.input) != 2 or list(r.input).count(name) != 1:
                raise self.err(node, "broadcast of %s to %s read by '%s' (%s): an Expand is "
                               "only supported in front of an Add/Sub/Mul that broadcasts "
                               "the same way by itself (.mien has no broadcast node)"
                               % (list(v.shape), list(self.shape1[name]), r.name, r.op_type))
            other = r.input[1] if r.input[0] == name else r.input[0]
            for sh, what in shapes:
                try:
                    alone = tuple(np.broadcast_shapes(tuple(sh[src]), tuple(sh[other])))
                except ValueError:
                    alone = None
                if alone != tuple(sh[r.output[0]]):
                    raise self.err(node, "broadcast of %s to %s: '%s' (%s) with the other "
                                   "operand of shape %s would not give the same result "
                                   "without the Expand (at the %s); .mien has no broadcast "
                                   "node" % (list(sh[src]), list(sh[name]), r.name, r.op_type,
                                             list(sh[other]), what))
        # the readers see s itself and broadcast it
        self.v[name] = v

    def op_Reshape(self, node):
        v = self.rt(node)
        self.reshape_to(node, v, tuple(self.shape1[node.output[0]]))

    def reshape_to(self, node, v, out):
        outdyn = self.dyn_of(node.output[0])
        name = node.output[0]
        if out == v.shape:
            self.v[name] = V(v.m, v.layout, v.shape, v.dyn, v.mshape, v.perm)
            return
        if len(out) == 2:
            m, perm = self._as_flat(node, v)
            self.out_v(node, m, "flat", perm=perm)
            return
        if v.layout == "flat" and len(out) == 4 and out[2:] == (1, 1) and v.perm is None:
            self.v[name] = V(v.m, "nchw", out, outdyn, v.mshape)
            return
        if v.layout in ("nhwc", "rows", "flat") and (v.layout != "flat" or v.perm is None) \
                and len(out) in (3, 4):
            # the same memory with another split: reshape the .mien value only if the
            # channel count changes
            k = out[-1]
            if len(out) == 4:
                shape = [(-1 if outdyn[1] else out[1]), (-1 if outdyn[2] else out[2]), k]
                layout = "nhwc"
                ms = tuple(out)
            else:
                layout = "rows"
                if k == v.mshape[3]:
                    self.v[name] = V(v.m, layout, out, outdyn, v.mshape)
                    return
                shape = [-1 if outdyn[1] else out[1], 1, k]
                ms = (out[0], out[1], 1, k)
            if outdyn[-1]:
                raise self.err(node, "channel count depends on the input size")
            if list(v.mshape[1:]) == [s if s > 0 else ms[i + 1] for i, s in enumerate(shape)]:
                self.v[name] = V(v.m, layout, out, outdyn, v.mshape)
                return
            m = self.emit("reshape", self.base(node), [v.m], {"shape": shape})
            self.v[name] = V(m, layout, out, outdyn, ms)
            return
        if v.layout == "nchw" and len(out) == 3 and out[:2] == v.shape[:2]:
            self.v[name] = V(v.m, "cl", out, outdyn, v.mshape)
            return
        raise self.err(node, "reshape of a %s value %s to %s has no NHWC equivalent"
                       % (v.layout, list(v.shape), list(out)))

    def op_Transpose(self, node):
        v = self.rt(node)
        a = ref.attrs_of(node)
        perm = tuple(int(p) for p in a.get("perm", range(len(v.shape) - 1, -1, -1)))
        name = node.output[0]
        out = tuple(self.shape1[name])
        dyn = self.dyn_of(name)
        new = None
        if perm == tuple(range(len(perm))):
            new = v.layout
        elif v.layout == "nchw" and perm == (0, 2, 3, 1):
            new = "nhwc"
        elif v.layout == "nhwc" and perm == (0, 3, 1, 2):
            new = "nchw"
        elif v.layout == "cl" and perm == (0, 2, 1):
            new = "rows"
        elif v.layout == "rows" and perm == (0, 2, 1):
            new = "cl"
        elif v.layout == "nchw" and out[2:] == (1, 1) and v.shape[2:] == (1, 1) and \
                perm[:2] == (0, 1):
            new = "nchw"
        if new is None:
            raise self.err(node, "Transpose %s of a %s value: only the NCHW <-> NHWC changes "
                           "at the heads are supported" % (list(perm), v.layout))
        self.v[name] = V(v.m, new, out, dyn, v.mshape, v.perm)

    def op_Concat(self, node):
        a = ref.attrs_of(node)
        vs = []
        for i in node.input:
            if i not in self.v:
                raise self.err(node, "constant input '%s' in a runtime Concat" % i)
            vs.append(self.v[i])
        lay = vs[0].layout
        rank = len(vs[0].shape)
        axis = int(a["axis"]) % rank
        cax = {"nchw": 1, "nhwc": 3, "rows": 2, "flat": 1}.get(lay)
        if any(x.layout != lay for x in vs) or axis != cax:
            raise self.err(node, "only concatenation along channels is supported")
        perm = None
        if lay == "flat" and any(x.perm is not None for x in vs):
            parts, off = [], 0
            for x in vs:
                k = x.shape[1]
                parts.append((x.perm if x.perm is not None else np.arange(k)) + off)
                off += k
            perm = np.concatenate(parts)
        if lay in ("rows",) and any(x.mshape[1:3] != vs[0].mshape[1:3] for x in vs):
            raise self.err(node, "inputs of different spatial sizes")
        m = self.emit("concat", self.base(node), [x.m for x in vs])
        c = sum(x.mshape[3] for x in vs)
        self.out_v(node, m, lay, vs[0].mshape[:3] + (c,), perm)

    def op_Softmax(self, node):
        v = self.rt(node)
        a = ref.attrs_of(node)
        rank = len(v.shape)
        axis = int(a.get("axis", 1 if self.opset < 13 else -1)) % rank
        cax = {"nchw": 1, "nhwc": 3, "rows": 2, "flat": 1}.get(v.layout)
        ok = axis == cax
        if self.opset < 13 and axis != rank - 1:
            # coerced to 2-D from `axis`: only the same thing when the rest is 1x1
            ok = ok and all(d == 1 for d in v.shape[axis + 1:]) and \
                not any(v.dyn[axis + 1:])
        if not ok:
            raise self.err(node, "softmax over axis %d of a %s value is not over channels"
                           % (axis, v.layout))
        m = self.emit("softmax", self.base(node), [v.m])
        self.out_v(node, m, v.layout, v.mshape, v.perm)

    def _alias(self, node):
        v = self.rt(node)
        self.v[node.output[0]] = v

    def op_Identity(self, node):
        self._alias(node)

    def op_Dropout(self, node):
        if len(node.output) > 1 and node.output[1] and self.readers.get(node.output[1]):
            raise self.err(node, "the mask output is not supported")
        self._alias(node)

    def op_Cast(self, node):
        a = ref.attrs_of(node)
        if int(a["to"]) not in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE,
                                onnx.TensorProto.FLOAT16):
            raise self.err(node, "cast of a runtime tensor to a non-float type")
        self._alias(node)

    def op_Squeeze(self, node):
        v = self.rt(node)
        out = tuple(self.shape1[node.output[0]])
        if v.layout == "nchw" and v.shape[2:] == (1, 1) and len(out) == 2 and \
                not any(v.dyn[2:]):
            self.v[node.output[0]] = V(v.m, "flat", out, self.dyn_of(node.output[0]),
                                       v.mshape)
            return
        raise self.err(node, "squeeze of %s to %s is not supported" % (v.shape, out))

    def op_Unsqueeze(self, node):
        v = self.rt(node)
        out = tuple(self.shape1[node.output[0]])
        if v.layout == "flat" and v.perm is None and len(out) == 4 and out[2:] == (1, 1):
            self.v[node.output[0]] = V(v.m, "nchw", out, self.dyn_of(node.output[0]),
                                       v.mshape)
            return
        raise self.err(node, "unsqueeze of %s to %s is not supported" % (v.shape, out))

    def op_Pad(self, node):
        v = self.rt(node)
        a = ref.attrs_of(node)
        if a.get("mode", "constant") != "constant":
            raise self.err(node, "pad mode '%s' is not supported" % a.get("mode"))
        if self.opset >= 11:
            pads = [int(p) for p in self.const(node, node.input[1], "pads").reshape(-1)]
            value = self.opt_const(node, 2, "constant_value")
            value = 0.0 if value is None else float(np.asarray(value).reshape(-1)[0])
        else:
            pads = [int(p) for p in a["pads"]]
            value = float(a.get("value", 0.0))
        if v.layout != "nchw" or len(pads) != 8:
            raise self.err(node, "only padding of NCHW maps is supported")
        if pads[0] or pads[4] or min(pads) < 0:
            raise self.err(node, "batch or negative padding is not supported")
        m = self.emit("pad", self.base(node), [v.m],
                      {"pads": [pads[2], pads[3], pads[6], pads[7], pads[1], pads[5]],
                       "value": value})
        self.out_v(node, m, "nchw")

    def op_Resize(self, node):
        v = self.rt(node)
        if v.layout != "nchw":
            raise self.err(node, "input is not an NCHW map")
        a = ref.attrs_of(node)
        mode = a.get("mode", "nearest")
        name = node.output[0]
        out = self.shape1[name]
        if out[:2] != v.shape[:2]:
            raise self.err(node, "resizing the batch or channel axis")
        if node.op_type == "Upsample" or self.opset < 11:
            ctm, nm = "asymmetric", "floor"
        else:
            ctm = a.get("coordinate_transformation_mode", "half_pixel")
            nm = a.get("nearest_mode", "round_prefer_floor")
        if mode == "nearest":
            fh, fw = out[2] / v.shape[2], out[3] / v.shape[3]
            s = int(round(fh))
            if fh != fw or s != fh or s < 1:
                raise self.err(node, "nearest resize by %gx%g: only equal integer factors are "
                               "supported" % (fh, fw))
            if any(v.dyn[2:]):
                o2, i2 = self.shape2[name], self.shape2[node.input[0]]
                if o2[2] != i2[2] * s or o2[3] != i2[3] * s:
                    raise self.err(node, "the resize factor depends on the input size")
            for n in (5, 7):  # pixel replication under this coordinate rule?
                src = ref.resize_source(n * s, n, float(s), ctm, False)
                idx = ref.nearest_index(src, nm, n)
                if not np.array_equal(idx, np.arange(n * s) // s):
                    raise self.err(node, "nearest resize with %s / %s is not pixel "
                                   "replication" % (ctm, nm))
            m = self.emit("upsample_nearest", self.base(node), [v.m], {"scale": s})
        elif mode in ("linear", "bilinear"):
            if any(self.dyn_of(name)[2:]):
                raise self.err(node, "linear resize to a size that depends on the input")
            if ctm not in ("align_corners", "half_pixel", "pytorch_half_pixel", "asymmetric"):
                raise self.err(node, "coordinate_transformation_mode '%s'" % ctm)
            if ctm == "pytorch_half_pixel" and min(out[2:]) == 1:
                raise self.err(node, "pytorch_half_pixel to size 1")
            m = self.emit("resize_bilinear", self.base(node), [v.m],
                          {"size": [int(out[2]), int(out[3])],
                           "align_corners": int(ctm == "align_corners"),
                           "half_pixel_centers": int(ctm in ("half_pixel",
                                                             "pytorch_half_pixel"))})
        else:
            raise self.err(node, "resize mode '%s' is not supported" % mode)
        self.out_v(node, m, "nchw")

    op_Upsample = op_Resize


def _same_perm(a, b):
    if a is None and b is None:
        return True
    if a is None or b is None:
        n = len(a if a is not None else b)
        a = np.arange(n) if a is None else a
        b = np.arange(n) if b is None else b
    return np.array_equal(a, b)


# ---------------------------------------------------------------------------------------
# Outputs and test vectors


def to_mien_layout(value, layout, mshape):
    """An ONNX output array -> the .mien NHWC array for a value of this layout."""
    x = np.asarray(value)
    if layout == "nchw":
        return x.transpose(0, 2, 3, 1)
    if layout == "flat":
        return x.reshape(x.shape[0], 1, 1, -1)
    if layout in ("nhwc", "rows"):
        n = x.shape[0]
        per = int(np.prod(x.shape[1:]))
        _, h, w, c = mshape
        if h * w * c == per:
            return x.reshape(n, h, w, c)
        return x.reshape(n, -1, 1, c)
    raise ConvertError("output layout %s" % layout)


def reference_outputs(model_path, model, feeds, how):
    if how == "numpy":
        return ref.run(model, feeds)
    return ref.run_onnxruntime(model_path, list(feeds.values()))


# YuNet (libfacedetection.train; decode as in OpenCV's FaceDetectorYN): anchor-free, one
# prior per grid cell of each stride. Outputs are N x rows x cols x C grids
# (detector.layout "grid": ONNX anchor index = row * cols + col). The input is BGR 0..255,
# padded at the bottom/right to a multiple of 32.
YUNET_META = {
    "model.task": "face_detector",
    "input.color": "bgr",
    "input.scale": [1.0],
    "input.offset": [0.0],
    "input.resize": "letterbox",
    "detector.type": "yunet",
    "detector.layout": "grid",
    "detector.strides": [8, 16, 32],
    "detector.size_multiple": 32,
    "detector.score": "sqrt_cls_obj",
    "detector.decode": "score = sqrt(clamp(cls,0,1) * clamp(obj,0,1)); "
                       "cx = (col + b0) * s, cy = (row + b1) * s, w = exp(b2) * s, "
                       "h = exp(b3) * s; keypoint i: x = (col + k[2i]) * s, "
                       "y = (row + k[2i+1]) * s (s = stride, in input pixels)",
    "detector.keypoints": 5,
    "detector.keypoint_names": ["right_eye", "left_eye", "nose", "right_mouth",
                                "left_mouth"],
    "detector.threshold": 0.6,
    "detector.nms_iou": 0.3,
    "detector.top_k": 5000,
}


def detector_meta(kind, outputs):
    if kind != "yunet":
        raise SystemExit("unknown --detector '%s' (known: yunet)" % kind)
    meta = dict(YUNET_META)
    for part, key in (("cls", "cls_outputs"), ("obj", "obj_outputs"), ("bbox", "box_outputs"),
                      ("kps", "keypoint_outputs")):
        names = ["%s_%d" % (part, s) for s in (8, 16, 32)]
        missing = [n for n in names if n not in outputs]
        if missing:
            raise SystemExit("--detector yunet: outputs %s are missing" % missing)
        meta["detector." + key] = names
    return meta


def convert(path, input_hw=None, fixed=False, fold=True, say=None):
    model = onnx.load(path)
    conv = Converter(model, path, input_hw, fixed, say)
    g = conv.run()
    if fold:
        passes.simplify(g)
    else:
        passes.remove_dead(g)
        g.validate()
    return model, conv, g


def google_protobuf_error():
    try:
        from google.protobuf.message import DecodeError
        return DecodeError
    except ImportError:
        return OSError


def _hw(text):
    parts = text.replace("x", ",").split(",")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError("expected H,W")
    return (int(parts[0]), int(parts[1]))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="ONNX file")
    ap.add_argument("output", help=".mien file to write")
    ap.add_argument("--input-size", type=_hw, metavar="H,W",
                    help="size for inputs of dynamic size: used to resolve shapes and for the "
                    "test vectors (default 320,320)")
    ap.add_argument("--fixed-size", action="store_true",
                    help="write a dynamic-size input with the --input-size instead of -1")
    ap.add_argument("--detector", help="add detector.* decode metadata: yunet")
    cli.add_metadata_args(ap)
    cli.add_test_args(ap)
    ap.add_argument("--reference", choices=["numpy", "onnxruntime"], default="numpy",
                    help="what computes the test vectors' outputs: the numpy reference "
                    "(default) or onnxruntime-node via tools/reference/run_onnx.mjs")
    ap.add_argument("--no-fold", action="store_true", help="keep BN/activation nodes apart")
    ap.add_argument("--no-se", action="store_true", help="do not fuse squeeze_excite")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr))
    try:
        model = onnx.load(args.model)
        conv = Converter(model, args.model, args.input_size, args.fixed_size, say)
        g = conv.run()
        if args.no_fold:
            passes.remove_dead(g)
            g.validate()
        else:
            passes.simplify(g, fuse_se=not args.no_se)
    except (ConvertError, ref.OnnxRefError) as e:
        print("onnx_to_mien: error: %s" % e, file=sys.stderr)
        return 1
    except (OSError, onnx.onnx_cpp2py_export.checker.ValidationError,
            google_protobuf_error()) as e:
        print("onnx_to_mien: error: %s: %s" % (args.model, e), file=sys.stderr)
        return 1
    stem = os.path.splitext(os.path.basename(args.model))[0]
    iname, h, w, c = g.inputs[0]
    meta = {}
    if args.detector:
        meta.update(detector_meta(args.detector, [o.name for o in model.graph.output]))
    spec = conv.specs[0]
    conv_hw = tuple(spec[1][2:4]) if len(spec[1]) == 4 else (1, 1)
    meta.update(cli.metadata_from_args(args, stem, conv_hw))
    # The tool's old script path stays in model.converter so that files stay byte-identical.
    meta.setdefault("model.converter", "tools/convert/onnx_to_mien.py from %s (opset %d, %s %s)"
                    % (os.path.basename(args.model), conv.opset, model.producer_name,
                       model.producer_version))
    cli.check_metadata(meta, c)
    if len(g.inputs) != 1:
        print("onnx_to_mien: error: test vectors need exactly one input", file=sys.stderr)
        return 1
    th, tw = conv_hw
    xs = cli.test_inputs(meta, th, tw, c, args.test_image, max(1, args.tests))
    b = writer.to_builder(g)
    refs = []
    onnx_in = conv.inputs[0].name
    for x in xs:
        feed = x.transpose(0, 3, 1, 2) if len(spec[1]) == 4 else x.reshape(1, -1)
        try:
            outs = reference_outputs(args.model, model, {onnx_in: feed}, args.reference)
        except (ref.OnnxRefError, subprocess.CalledProcessError) as e:
            print("onnx_to_mien: error: reference run failed: %s" % e, file=sys.stderr)
            return 1
        r = {}
        for oname, (m, layout, mshape) in conv.out_layout.items():
            r[m] = to_mien_layout(outs[oname], layout, mshape).astype(np.float32)
        refs.append(r)
        b.add_test_vector({iname: x}, r)
    b.save(args.output, writer.typed_meta(meta), tolerance=args.tolerance)
    say("onnx_to_mien: wrote %s: %d nodes %s" % (args.output, len(g.nodes), g.op_counts()))
    return cli.check_written(args.output, iname, xs, refs, g.outputs, args.tolerance,
                             "onnx_to_mien", args.reference, say)


if __name__ == "__main__":
    sys.exit(main())
