#!/usr/bin/python3
"""Tests of the model converters (stdlib unittest):

    /usr/bin/python3 tools/convert/test_converters.py [-v] [TestClass[.test_name]]

- ONNX -> .mien: small graphs built with onnx.helper for each supported op, incl. odd
  sizes, asymmetric pads, strides, ceil_mode, dynamic sizes, shape subgraphs, SE blocks;
  the converted graph (numpy_runner.py) is compared with the NCHW computation of the
  original graph (onnx_reference.py, itself checked against naive loops below), and with
  onnxruntime-node when tools/reference has it installed.
- Keras HDF5 -> .mien: small models written with h5py in Keras 2's layout (model_config
  attribute, model_weights/<layer>/<layer>_1/<role>:0 datasets), functional and Sequential;
  numpy_runner vs the independent Keras forward pass (keras_to_mien.keras_forward, whose
  kernels are checked against naive loops below).
- .mien -> ONNX: graphs built with mienfile.GraphBuilder covering every op, exported in
  both I/O layouts, checked with onnx.checker and run with the numpy ONNX reference.
- The real models in ../shared/models (skipped with a message when absent): the three
  Keras HDF5 files and both YuNet ONNX files converted and checked; the converted
  big-XCEPTION equals weights/emotion.mien (the npm `emotion` model) within 1e-5, and on the
  committed face crops equals that model's TF.js outputs (tests/data/faces) within 1e-5.
- The conversion passes (mienconv/passes.py) on small IR graphs, and the op table's form.
- The PyTorch fixtures (tests/data/torch): converted again by
  tools/reference/make_torch_mien.sh, they must equal the committed .mien files.
- With MIEN_CLI=path/to/mien in the environment (ctest sets it), every converted real model
  is also run by `mien check` with the scalar and the best kernels.

Exit status 77 (ctest: skipped) when numpy, h5py or onnx is missing
(Debian python3-numpy python3-h5py python3-onnx; `tools/setup.sh --python`).
"""

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

try:
    import h5py  # noqa: F401  (keras_to_mien and the Keras tests read/write HDF5)
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as _missing:
    print("test_converters: SKIPPED: %s; the converter tests need python3-numpy, python3-h5py "
          "and python3-onnx (tools/setup.sh --python)" % _missing)
    sys.exit(77)

# Python puts this script's folder (tools/convert) first on sys.path, so the package imports.
from mienconv import (cli, keras_to_mien, kernels, mien_to_onnx, mienfile,  # noqa: E402
                      numpy_runner, onnx_reference, onnx_to_mien, ops, passes, writer)
from mienconv.ir import ConvertError, Graph  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
SHARED = os.environ.get("MIEN_SHARED", os.path.join(REPO, "..", "shared"))
RUN_ONNX = os.path.join(HERE, "..", "reference", "run_onnx.mjs")
MIEN_CLI = os.environ.get("MIEN_CLI", "")
ORT_OK = shutil.which("node") is not None and os.path.isdir(
    os.path.join(HERE, "..", "reference", "node_modules", "onnxruntime-node"))

RNG = np.random.default_rng(1234)
np.seterr(over="ignore")  # exp overflow in sigmoid/swish of large values is fine
TOL = 1e-4


def rnd(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def rel_err(got, ref):
    got = np.asarray(got, np.float64)
    ref = np.asarray(ref, np.float64)
    return float((np.abs(got - ref) / np.maximum(1, np.abs(ref))).max(initial=0.0))


# ---------------------------------------------------------------------------------------
# ONNX graph building


def onnx_model(nodes, inputs, outputs, inits=None, opset=13):
    """inputs: [(name, shape with None/str for dynamic)], outputs: [name], inits: {name: arr}"""
    ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs]
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs]
    init = []
    for k, v in (inits or {}).items():
        v = np.asarray(v)
        if v.dtype == np.float64:
            v = v.astype(np.float32)
        init.append(numpy_helper.from_array(v, k))
    g = helper.make_graph(nodes, "t", ins, outs, init)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 7
    return m


def N(op, ins, outs, name=None, **attrs):
    if isinstance(outs, str):
        outs = [outs]
    return helper.make_node(op, ins, outs, name=name or outs[0] + "_n", **attrs)


TMP = tempfile.mkdtemp(prefix="mien_conv_test_")
atexit.register(shutil.rmtree, TMP, True)


class TmpDirCase(unittest.TestCase):
    tmp = TMP

    def path(self, name):
        return os.path.join(self.tmp, "%s_%s" % (self.id().split(".")[-1], name))


# ---------------------------------------------------------------------------------------
# Naive references for the references


def naive_conv_nchw(x, w, b, strides, pads, dil, group):
    n, c, h, wd = x.shape
    o, ig, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh = (h + pads[0] + pads[2] - dil[0] * (kh - 1) - 1) // strides[0] + 1
    ow = (wd + pads[1] + pads[3] - dil[1] * (kw - 1) - 1) // strides[1] + 1
    og = o // group
    out = np.zeros((n, o, oh, ow))
    for b_ in range(n):
        for oc in range(o):
            gi = oc // og
            for y in range(oh):
                for xx in range(ow):
                    s = 0.0
                    for ic in range(ig):
                        for i in range(kh):
                            for j in range(kw):
                                s += xp[b_, gi * ig + ic, y * strides[0] + i * dil[0],
                                        xx * strides[1] + j * dil[1]] * w[oc, ic, i, j]
                    out[b_, oc, y, xx] = s + (b[oc] if b is not None else 0)
    return out


def naive_pool_nhwc(x, kind, k, s, pads):
    n, h, w, c = x.shape
    t, l, b, r = pads
    oh = (h + t + b - k[0]) // s[0] + 1
    ow = (w + l + r - k[1]) // s[1] + 1
    out = np.zeros((n, oh, ow, c))
    for y in range(oh):
        for xx in range(ow):
            cells = [x[:, yy, xj, :] for yy in range(y * s[0] - t, y * s[0] - t + k[0])
                     for xj in range(xx * s[1] - l, xx * s[1] - l + k[1])
                     if 0 <= yy < h and 0 <= xj < w]
            st = np.stack(cells)
            out[:, y, xx, :] = st.max(0) if kind == "max" else st.mean(0)
    return out


class ReferenceSelfTests(unittest.TestCase):
    """The numpy references other tests trust, against naive loops."""

    def test_onnx_conv_matches_naive(self):
        cases = [((1, 4, 7, 6), (6, 4, 3, 3), (2, 1), (1, 0, 2, 1), (1, 1), 1),
                 ((2, 6, 9, 5), (6, 1, 3, 3), (1, 2), (1, 1, 1, 1), (1, 1), 6),
                 ((1, 4, 8, 8), (6, 2, 3, 2), (1, 1), (0, 1, 1, 0), (2, 1), 2),
                 ((1, 3, 5, 5), (6, 1, 3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 3)]
        for xs, ws, st, pads, dil, group in cases:
            x, w, b = rnd(*xs).astype(np.float64), rnd(*ws).astype(np.float64), rnd(ws[0])
            a = {"strides": list(st), "pads": list(pads), "dilations": list(dil),
                 "group": group}
            got = onnx_reference.conv(x, w, b.astype(np.float64), a)
            want = naive_conv_nchw(x, w, b, st, pads, dil, group)
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)

    def test_nhwc_kernels_match_naive(self):
        x = rnd(1, 7, 6, 3).astype(np.float64)
        w = rnd(3, 3, 3, 4).astype(np.float64)
        for st in ((1, 1), (2, 2), (2, 1)):
            for mode in ("same", "valid"):
                pads = kernels.resolve_pads((7, 6), (3, 3), st, (1, 1), mode)
                got = kernels.conv2d_nhwc(x, w, None, st, (1, 1), pads)
                want = naive_conv_nchw(x.transpose(0, 3, 1, 2), w.transpose(3, 2, 0, 1),
                                       None, st, pads, (1, 1), 1).transpose(0, 2, 3, 1)
                np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
                dw = w[:, :, :, 0]
                got = kernels.depthwise_nhwc(x, dw, None, st, (1, 1), pads)
                want = naive_conv_nchw(x.transpose(0, 3, 1, 2),
                                       dw.transpose(2, 0, 1)[:, None], None, st, pads,
                                       (1, 1), 3).transpose(0, 2, 3, 1)
                np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
                for kind in ("max", "avg"):
                    got = kernels.pool_nhwc(x, kind, (3, 3), st, pads)
                    want = naive_pool_nhwc(x, kind, (3, 3), st, pads)
                    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)

    def test_same_padding_rule(self):
        # TF SAME: out = ceil(in/stride), the odd cell after
        self.assertEqual(kernels.same_pads(7, 3, 2), (1, 1))
        self.assertEqual(kernels.same_pads(8, 3, 2), (0, 1))
        self.assertEqual(kernels.same_pads(8, 1, 2), (0, 0))
        self.assertEqual(kernels.same_pads(5, 4, 1), (1, 2))

    def test_onnx_expand_broadcasts_both_ways(self):
        # opset 8 and 13: numpy broadcasting of the input against the shape; a 1 in the shape
        # keeps the input's dimension, the shape may be shorter or longer than the input
        cases = [((1, 4, 1, 3), [2, 1, 5, 1], (2, 4, 5, 3)),
                 ((3, 1), [2, 1, 6], (2, 3, 6)),
                 ((1, 4, 2, 3), [3], (1, 4, 2, 3)),
                 ((2, 1, 1, 1), [1, 1], (2, 1, 1, 1))]
        for k, (xs, shape, want) in enumerate(cases):
            for opset in (8, 13):
                m = onnx_model([N("Expand", ["x", "shape"], "y")], [("x", list(xs))], ["y"],
                               {"shape": np.array(shape, np.int64)}, opset)
                x = rnd(*xs)
                got = onnx_reference.run(m, {"x": x})["y"]
                self.assertEqual(got.shape, want)
                np.testing.assert_array_equal(got, np.broadcast_to(x, want))
                path = os.path.join(TMP, "ref_expand_%d_%d.onnx" % (k, opset))
                onnx.save(m, path)
                ORT_CASES.append((path, {"x": x}))

    def test_onnx_ceil_mode_pool(self):
        x = rnd(1, 2, 7, 6).astype(np.float64)
        y = onnx_reference.pool(x, {"kernel_shape": [3, 3], "strides": [2, 2],
                                    "ceil_mode": 1}, "max")
        self.assertEqual(y.shape, (1, 2, 3, 3))
        self.assertEqual(y[0, 0, 2, 2], x[0, 0, 4:7, 4:6].max())
        y = onnx_reference.pool(x, {"kernel_shape": [3, 3], "strides": [2, 2],
                                    "ceil_mode": 1}, "avg")
        self.assertAlmostEqual(y[0, 1, 2, 2], x[0, 1, 4:7, 4:6].mean())


# ---------------------------------------------------------------------------------------
# ONNX -> .mien


ORT_CASES = []  # (onnx path, {input: NCHW array}) checked against onnxruntime at the end


class OnnxToMienTests(TmpDirCase):
    def convert_and_check(self, model, x, input_hw=None, ops=None, no_ops=(), fold=True,
                          extra_inputs=()):
        """Converts, runs numpy_runner, compares every output with the NCHW reference.
        Returns (graph, mien path)."""
        path = self.path("m.onnx")
        onnx.save(model, path)
        _, conv, g = onnx_to_mien.convert(path, input_hw=input_hw, fold=fold)
        mpath = self.path("m.mien")
        writer.to_builder(g).save(mpath, {"model.name": "t"})
        iname = model.graph.input[0].name
        xs = [x] + list(extra_inputs)
        for xi in xs:
            want = onnx_reference.run(model, {iname: xi})
            nhwc = xi.transpose(0, 2, 3, 1) if xi.ndim == 4 else xi.reshape(xi.shape[0], 1, 1, -1)
            got = numpy_runner.run(mpath, {iname: nhwc})
            for oname, (m, layout, mshape) in conv.out_layout.items():
                w = np.asarray(want[oname])
                if layout in ("nhwc", "rows") and xi is not x:
                    # a different size: the grid follows the input
                    r = w.reshape(got[m].shape)
                else:
                    r = onnx_to_mien.to_mien_layout(w, layout, mshape)
                self.assertEqual(got[m].shape, r.shape, oname)
                e = rel_err(got[m], r)
                self.assertLess(e, TOL, "output %s: error %.3g" % (oname, e))
        ops_in = set(n.op for n in g.nodes)
        for op in ops or ():
            self.assertIn(op, ops_in)
        for op in no_ops:
            self.assertNotIn(op, ops_in)
        dst = os.path.join(self.tmp, "ort_%d.onnx" % len(ORT_CASES))
        shutil.copy(path, dst)
        ORT_CASES.append((dst, {iname: x}))
        return g, mpath

    def conv_model(self, x_shape, w_shape, opset=13, bias=True, **attrs):
        inits = {"W": rnd(*w_shape)}
        ins = ["x", "W"]
        if bias:
            inits["B"] = rnd(w_shape[0])
            ins.append("B")
        return onnx_model([N("Conv", ins, "y", **attrs)], [("x", list(x_shape))], ["y"],
                          inits, opset)

    def test_conv_padding_strides(self):
        cases = [
            ((1, 3, 15, 7), (4, 3, 3, 3), dict(pads=[1, 1, 1, 1])),
            ((1, 3, 15, 7), (4, 3, 3, 3), dict(pads=[1, 1, 1, 1], strides=[2, 2])),
            ((1, 3, 15, 7), (5, 3, 3, 3), dict(pads=[0, 1, 2, 0], strides=[2, 1])),
            ((1, 3, 16, 9), (4, 3, 5, 5), dict(pads=[2, 2, 2, 2], strides=[2, 2])),
            ((1, 3, 11, 8), (4, 3, 3, 3), dict(auto_pad="SAME_UPPER", strides=[2, 2])),
            ((1, 3, 11, 8), (4, 3, 4, 4), dict(auto_pad="SAME_LOWER", strides=[2, 2])),
            ((1, 3, 11, 8), (4, 3, 3, 3), dict(auto_pad="VALID")),
            ((1, 3, 12, 12), (4, 3, 3, 3), dict(pads=[2, 2, 2, 2], dilations=[2, 2])),
            ((1, 3, 9, 10), (4, 3, 1, 3), dict(pads=[0, 1, 0, 1])),
            ((1, 9, 6, 5), (7, 9, 1, 1), dict()),
        ]
        for xs, ws, attrs in cases:
            with self.subTest(attrs=attrs, x=xs):
                m = self.conv_model(xs, ws, **attrs)
                self.convert_and_check(m, rnd(*xs), ops=["conv2d"])
        m = self.conv_model((1, 3, 8, 8), (4, 3, 3, 3), bias=False, pads=[1, 1, 1, 1])
        self.convert_and_check(m, rnd(1, 3, 8, 8))

    def test_depthwise_and_groups(self):
        m = self.conv_model((1, 5, 9, 7), (5, 1, 3, 3), group=5, pads=[1, 1, 1, 1],
                            strides=[2, 2])
        self.convert_and_check(m, rnd(1, 5, 9, 7), ops=["depthwise_conv2d"])
        m = self.conv_model((1, 5, 9, 7), (10, 1, 3, 3), group=5, pads=[1, 0, 1, 0])
        self.convert_and_check(m, rnd(1, 5, 9, 7), ops=["conv2d"])  # multiplier 2
        m = self.conv_model((1, 6, 8, 8), (4, 3, 3, 3), group=2, pads=[1, 1, 1, 1])
        self.convert_and_check(m, rnd(1, 6, 8, 8), ops=["conv2d"])

    def test_batchnorm_folded_and_standalone(self):
        c = 6
        bn = {"s": rnd(c) + 1, "bb": rnd(c), "mu": rnd(c), "var": np.abs(rnd(c)) + 0.5}
        inits = {"W": rnd(c, 3, 3, 3), **bn}
        m = onnx_model([N("Conv", ["x", "W"], "c", pads=[1, 1, 1, 1]),
                        N("BatchNormalization", ["c", "s", "bb", "mu", "var"], "b",
                          epsilon=1e-3),
                        N("Relu", ["b"], "y")], [("x", [1, 3, 10, 7])], ["y"], inits)
        g, _ = self.convert_and_check(m, rnd(1, 3, 10, 7), no_ops=["batch_norm", "activation"])
        self.assertEqual(len(g.nodes), 1)
        self.assertEqual(g.nodes[0].attrs.get("activation"), "relu")
        # BN after a relu cannot fold
        m = onnx_model([N("Conv", ["x", "W"], "c", pads=[1, 1, 1, 1]), N("Relu", ["c"], "r"),
                        N("BatchNormalization", ["r", "s", "bb", "mu", "var"], "y")],
                       [("x", [1, 3, 10, 7])], ["y"], inits)
        self.convert_and_check(m, rnd(1, 3, 10, 7), ops=["batch_norm"])

    def test_activations(self):
        c = 4
        x = rnd(1, c, 6, 5, scale=4)
        cases = [
            ([N("Relu", ["x"], "y")], {}, 13),
            ([N("Sigmoid", ["x"], "y")], {}, 13),
            ([N("Tanh", ["x"], "y")], {}, 13),
            ([N("LeakyRelu", ["x"], "y", alpha=0.13)], {}, 13),
            ([N("LeakyRelu", ["x"], "y")], {}, 13),
            ([N("PRelu", ["x", "sl"], "y")], {"sl": rnd(c, 1, 1)}, 13),
            ([N("PRelu", ["x", "sl"], "y")], {"sl": np.array([0.25], np.float32)}, 13),
            ([N("Clip", ["x", "lo", "hi"], "y")], {"lo": np.array(0, np.float32),
                                                   "hi": np.array(6, np.float32)}, 13),
            ([N("Clip", ["x", "lo", "hi"], "y")], {"lo": np.array(-1, np.float32),
                                                   "hi": np.array(2, np.float32)}, 13),
            ([N("Clip", ["x", "lo"], "y")], {"lo": np.array(0, np.float32)}, 13),
            ([N("Clip", ["x"], "y", min=-0.5, max=1.5)], {}, 9),
            ([N("HardSwish", ["x"], "y")], {}, 14),
            ([N("HardSigmoid", ["x"], "y", alpha=0.3, beta=0.4)], {}, 13),
            ([N("Sigmoid", ["x"], "s"), N("Mul", ["x", "s"], "y")], {}, 13),
            ([N("HardSigmoid", ["x"], "s", alpha=1 / 6, beta=0.5), N("Mul", ["s", "x"], "y")],
             {}, 13),
        ]
        for nodes, inits, opset in cases:
            with self.subTest(op=[n.op_type for n in nodes], opset=opset):
                m = onnx_model(nodes, [("x", [1, c, 6, 5])], ["y"], inits, opset)
                g, _ = self.convert_and_check(m, x)
                if len(nodes) == 2 and nodes[1].op_type == "Mul":
                    self.assertEqual([n.op for n in g.nodes], ["activation"])
                    self.assertIn(g.nodes[0].attrs["type"], ("swish", "hard_swish"))

    def test_binary_ops(self):
        c = 5
        conv = {"W": rnd(c, 3, 3, 3), "W2": rnd(c, 3, 1, 1)}
        base = [N("Conv", ["x", "W"], "a", pads=[1, 1, 1, 1]), N("Conv", ["x", "W2"], "b")]
        x = rnd(1, 3, 7, 6)
        for op in ("Add", "Mul", "Sub"):
            with self.subTest(op=op):
                m = onnx_model(base + [N(op, ["a", "b"], "y")], [("x", [1, 3, 7, 6])], ["y"],
                               conv)
                self.convert_and_check(m, x)
        # N x C x 1 x 1 broadcast, either side
        for order in (["a", "g"], ["g", "a"]):
            for op in ("Add", "Mul", "Sub"):
                with self.subTest(op=op, order=order):
                    m = onnx_model(base[:1] + [N("GlobalAveragePool", ["a"], "g"),
                                               N(op, order, "y")],
                                   [("x", [1, 3, 7, 6])], ["y"], conv)
                    self.convert_and_check(m, x)
        # constants: scalar, per channel, both sides
        for op in ("Add", "Mul", "Sub", "Div"):
            for k in (np.array(1.7, np.float32), rnd(c, 1, 1) + 2, rnd(1, c, 1, 1) + 2,
                      np.array([0.5], np.float32)):
                for first in (False, True):
                    if op == "Div" and first:
                        continue
                    with self.subTest(op=op, k=k.shape, const_first=first):
                        ins = ["k", "a"] if first else ["a", "k"]
                        m = onnx_model(base[:1] + [N(op, ins, "y")], [("x", [1, 3, 7, 6])],
                                       ["y"], {**conv, "k": k})
                        g, _ = self.convert_and_check(m, x)
                        if not (op == "Sub" and first):
                            self.assertEqual(len(g.nodes), 1)  # folded into the conv

    def test_pools(self):
        x = rnd(1, 3, 11, 8)
        cases = [
            ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
            ("MaxPool", dict(kernel_shape=[2, 2], strides=[2, 2])),
            ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
            ("MaxPool", dict(kernel_shape=[3, 2], strides=[1, 2], pads=[0, 1, 2, 0])),
            ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")),
            ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
            ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                                 count_include_pad=1)),
            ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
            ("AveragePool", dict(kernel_shape=[2, 2], strides=[2, 2], pads=[1, 0, 1, 0],
                                 ceil_mode=1, count_include_pad=1)),
        ]
        for op, attrs in cases:
            with self.subTest(op=op, attrs=attrs):
                m = onnx_model([N(op, ["x"], "y", **attrs)], [("x", [1, 3, 11, 8])], ["y"])
                self.convert_and_check(m, x)
        m = onnx_model([N("GlobalAveragePool", ["x"], "y")], [("x", [1, 3, 11, 8])], ["y"])
        self.convert_and_check(m, x, ops=["global_avg_pool"])

    def test_dense_heads(self):
        x = rnd(1, 3, 8, 6)
        conv = {"W": rnd(4, 3, 3, 3)}
        stem = [N("Conv", ["x", "W"], "c", pads=[0, 0, 0, 0], strides=[2, 2])]  # 4 x 3x2
        k = 4 * 3 * 2
        # Flatten of a 3x2 map -> Gemm (weights permuted to NHWC order), transB, alpha, beta
        m = onnx_model(stem + [N("Flatten", ["c"], "f"),
                               N("Gemm", ["f", "B", "C"], "g", transB=1, alpha=0.5, beta=2.0),
                               N("Softmax", ["g"], "y", axis=1)],
                       [("x", [1, 3, 8, 6])], ["y"], {**conv, "B": rnd(7, k), "C": rnd(7)})
        self.convert_and_check(m, x, ops=["flatten", "dense", "softmax"])
        # Reshape [N, -1] built by a shape subgraph -> MatMul -> Add bias (folded)
        shape_sub = [N("Shape", ["c"], "shp"), N("Gather", ["shp", "zero"], "n0", axis=0),
                     N("Unsqueeze", ["n0"], "n1", axes=[0]),
                     N("Concat", ["n1", "minus1"], "tgt", axis=0)]
        m = onnx_model(stem + shape_sub + [N("Reshape", ["c", "tgt"], "f"),
                                           N("MatMul", ["f", "B"], "mm"),
                                           N("Add", ["mm", "bias"], "y")],
                       [("x", [1, 3, 8, 6])], ["y"],
                       {**conv, "zero": np.array(0, np.int64),
                        "minus1": np.array([-1], np.int64), "B": rnd(k, 5), "bias": rnd(5)},
                       opset=11)
        g, _ = self.convert_and_check(m, x, no_ops=["batch_norm"])
        # GAP -> Flatten -> Gemm (no permutation needed), ReduceMean keepdims=0 -> Gemm
        m = onnx_model(stem + [N("GlobalAveragePool", ["c"], "p"), N("Flatten", ["p"], "f"),
                               N("Gemm", ["f", "B"], "y")],
                       [("x", [1, 3, 8, 6])], ["y"], {**conv, "B": rnd(4, 3)})
        self.convert_and_check(m, x, no_ops=["flatten"])
        m = onnx_model(stem + [N("ReduceMean", ["c"], "p", axes=[2, 3], keepdims=0),
                               N("Gemm", ["p", "B"], "y")],
                       [("x", [1, 3, 8, 6])], ["y"], {**conv, "B": rnd(4, 3)})
        self.convert_and_check(m, x)
        # Squeeze / Unsqueeze around a Gemm on a 1x1 map
        m = onnx_model(stem + [N("GlobalAveragePool", ["c"], "p"),
                               N("Squeeze", ["p", "ax"], "s"), N("Gemm", ["s", "B"], "d"),
                               N("Unsqueeze", ["d", "ax"], "u"), N("Relu", ["u"], "y")],
                       [("x", [1, 3, 8, 6])], ["y"],
                       {**conv, "B": rnd(4, 4), "ax": np.array([2, 3], np.int64)})
        self.convert_and_check(m, x)

    def test_concat_resize_pad(self):
        x = rnd(1, 3, 6, 5)
        ins = {"W": rnd(4, 3, 3, 3), "W2": rnd(2, 3, 1, 1)}
        two = [N("Conv", ["x", "W"], "a", pads=[1, 1, 1, 1]), N("Conv", ["x", "W2"], "b")]
        m = onnx_model(two + [N("Concat", ["a", "b", "a"], "y", axis=1)],
                       [("x", [1, 3, 6, 5])], ["y"], ins)
        self.convert_and_check(m, x, ops=["concat"])
        resize_cases = [
            (11, dict(mode="nearest", coordinate_transformation_mode="asymmetric",
                      nearest_mode="floor"), 2),
            (13, dict(mode="nearest"), 2),  # half_pixel + round_prefer_floor
            (13, dict(mode="nearest", coordinate_transformation_mode="half_pixel",
                      nearest_mode="round_prefer_ceil"), 3),
            (13, dict(mode="linear", coordinate_transformation_mode="align_corners"), 2),
            (13, dict(mode="linear", coordinate_transformation_mode="half_pixel"), 2),
            (13, dict(mode="linear", coordinate_transformation_mode="pytorch_half_pixel"), 3),
            (13, dict(mode="linear", coordinate_transformation_mode="asymmetric"), 2),
        ]
        for opset, attrs, s in resize_cases:
            with self.subTest(attrs=attrs):
                sc = np.array([1, 1, s, s], np.float32)
                m = onnx_model(two[:1] + [N("Resize", ["a", "roi", "sc"], "y", **attrs)],
                               [("x", [1, 3, 6, 5])], ["y"],
                               {**ins, "roi": np.zeros(0, np.float32), "sc": sc}, opset)
                self.convert_and_check(m, x)
        m = onnx_model(two[:1] + [N("Upsample", ["a", "sc"], "y", mode="nearest")],
                       [("x", [1, 3, 6, 5])], ["y"],
                       {**ins, "sc": np.array([1, 1, 2, 2], np.float32)}, 9)
        self.convert_and_check(m, x, ops=["upsample_nearest"])
        # Pad (zero) + valid conv -> folded into explicit conv padding; non-zero pad kept
        for value in (0.0, 1.5):
            m = onnx_model([N("Pad", ["x", "pads", "v"], "p"), N("Conv", ["p", "W"], "y")],
                           [("x", [1, 3, 6, 5])], ["y"],
                           {**ins, "pads": np.array([0, 0, 1, 2, 0, 0, 2, 0], np.int64),
                            "v": np.array(value, np.float32)}, 11)
            g, _ = self.convert_and_check(m, x)
            self.assertEqual("pad" in [n.op for n in g.nodes], value != 0.0)

    def test_squeeze_excite(self):
        c, r = 8, 2
        x = rnd(1, c, 5, 6)
        se = {"w1": rnd(r, c, 1, 1), "b1": rnd(r), "w2": rnd(c, r, 1, 1), "b2": rnd(c)}
        m = onnx_model([N("GlobalAveragePool", ["x"], "p"), N("Conv", ["p", "w1", "b1"], "f1"),
                        N("Relu", ["f1"], "r1"), N("Conv", ["r1", "w2", "b2"], "f2"),
                        N("Sigmoid", ["f2"], "s"), N("Mul", ["x", "s"], "y")],
                       [("x", [1, c, 5, 6])], ["y"], se)
        g, _ = self.convert_and_check(m, x)
        self.assertEqual([n.op for n in g.nodes], ["squeeze_excite"])
        # Gemm flavour: GAP -> Flatten -> Gemm -> Relu -> Gemm -> Sigmoid -> Reshape -> Mul
        se2 = {"g1": rnd(r, c), "c1": rnd(r), "g2": rnd(c, r), "c2": rnd(c),
               "shape": np.array([1, c, 1, 1], np.int64)}
        m = onnx_model([N("GlobalAveragePool", ["x"], "p"), N("Flatten", ["p"], "fl"),
                        N("Gemm", ["fl", "g1", "c1"], "f1", transB=1), N("Relu", ["f1"], "r1"),
                        N("Gemm", ["r1", "g2", "c2"], "f2", transB=1),
                        N("Sigmoid", ["f2"], "s"), N("Reshape", ["s", "shape"], "s4"),
                        N("Mul", ["s4", "x"], "y")], [("x", [1, c, 5, 6])], ["y"], se2)
        g, _ = self.convert_and_check(m, x)
        self.assertEqual([n.op for n in g.nodes], ["squeeze_excite"])
        # hard-sigmoid gate: not a squeeze_excite, generic ops
        m = onnx_model([N("GlobalAveragePool", ["x"], "p"), N("Conv", ["p", "w1", "b1"], "f1"),
                        N("Relu", ["f1"], "r1"), N("Conv", ["r1", "w2", "b2"], "f2"),
                        N("HardSigmoid", ["f2"], "s"), N("Mul", ["x", "s"], "y")],
                       [("x", [1, c, 5, 6])], ["y"], se)
        self.convert_and_check(m, x, no_ops=["squeeze_excite"], ops=["mul"])

    def test_expand_before_broadcasting_mul(self):
        """PyTorch's SE export: GAP -> Gemm -> Relu -> Gemm -> Sigmoid -> Reshape ->
        Mul(x, Expand(s, Shape(x))). The Expand is dropped (Mul broadcasts N x C x 1 x 1)
        and the block fuses into squeeze_excite, at a fixed and a dynamic input size."""
        c, r = 8, 2
        se = {"g1": rnd(r, c), "c1": rnd(r), "g2": rnd(c, r), "c2": rnd(c),
              "shape": np.array([-1, c, 1, 1], np.int64)}

        def se_nodes(x, y, tail="Mul"):
            return [N("GlobalAveragePool", [x], "p"), N("Flatten", ["p"], "fl"),
                    N("Gemm", ["fl", "g1", "c1"], "f1", transB=1), N("Relu", ["f1"], "r1"),
                    N("Gemm", ["r1", "g2", "c2"], "f2", transB=1),
                    N("Sigmoid", ["f2"], "s"), N("Reshape", ["s", "shape"], "s4"),
                    N("Shape", [x], "xs"), N("Expand", ["s4", "xs"], "se"),
                    N(tail, [x, "se"], y)]

        for opset in (8, 13):
            with self.subTest(opset=opset):
                m = onnx_model(se_nodes("x", "y"), [("x", [1, c, 5, 6])], ["y"], se, opset)
                g, _ = self.convert_and_check(m, rnd(1, c, 5, 6))
                self.assertEqual([n.op for n in g.nodes], ["squeeze_excite"])
        # dynamic size: Shape(x) depends on the input size, which the dropped Expand never
        # needs; inside a network (conv -> SE -> residual add)
        ins = dict(se, W=rnd(c, 3, 3, 3))
        nodes = [N("Conv", ["x", "W"], "f", pads=[1, 1, 1, 1]), N("Relu", ["f"], "fr")] + \
            se_nodes("fr", "m") + [N("Add", ["m", "fr"], "y")]
        m = onnx_model(nodes, [("x", [1, 3, "h", "w"])], ["y"], ins)
        g, _ = self.convert_and_check(m, rnd(1, 3, 6, 7), input_hw=(6, 7),
                                      extra_inputs=[rnd(1, 3, 9, 4)])
        self.assertEqual([n.op for n in g.nodes], ["conv2d", "squeeze_excite", "add"])
        # Add and Sub broadcast the same way: Expand dropped, generic ops
        for tail, op in (("Add", "add"), ("Sub", "add")):
            with self.subTest(tail=tail):
                m = onnx_model(se_nodes("x", "y", tail), [("x", [1, c, 5, 6])], ["y"], se)
                g, _ = self.convert_and_check(m, rnd(1, c, 5, 6), ops=[op],
                                              no_ops=["squeeze_excite"])
        # a no-op Expand (to the value's own shape, a shorter shape of ones) is an alias
        ins = {"W": rnd(4, 3, 3, 3), "ones": np.array([1, 1], np.int64)}
        m = onnx_model([N("Conv", ["x", "W"], "f"), N("Expand", ["f", "ones"], "e"),
                        N("Relu", ["e"], "y")], [("x", [1, 3, 5, 5])], ["y"], ins)
        g, _ = self.convert_and_check(m, rnd(1, 3, 5, 5))
        self.assertEqual([n.op for n in g.nodes], ["conv2d"])

    def test_expand_that_mien_cannot_drop_is_a_clear_error(self):
        c = 4
        ins = {"W": rnd(c, 3, 1, 1), "hw": np.array([1, 1, 5, 5], np.int64)}
        head = [N("Conv", ["x", "W"], "f"), N("GlobalAveragePool", ["f"], "p"),
                N("Shape", ["f"], "fs")]
        cases = [
            # as a graph output
            (head + [N("Expand", ["p", "fs"], "y")], "graph output"),
            # read by an op that does not broadcast
            (head + [N("Expand", ["p", "fs"], "e"), N("Relu", ["e"], "y")], "Relu"),
            # the Mul would give a smaller result without it (both operands N x C x 1 x 1)
            (head + [N("Expand", ["p", "hw"], "e"), N("Mul", ["e", "p"], "y")],
             "same result"),
        ]
        for nodes, what in cases:
            with self.subTest(what=what):
                m = onnx_model(nodes, [("x", [1, 3, 5, 5])], ["y"], ins)
                path = self.path("bad.onnx")
                onnx.save(m, path)
                with self.assertRaises(ConvertError) as ctx:
                    onnx_to_mien.convert(path)
                msg = str(ctx.exception)
                self.assertIn("Expand", msg)
                self.assertIn(what, msg)
                self.assertIn("'e_n'" if what != "graph output" else "'y_n'", msg)

    def test_dynamic_heads_transpose_reshape(self):
        """YuNet-like: a dynamic-size input, heads as Transpose(0,2,3,1) + Reshape built by
        Shape/Gather/Unsqueeze/Concat; outputs stay N x H x W x K grids."""
        ins = {"W": rnd(4, 3, 3, 3), "Wc": rnd(1, 4, 1, 1), "Wb": rnd(4, 4, 1, 1),
               "zero": np.array(0, np.int64), "m1": np.array([-1], np.int64),
               "one": np.array([1], np.int64), "four": np.array([4], np.int64)}
        nodes = [N("Conv", ["x", "W"], "f", pads=[1, 1, 1, 1], strides=[2, 2]),
                 N("Relu", ["f"], "fr"), N("Conv", ["fr", "Wc"], "c"),
                 N("Conv", ["fr", "Wb"], "b")]
        for src, k, name in (("c", "one", "cls"), ("b", "four", "bbox")):
            nodes += [N("Transpose", [src], src + "_t", perm=[0, 2, 3, 1]),
                      N("Shape", [src], src + "_s"),
                      N("Gather", [src + "_s", "zero"], src + "_g", axis=0),
                      N("Unsqueeze", [src + "_g"], src + "_u", axes=[0]),
                      N("Concat", [src + "_u", "m1", k], src + "_shape", axis=0),
                      N("Reshape", [src + "_t", src + "_shape"], src + "_r")]
        nodes += [N("Sigmoid", ["c_r"], "cls"), N("Identity", ["b_r"], "bbox")]
        m = onnx_model(nodes, [("x", ["batch", 3, "h", "w"])], ["cls", "bbox"], ins, 11)
        g, mpath = self.convert_and_check(m, rnd(1, 3, 16, 24), input_hw=(16, 24),
                                          extra_inputs=[rnd(1, 3, 32, 8)])
        self.assertEqual(g.inputs[0][1:], (-1, -1, 3))
        self.assertEqual(g.outputs, ["cls", "bbox"])
        self.assertNotIn("reshape", [n.op for n in g.nodes])
        got = numpy_runner.run(mpath, {"x": rnd(1, 16, 24, 3)})
        self.assertEqual(got["bbox"].shape, (1, 8, 12, 4))

    def test_output_names_are_kept(self):
        # a node named like an output, an output that is an intermediate value, two outputs
        # of the same value
        ins = {"W": rnd(4, 3, 3, 3)}
        m = onnx_model([N("Conv", ["x", "W"], "c", name="out", pads=[1, 1, 1, 1]),
                        N("Relu", ["c"], "out"), N("Identity", ["out"], "same"),
                        N("Sigmoid", ["c"], "sig")],
                       [("x", [1, 3, 5, 5])], ["out", "c", "same", "sig"], ins)
        g, _ = self.convert_and_check(m, rnd(1, 3, 5, 5))
        self.assertEqual(g.outputs, ["out", "c", "same", "sig"])

    def test_reshape_to_rows_changes_channels(self):
        ins = {"W": rnd(6, 3, 1, 1), "shape": np.array([1, -1, 2], np.int64)}
        m = onnx_model([N("Conv", ["x", "W"], "c"), N("Transpose", ["c"], "t", perm=[0, 2, 3, 1]),
                        N("Reshape", ["t", "shape"], "r"), N("Softmax", ["r"], "y", axis=-1)],
                       [("x", [1, 3, 4, 5])], ["y"], ins)
        self.convert_and_check(m, rnd(1, 3, 4, 5), ops=["reshape", "softmax"])

    def test_unsupported_is_a_clear_error(self):
        cases = [
            ([N("LRN", ["x"], "y", size=3)], {}, "LRN"),
            ([N("Transpose", ["x"], "y", perm=[0, 1, 3, 2])], {}, "Transpose"),
            ([N("Resize", ["x", "roi", "sc"], "y", mode="cubic")],
             {"roi": np.zeros(0, np.float32), "sc": np.array([1, 1, 2, 2], np.float32)},
             "Resize"),
            ([N("MaxPool", ["x"], "y", kernel_shape=[2, 2], dilations=[2, 2])], {}, "MaxPool"),
            ([N("Softmax", ["x"], "y", axis=2)], {}, "Softmax"),
        ]
        for nodes, inits, what in cases:
            with self.subTest(op=what):
                m = onnx_model(nodes, [("x", [1, 3, 6, 6])], ["y"], inits)
                path = self.path("bad.onnx")
                onnx.save(m, path)
                with self.assertRaises((ConvertError, onnx_reference.OnnxRefError)) as ctx:
                    onnx_to_mien.convert(path)
                self.assertIn(what, str(ctx.exception))
                self.assertIn("y_n", str(ctx.exception))  # names the node

    def test_cli_writes_test_vectors_and_metadata(self):
        m = self.conv_model((1, 3, 8, 8), (4, 3, 3, 3), pads=[1, 1, 1, 1])
        src, out = self.path("cli.onnx"), self.path("cli.mien")
        onnx.save(m, src)
        rc = onnx_to_mien.main([src, out, "--task", "emotion", "--labels", "a,b,c,d",
                                "--color", "bgr", "--scale", "0.5,0.25,1", "--offset", "-1",
                                "--meta", "model.extra=[1,2]", "--quiet", "--tests", "2"])
        self.assertEqual(rc, 0)
        meta, tensors = mienfile.read(out)
        self.assertEqual(meta["model.labels"], ["a", "b", "c", "d"])
        self.assertEqual(meta["input.scale"], [0.5, 0.25, 1.0])
        self.assertEqual(meta["model.extra"], [1, 2])
        self.assertEqual(meta["test.count"], 2)
        ok, worst = numpy_runner.check((meta, tensors), verbose=False)
        self.assertTrue(ok, worst)


ORT_BATCH_JS = r"""
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
const refDir = process.argv[2];
const require = createRequire(path.join(refDir, 'package.json'));
const ort = require('onnxruntime-node');
const { readNpy, writeNpy } = await import(pathToFileURL(path.join(refDir, 'npy.mjs')).href);
const cases = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
for (const c of cases) {
  const s = await ort.InferenceSession.create(c.model, { intraOpNumThreads: 1, logSeverityLevel: 3 });
  const feeds = {};
  for (const i of c.inputs) {
    const { data, shape } = readNpy(i.file);
    feeds[i.name] = new ort.Tensor('float32', Float32Array.from(data), shape);
  }
  const r = await s.run(feeds);
  c.outputs = [];
  s.outputNames.forEach((n, k) => {
    const f = `${c.prefix}.${k}.npy`;
    writeNpy(f, Float32Array.from(r[n].data), r[n].dims.map(Number));
    c.outputs.push({ name: n, file: f });
  });
}
fs.writeFileSync(process.argv[3], JSON.stringify(cases));
"""


def ort_run_batch(cases):
    """[(onnx path, {input: array})] -> [{output: array}] with one node process."""
    ref_dir = os.path.abspath(os.path.join(HERE, "..", "reference"))
    with tempfile.TemporaryDirectory() as d:
        spec = []
        for k, (path, feeds) in enumerate(cases):
            ins = []
            for i, (name, x) in enumerate(feeds.items()):
                f = os.path.join(d, "%d_%d.npy" % (k, i))
                np.save(f, np.ascontiguousarray(x, np.float32))
                ins.append({"name": name, "file": f})
            spec.append({"model": path, "inputs": ins, "prefix": os.path.join(d, "o%d" % k)})
        js, sp = os.path.join(d, "batch.mjs"), os.path.join(d, "cases.json")
        with open(js, "w") as f:
            f.write(ORT_BATCH_JS)
        with open(sp, "w") as f:
            json.dump(spec, f)
        subprocess.run(["node", js, ref_dir, sp], check=True, stdout=subprocess.DEVNULL)
        with open(sp) as f:
            done = json.load(f)
        return [{o["name"]: np.load(o["file"]) for o in c["outputs"]} for c in done]


class OnnxRuntimeCrossCheck(unittest.TestCase):
    """The synthetic ONNX graphs above, run with onnxruntime-node, against the numpy
    reference the converter tests trust (runs after OnnxToMienTests)."""

    def test_reference_matches_onnxruntime(self):
        if not ORT_OK:
            self.skipTest("onnxruntime-node is not installed in tools/reference "
                          "(npm ci --prefix tools/reference)")
        if not ORT_CASES:
            self.skipTest("no ONNX cases ran")
        results = ort_run_batch(ORT_CASES)
        for (path, feeds), got in zip(ORT_CASES, results):
            want = onnx_reference.run(onnx.load(path), feeds)
            self.assertEqual(sorted(got), sorted(want), path)
            for name, y in got.items():
                e = rel_err(y, want[name])
                self.assertLess(e, 1e-4, "%s output %s: %.3g" % (path, name, e))


# ---------------------------------------------------------------------------------------
# Keras HDF5 -> .mien


class KerasH5:
    """Writes a Keras-2-style HDF5 model file."""

    def __init__(self, sequential=False):
        self.layers = []
        self.weights = {}
        self.sequential = sequential

    def add(self, cls, name, inbound=None, weights=None, **cfg):
        cfg = dict(cfg)
        cfg["name"] = name
        d = {"class_name": cls, "name": name, "config": cfg}
        if not self.sequential:
            d["inbound_nodes"] = [] if inbound is None else [
                [[i, 0, 0, {}] for i in (inbound if isinstance(inbound, list) else [inbound])]]
        self.layers.append(d)
        self.weights[name] = weights or {}
        return name

    def save(self, path, outputs=None):
        import h5py
        if self.sequential:
            cfg = {"class_name": "Sequential", "config": self.layers}
        else:
            inputs = [l["name"] for l in self.layers if l["class_name"] == "InputLayer"]
            cfg = {"class_name": "Model", "config": {
                "name": "m", "layers": self.layers,
                "input_layers": [[n, 0, 0] for n in inputs],
                "output_layers": [[n, 0, 0] for n in (outputs or [self.layers[-1]["name"]])]}}
        with h5py.File(path, "w") as f:
            f.attrs["model_config"] = json.dumps(cfg).encode()
            f.attrs["keras_version"] = b"2.0.5"
            f.attrs["backend"] = b"tensorflow"
            mw = f.create_group("model_weights")
            names = [l["name"] for l in self.layers]
            mw.attrs["layer_names"] = np.array([n.encode() for n in names])
            for lname in names:
                g = mw.create_group(lname)
                ws = self.weights.get(lname, {})
                wn = []
                for role, arr in ws.items():
                    key = "%s_1/%s:0" % (lname, role)
                    g.create_dataset(key, data=np.asarray(arr, np.float32))
                    wn.append(key.encode())
                g.attrs["weight_names"] = np.array(wn, dtype="S") if wn else np.array([],
                                                                                      "float64")


def bn_weights(c):
    return {"gamma": rnd(c) + 1, "beta": rnd(c), "moving_mean": rnd(c),
            "moving_variance": np.abs(rnd(c)) + 0.3}


class KerasToMienTests(TmpDirCase):
    def convert_and_check(self, k, x, outputs=None, ops=None, no_ops=()):
        path = self.path("m.hdf5")
        k.save(path, outputs)
        kf, g = keras_to_mien.convert(path)
        mpath = self.path("m.mien")
        writer.to_builder(g).save(mpath, {"model.name": "t"})
        iname = g.inputs[0][0]
        want = keras_to_mien.keras_forward(kf, {iname: x})
        got = numpy_runner.run(mpath, {iname: x})
        for o in g.outputs:
            r = keras_to_mien.to_nhwc4(want[o])
            self.assertEqual(got[o].shape, r.shape, o)
            e = rel_err(got[o], r)
            self.assertLess(e, TOL, "output %s: %.3g" % (o, e))
        ops_in = [n.op for n in g.nodes]
        for op in ops or ():
            self.assertIn(op, ops_in)
        for op in no_ops:
            self.assertNotIn(op, ops_in)
        return g

    def test_mini_xception_block(self):
        k = KerasH5()
        k.add("InputLayer", "in", batch_input_shape=[None, 15, 13, 1])
        k.add("Conv2D", "c1", "in", {"kernel": rnd(3, 3, 1, 8)}, filters=8, kernel_size=[3, 3],
              strides=[1, 1], padding="valid", use_bias=False, activation="linear")
        k.add("BatchNormalization", "bn1", "c1", bn_weights(8), epsilon=1e-3)
        k.add("Activation", "a1", "bn1", activation="relu")
        k.add("SeparableConv2D", "s1", "a1", {"depthwise_kernel": rnd(3, 3, 8, 1),
                                              "pointwise_kernel": rnd(1, 1, 8, 16)},
              filters=16, kernel_size=[3, 3], strides=[1, 1], padding="same",
              depth_multiplier=1, use_bias=False, activation="linear")
        k.add("BatchNormalization", "bn2", "s1", bn_weights(16), epsilon=1e-3)
        k.add("Activation", "a2", "bn2", activation="relu")
        k.add("SeparableConv2D", "s2", "a2", {"depthwise_kernel": rnd(3, 3, 16, 1),
                                              "pointwise_kernel": rnd(1, 1, 16, 16)},
              filters=16, kernel_size=[3, 3], padding="same", use_bias=False,
              activation="linear")
        k.add("BatchNormalization", "bn3", "s2", bn_weights(16), epsilon=1e-3)
        k.add("MaxPooling2D", "mp", "bn3", pool_size=[3, 3], strides=[2, 2], padding="same")
        k.add("Conv2D", "res", "a1", {"kernel": rnd(1, 1, 8, 16)}, filters=16,
              kernel_size=[1, 1], strides=[2, 2], padding="same", use_bias=False)
        k.add("BatchNormalization", "bn4", "res", bn_weights(16), epsilon=1e-3)
        k.add("Add", "add", ["mp", "bn4"])
        k.add("Conv2D", "head", "add", {"kernel": rnd(3, 3, 16, 7), "bias": rnd(7)},
              filters=7, kernel_size=[3, 3], padding="same", use_bias=True)
        k.add("GlobalAveragePooling2D", "gap", "head")
        k.add("Activation", "predictions", "gap", activation="softmax")
        g = self.convert_and_check(k, rnd(2, 15, 13, 1), ops=["depthwise_conv2d", "softmax"],
                                   no_ops=["batch_norm", "activation"])
        self.assertEqual(g.outputs, ["predictions"])

    def test_sequential_and_unfoldable_bn(self):
        k = KerasH5(sequential=True)
        k.add("Conv2D", "c1", None, {"kernel": rnd(3, 3, 3, 6), "bias": rnd(6)},
              batch_input_shape=[None, 17, 12, 3], filters=6, kernel_size=[3, 3],
              strides=[2, 2], padding="same", activation="relu")
        k.add("DepthwiseConv2D", "dw", None, {"depthwise_kernel": rnd(3, 3, 6, 2),
                                              "bias": rnd(12)},
              kernel_size=[3, 3], strides=[1, 1], padding="valid", depth_multiplier=2,
              activation="relu")  # -> the batch_norm after it cannot fold
        k.add("BatchNormalization", "bn", None, bn_weights(12), epsilon=0.01, scale=False)
        k.add("ReLU", "r6", None, max_value=6.0)
        k.add("AveragePooling2D", "ap", None, pool_size=[3, 3], strides=[2, 2], padding="same")
        k.add("ZeroPadding2D", "zp", None, padding=[[1, 0], [2, 1]])
        k.add("Conv2D", "c2", None, {"kernel": rnd(2, 2, 12, 5)}, filters=5,
              kernel_size=[2, 2], padding="valid", use_bias=False, activation="tanh")
        k.add("LeakyReLU", "lr", None, alpha=0.2)
        k.add("Flatten", "fl", None)
        k.add("Dropout", "do", None, rate=0.5)
        k.add("Dense", "d1", None, {"kernel": None, "bias": rnd(9)}, units=9, activation="relu")
        k.add("Dense", "out", None, {"kernel": rnd(9, 3), "bias": rnd(3)}, units=3,
              activation="softmax")
        # the flattened size: 17x12 -s2-> 9x6 -3x3 valid-> 7x4 -avg s2 same-> 4x2 -pad-> 5x5
        # -2x2 valid-> 4x4 x 5
        k.weights["d1"]["kernel"] = rnd(80, 9)
        g = self.convert_and_check(k, rnd(1, 17, 12, 3), ops=["batch_norm", "avg_pool",
                                                              "flatten", "dense"],
                                   no_ops=["pad"])  # ZeroPadding2D folded into c2
        # relu6 after the batch_norm, leaky relu after the tanh conv
        self.assertEqual([n.op for n in g.nodes].count("activation"), 2)

    def test_bn_with_two_readers_is_kept(self):
        k = KerasH5()
        k.add("InputLayer", "in", batch_input_shape=[None, 6, 7, 2])
        k.add("Conv2D", "c", "in", {"kernel": rnd(3, 3, 2, 4)}, filters=4, kernel_size=[3, 3],
              padding="same", use_bias=False)
        k.add("BatchNormalization", "bn", "c", bn_weights(4))
        k.add("Activation", "s", "c", activation="sigmoid")
        k.add("Add", "y", ["bn", "s"])
        self.convert_and_check(k, rnd(1, 6, 7, 2), ops=["batch_norm"])

    def test_se_upsample_concat_prelu(self):
        c = 6
        k = KerasH5()
        k.add("InputLayer", "in", batch_input_shape=[None, 5, 4, 3])
        k.add("Conv2D", "c", "in", {"kernel": rnd(3, 3, 3, c), "bias": rnd(c)}, filters=c,
              kernel_size=[3, 3], padding="same")
        k.add("PReLU", "pr", "c", {"alpha": rnd(1, 1, c)}, shared_axes=[1, 2])
        k.add("GlobalAveragePooling2D", "gap", "pr")
        k.add("Dense", "f1", "gap", {"kernel": rnd(c, 2), "bias": rnd(2)}, units=2,
              activation="relu")
        k.add("Dense", "f2", "f1", {"kernel": rnd(2, c), "bias": rnd(c)}, units=c,
              activation="sigmoid")
        k.add("Reshape", "rs", "f2", target_shape=[1, 1, c])
        k.add("Multiply", "se", ["pr", "rs"])
        k.add("UpSampling2D", "up", "se", size=[2, 2])
        k.add("UpSampling2D", "up2", "in", size=[2, 2])
        k.add("Concatenate", "cat", ["up", "up2"], axis=-1)
        k.add("Conv2D", "out", "cat", {"kernel": rnd(1, 1, c + 3, 2)}, filters=2,
              kernel_size=[1, 1], use_bias=False, activation="swish")
        self.convert_and_check(k, rnd(1, 5, 4, 3), ops=["squeeze_excite", "upsample_nearest",
                                                        "concat"])

    def test_unsupported_layer_error(self):
        k = KerasH5()
        k.add("InputLayer", "in", batch_input_shape=[None, 6, 6, 1])
        k.add("Conv2DTranspose", "deconv", "in", {"kernel": rnd(3, 3, 1, 1)}, filters=1)
        path = self.path("bad.hdf5")
        k.save(path)
        with self.assertRaises(ConvertError) as ctx:
            keras_to_mien.convert(path)
        msg = str(ctx.exception)
        for part in ("Conv2DTranspose", "deconv", path):
            self.assertIn(part, msg)
        k = KerasH5()
        k.add("InputLayer", "in", batch_input_shape=[None, 6, 6, 1])
        k.add("Activation", "elu", "in", activation="elu")
        k.save(path)
        with self.assertRaises(ConvertError) as ctx:
            keras_to_mien.convert(path)
        self.assertIn("elu", str(ctx.exception))

    def test_cli(self):
        k = KerasH5()
        k.add("InputLayer", "in", batch_input_shape=[None, 8, 8, 1])
        k.add("Conv2D", "c", "in", {"kernel": rnd(3, 3, 1, 2), "bias": rnd(2)}, filters=2,
              kernel_size=[3, 3], padding="same")
        k.add("GlobalAveragePooling2D", "g", "c")
        k.add("Activation", "p", "g", activation="softmax")
        src, out = self.path("cli.hdf5"), self.path("cli.mien")
        k.save(src)
        rc = keras_to_mien.main([src, out, "--task", "gender", "--labels", "woman,man",
                                 "--color", "gray", "--scale", "0.00784313725490196",
                                 "--offset", "-1", "--license", "MIT", "--quiet"])
        self.assertEqual(rc, 0)
        meta, tensors = mienfile.read(out)
        self.assertEqual(meta["model.task"], "gender")
        self.assertEqual(meta["input.height"], 8)
        ok, worst = numpy_runner.check((meta, tensors), verbose=False)
        self.assertTrue(ok, worst)
        rc = keras_to_mien.main([src, out, "--labels", "a,b,c", "--quiet"])
        self.assertEqual(rc, 1)  # 3 labels for 2 outputs


# ---------------------------------------------------------------------------------------
# .mien -> ONNX


class MienToOnnxTests(TmpDirCase):
    def export_and_check(self, b, x, dynamic_sizes=()):
        mpath = self.path("m%d.mien" % len(ORT_EXPORTS))
        b.save(mpath, {"model.name": "t"})
        iname = b.inputs[0][0]
        for io in ("nhwc", "nchw"):
            model, _, _ = mien_to_onnx.export(mpath, io)
            onnx.checker.check_model(model)
            for xi in [x] + list(dynamic_sizes):
                want = numpy_runner.run(mpath, {iname: xi})
                feed = xi if io == "nhwc" else xi.transpose(0, 3, 1, 2)
                got = onnx_reference.run(model, {iname: feed})
                for o in b.outputs:
                    y = got[o] if io == "nhwc" else got[o].transpose(0, 2, 3, 1)
                    self.assertEqual(y.shape, want[o].shape, (io, o))
                    self.assertLess(rel_err(y, want[o]), TOL, (io, o))
            path = os.path.join(self.tmp, "exp_%d_%s.onnx" % (len(ORT_EXPORTS), io))
            onnx.save(model, path)
            ORT_EXPORTS.append((path, {iname: x if io == "nhwc" else
                                       x.transpose(0, 3, 1, 2)}, io, mpath))

    def test_all_ops(self):
        for h, w in ((13, 10), (-1, -1)):
            with self.subTest(size=(h, w)):
                b = mienfile.GraphBuilder()
                b.add_input("img", h, w, 3)
                c1 = b.add_node("conv2d", "c1", ["img"],
                                {"strides": [2, 2], "padding": "same", "activation": "relu6"},
                                {"weight": rnd(3, 3, 3, 8), "bias": rnd(8)})
                d1 = b.add_node("depthwise_conv2d", "d1", [c1],
                                {"padding": "explicit", "pads": [1, 0, 2, 1],
                                 "activation": "hard_swish"}, {"weight": rnd(3, 3, 8)})
                d2 = b.add_node("depthwise_conv2d", "d2", [d1],
                                {"padding": "same", "strides": [2, 2], "activation": "prelu"},
                                {"weight": rnd(5, 5, 8), "bias": rnd(8), "slopes": rnd(8)})
                c2 = b.add_node("conv2d", "c2", [d2], {"padding": "same",
                                                        "dilations": [2, 2],
                                                        "activation": "leaky_relu",
                                                        "alpha": 0.1},
                                {"weight": rnd(3, 3, 8, 8)})
                se = b.add_node("squeeze_excite", "se", [c2], {},
                                {"w1": rnd(8, 2), "b1": rnd(2), "w2": rnd(2, 8), "b2": rnd(8)})
                bn = b.add_node("batch_norm", "bn", [se], {},
                                {"scale": rnd(8), "shift": rnd(8)})
                m1 = b.add_node("mul", "m1", [bn], {}, {"scale": rnd(8)})
                g = b.add_node("global_avg_pool", "g", [m1])
                m2 = b.add_node("mul", "m2", [m1, g])
                a = b.add_node("add", "a", [m2, g], {"activation": "swish"})
                a2 = b.add_node("add", "a2", [a, m1], {"activation": "clip",
                                                       "clip": mienfile.F64List([-1, 2])})
                mp = b.add_node("max_pool", "mp", [a2], {"kernel": [3, 3], "strides": [2, 2],
                                                         "padding": "same"})
                ap = b.add_node("avg_pool", "ap", [a2], {"kernel": [2, 3], "strides": [1, 1],
                                                         "padding": "explicit",
                                                         "pads": [1, 1, 0, 1]})
                up = b.add_node("upsample_nearest", "up", [mp], {"scale": 2})
                pd = b.add_node("pad", "pd", [ap], {"pads": [0, 0, 1, 0, 1, 2],
                                                    "value": 0.5})
                t1 = b.add_node("activation", "t1", [pd], {"type": "tanh"})
                t2 = b.add_node("activation", "t2", [up], {"type": "sigmoid"})
                outs = [t1, t2]
                if h > 0:
                    cat = b.add_node("concat", "cat", [t2, a2])  # mp/up restore the size
                    rb = b.add_node("resize_bilinear", "rb", [cat],
                                    {"size": [5, 7], "align_corners": 0,
                                     "half_pixel_centers": 1})
                    rb2 = b.add_node("resize_bilinear", "rb2", [cat],
                                     {"size": [9, 4], "align_corners": 1})
                    rb3 = b.add_node("resize_bilinear", "rb3", [cat], {"size": [6, 6]})
                    rs = b.add_node("reshape", "rs", [rb], {"shape": [7, -1, 4]})
                    fl = b.add_node("flatten", "fl", [rs])
                    de = b.add_node("dense", "de", [fl], {"activation": "relu"},
                                    {"weight": rnd(7 * 5 * 16, 6), "bias": rnd(6)})
                    sm = b.add_node("softmax", "sm", [de])
                    outs += [sm, rb2, rb3]
                b.set_outputs(outs)
                x = rnd(1, 13, 10, 3)
                dyn = [rnd(1, 7, 16, 3)] if h < 0 else []
                self.export_and_check(b, x, dyn)


ORT_EXPORTS = []


class MienToOnnxRuntimeCheck(unittest.TestCase):
    def test_exports_run_in_onnxruntime(self):
        if not ORT_OK:
            self.skipTest("onnxruntime-node is not installed in tools/reference")
        if not ORT_EXPORTS:
            self.skipTest("no exports ran")
        results = ort_run_batch([(p, f) for p, f, _, _ in ORT_EXPORTS])
        for (path, feeds, io, mpath), got in zip(ORT_EXPORTS, results):
            iname = list(feeds)[0]
            x = feeds[iname] if io == "nhwc" else feeds[iname].transpose(0, 2, 3, 1)
            want = numpy_runner.run(mpath, {iname: x})
            self.assertEqual(sorted(got), sorted(want), path)
            for o, r in want.items():
                y = got[o] if io == "nhwc" else got[o].transpose(0, 2, 3, 1)
                self.assertLess(rel_err(y, r), TOL, (path, o))


# ---------------------------------------------------------------------------------------
# Real models


def shared(*parts):
    p = os.path.join(SHARED, *parts)
    return p if os.path.exists(p) else None


def mien_check(case, path):
    """`mien check` (the C++ engine) on a converted file, scalar and best kernels, when
    MIEN_CLI names the built CLI."""
    if not MIEN_CLI:
        return
    case.assertTrue(os.access(MIEN_CLI, os.X_OK), "MIEN_CLI=%s is not an executable" % MIEN_CLI)
    for isa in ("scalar", "auto"):
        r = subprocess.run([MIEN_CLI, "check", "--isa", isa, path], capture_output=True,
                           text=True)
        case.assertEqual(r.returncode, 0, "mien check --isa %s %s:\n%s%s"
                         % (isa, path, r.stdout, r.stderr))


class RealModelTests(TmpDirCase):
    KERAS = [("fer2013_mini_XCEPTION.102-0.66.hdf5", "emotion", 7),
             ("fer2013_big_XCEPTION.54-0.66.hdf5", "emotion", 7),
             ("gender_mini_XCEPTION.21-0.95.hdf5", "gender", 2)]

    def test_keras_models(self):
        if not shared("models", "keras"):
            self.skipTest("../shared/models/keras is absent")
        for fname, task, n in self.KERAS:
            with self.subTest(model=fname):
                src = shared("models", "keras", fname)
                out = self.path(fname + ".mien")
                labels = ("angry,disgust,fear,happy,sad,surprise,neutral" if n == 7
                          else "woman,man")
                rc = keras_to_mien.main([src, out, "--task", task, "--labels", labels,
                                         "--color", "gray", "--scale", "0.00784313725490196",
                                         "--offset", "-1", "--quiet"])
                self.assertEqual(rc, 0)
                meta, tensors = mienfile.read(out)
                ok, worst = numpy_runner.check((meta, tensors), verbose=False)
                self.assertTrue(ok)
                self.assertLess(worst, 1e-5)
                ops = [meta["node.%d.op" % i] for i in range(meta["graph.node_count"])]
                self.assertNotIn("batch_norm", ops)
                model, _, _ = mien_to_onnx.export(out)
                onnx.checker.check_model(model)
                x = tensors["test.0.input.input_1"]
                got = onnx_reference.run(model, {"input_1": x})["predictions"]
                self.assertLess(rel_err(got, tensors["test.0.output.predictions"]), 1e-5)
                mien_check(self, out)

    def test_yunet(self):
        if not shared("models", "onnx"):
            self.skipTest("../shared/models/onnx is absent")
        for fname, hw in (("yunet_n_320_320.onnx", None), ("yunet_n_dynamic.onnx", (160, 224))):
            with self.subTest(model=fname):
                src = shared("models", "onnx", fname)
                out = self.path(fname + ".mien")
                args = [src, out, "--detector", "yunet", "--quiet"]
                if hw:
                    args += ["--input-size", "%d,%d" % hw]
                self.assertEqual(onnx_to_mien.main(args), 0)
                meta, tensors = mienfile.read(out)
                ok, worst = numpy_runner.check((meta, tensors), verbose=False)
                self.assertTrue(ok, worst)
                shape = meta["graph.input.input.shape"]
                self.assertEqual(shape, [-1, -1, 3] if hw else [320, 320, 3])
                h, w = hw or (320, 320)
                for s in (8, 16, 32):
                    self.assertEqual(tensors["test.0.output.bbox_%d" % s].shape,
                                     (1, h // s, w // s, 4))
                    self.assertEqual(tensors["test.0.output.kps_%d" % s].shape,
                                     (1, h // s, w // s, 10))
                self.assertEqual(meta["detector.strides"], [8, 16, 32])
                self.assertEqual(meta["detector.cls_outputs"], ["cls_8", "cls_16", "cls_32"])
                mien_check(self, out)
                model, _, _ = mien_to_onnx.export(out)
                onnx.checker.check_model(model)
                if ORT_OK:
                    # the original ONNX in onnxruntime vs the converted graph
                    x = tensors["test.0.input.input"]
                    ref = mien_to_onnx.run_ort(src, onnx.load(src),
                                               {"input": x.transpose(0, 3, 1, 2)})
                    got = numpy_runner.run((meta, tensors), {"input": x})
                    for o in meta["graph.outputs"]:
                        self.assertLess(rel_err(got[o], ref[o].reshape(got[o].shape)), 1e-4, o)

    def test_big_xception_matches_npm_emotion(self):
        """The npm human-models `emotion` model is big-XCEPTION with BatchNorm folded."""
        src = shared("models", "keras", "fer2013_big_XCEPTION.54-0.66.hdf5")
        emo = os.path.join(REPO, "weights", "emotion.mien")
        if not src:
            self.skipTest("../shared/models/keras is absent")
        if not os.path.exists(emo):
            self.skipTest("weights/emotion.mien is not there yet")
        kf, g = keras_to_mien.convert(src)
        mine = self.path("big.mien")
        writer.to_builder(g).save(mine, {"model.name": "big"})
        em, et = mienfile.read(emo)
        xs = [cli.preprocess(cli.pseudo_image(64, 64, 3, seed), {"input.color": "gray",
                                                              "input.scale": [2 / 255],
                                                              "input.offset": [-1]}, 1)
              for seed in range(4)]
        x = np.stack(xs).astype(np.float32)
        a = numpy_runner.run(mine, {"input_1": x})["predictions"]
        iname = em["graph.inputs"][0]
        b = numpy_runner.run((em, et), {iname: x})[em["graph.outputs"][0]]
        self.assertLess(float(np.abs(a - b).max()), 1e-5)
        # The real faces of tests/data/faces against the npm model's own TF.js outputs.
        faces = os.path.join(REPO, "tests", "data", "faces")
        ids = sorted(f[:-len(".gray64.npy")] for f in os.listdir(faces)
                     if f.endswith(".gray64.npy"))
        self.assertGreaterEqual(len(ids), 8)
        x = np.concatenate([np.load(os.path.join(faces, i + ".gray64.npy")) for i in ids])
        ref = np.concatenate([np.load(os.path.join(faces, i + ".emotion.npy")) for i in ids])
        got = numpy_runner.run(mine, {"input_1": x})["predictions"].reshape(ref.shape)
        self.assertLess(float(np.abs(got - ref).max()), 1e-5)
        self.assertEqual(list(got.argmax(1)), list(ref.argmax(1)))
        if MIEN_CLI:
            # and the C++ engine on the converted big-XCEPTION with those faces embedded
            b = writer.to_builder(g)
            for i in range(len(ids)):
                b.add_test_vector({"input_1": x[i:i + 1]}, {"predictions": ref[i:i + 1]})
            faces_mien = self.path("big_faces.mien")
            b.save(faces_mien, {"model.name": "big"}, tolerance=1e-5)
            mien_check(self, faces_mien)


_PASS_RNG = np.random.default_rng(7)  # its own, so RNG gives the other tests what it did


class PassTests(unittest.TestCase):
    """passes.simplify on small IR graphs: what is fused, and which name a fused pair keeps."""

    W = [_PASS_RNG.standard_normal(s).astype(np.float32)
         for s in ((3, 3, 3, 2), (2,), (2,), (2,), (2,), (2,))]

    def chain(self):
        w, bias, s1, t1, s2, t2 = self.W
        g = Graph()
        g.add_input("x", 5, 4, 3)
        c = g.add("conv2d", "conv", ["x"], {"padding": "same"}, {"weight": w, "bias": bias})
        b1 = g.add("batch_norm", "bn1", [c], {}, {"scale": s1, "shift": t1})
        b2 = g.add("batch_norm", "bn2", [b1], {}, {"scale": s2, "shift": t2})
        r = g.add("activation", "relu", [b2], {"type": "relu"})
        g.outputs = [g.add("softmax", "prob", [r])]
        return g

    def run_graph(self, g, x):
        return numpy_runner.run(writer.to_builder(g).metadata(), {"x": x})["prob"]

    def test_fusion_and_names(self):
        x = _PASS_RNG.standard_normal((1, 5, 4, 3))
        want = self.run_graph(self.chain(), x)
        for keep, name in (("producer", "conv"), ("consumer", "relu")):
            g = passes.simplify(self.chain(), keep=keep)
            self.assertEqual([(n.op, n.name) for n in g.nodes],
                             [("conv2d", name), ("softmax", "prob")])
            self.assertEqual(g.nodes[0].attrs["activation"], "relu")
            self.assertLess(rel_err(self.run_graph(g, x), want), 1e-5)

    def test_batch_norms_merge(self):
        _, _, s1, t1, s2, t2 = self.W
        g = Graph()
        g.add_input("x", 5, 4, 2)
        b1 = g.add("batch_norm", "bn1", ["x"], {}, {"scale": s1, "shift": t1})
        b2 = g.add("batch_norm", "bn2", [b1], {}, {"scale": s2, "shift": t2})
        g.outputs = [g.add("softmax", "prob", [b2])]
        x = _PASS_RNG.standard_normal((1, 5, 4, 2))
        want = self.run_graph(g, x)
        passes.simplify(g)
        self.assertEqual([n.op for n in g.nodes], ["batch_norm", "softmax"])
        self.assertLess(rel_err(self.run_graph(g, x), want), 1e-5)

    def test_graph_output_is_not_fused_away(self):
        g = Graph()
        g.add_input("x", 5, 4, 3)
        c = g.add("conv2d", "conv", ["x"], {}, {"weight": self.W[0][:1, :1]})
        r = g.add("activation", "relu", [c], {"type": "relu"})
        g.outputs = [c, r]
        passes.simplify(g)
        self.assertEqual([n.op for n in g.nodes], ["conv2d", "activation"])

    def test_op_table_is_plain_data(self):
        # The C++ op registry test reads this literal; keep it to dicts, lists and strings.
        for op, spec in ops.OPS.items():
            self.assertEqual(sorted(spec), ["attrs", "inputs", "weights"], op)
            lo, hi = spec["inputs"]
            self.assertTrue(1 <= lo and (hi == -1 or hi >= lo), op)
            self.assertTrue(set(spec["weights"].values()) <= {"required", "optional"}, op)
        self.assertEqual(set(ops.OPS), set(numpy_runner.OPS))


class TorchFixtureTests(unittest.TestCase):
    """tests/data/torch/*.mien are what tools/reference/make_torch_mien.sh makes today."""

    def test_committed_torch_mien_files_are_current(self):
        script = os.path.join(REPO, "tools", "reference", "make_torch_mien.sh")
        committed = os.path.join(REPO, "tests", "data", "torch")
        names = sorted(f[:-5] for f in os.listdir(committed) if f.endswith(".onnx"))
        self.assertEqual(names, ["mobilenet_v1", "resnet18", "se_resnet18", "vgg16"])
        out = tempfile.mkdtemp(prefix="mien_torch_", dir=TMP)
        r = subprocess.run(["bash", script, "--out", out], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        for n in names:
            with self.subTest(model=n):
                fresh = os.path.join(out, n + ".mien")
                with open(fresh, "rb") as f1, open(os.path.join(committed, n + ".mien"),
                                                   "rb") as f2:
                    self.assertTrue(f1.read() == f2.read(),
                                    "tests/data/torch/%s.mien differs from what the converter "
                                    "makes now: run tools/reference/make_torch_mien.sh and "
                                    "commit the result" % n)
                mien_check(self, fresh)


ORDER = [ReferenceSelfTests, OnnxToMienTests, OnnxRuntimeCrossCheck, KerasToMienTests,
         MienToOnnxTests, MienToOnnxRuntimeCheck, RealModelTests, PassTests, TorchFixtureTests]


def load_tests(loader, tests, pattern):
    """Fixed class order: the onnxruntime checks run after the cases that feed them."""
    suite = unittest.TestSuite()
    for cls in ORDER:
        suite.addTests(loader.loadTestsFromTestCase(cls))
    return suite


if __name__ == "__main__":
    unittest.main()
