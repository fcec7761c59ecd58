"""A plain numpy interpreter of ONNX graphs in their own NCHW semantics (float64), used as
the independent reference for onnx_to_mien.py (test vectors, shape discovery, constant
folding) and to verify mien_to_onnx.py exports. The onnx package in Debian 12 (1.12) has
no onnx.reference, so this covers the operators the converters handle.

    run(model, feeds, keep_all=False) -> {output name: ndarray}
        model: onnx.ModelProto or a path; feeds: {input name: array (NCHW)}

CLI: python3 -m mienconv.onnx_reference MODEL.onnx INPUT.npy [...] OUT_PREFIX
     (writes OUT_PREFIX.<name>.npy)
"""

import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

FLOAT_TYPES = (np.float16, np.float32, np.float64)


class OnnxRefError(Exception):
    pass


def attrs_of(node):
    out = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode("utf-8")
        elif isinstance(v, list) and v and isinstance(v[0], bytes):
            v = [x.decode("utf-8") for x in v]
        elif isinstance(v, onnx.TensorProto):
            v = numpy_helper.to_array(v)
        out[a.name] = v
    return out


def opset_of(model):
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            return int(o.version)
    return 1


def tensor_value(t):
    a = numpy_helper.to_array(t)
    if a.dtype in FLOAT_TYPES:
        a = a.astype(np.float64)
    return a


# ---------------------------------------------------------------------------------------
# Kernels (NCHW)


def _conv_out(size, k, s, d, pb, pa):
    return (size + pb + pa - (d * (k - 1) + 1)) // s + 1


def auto_pads(auto_pad, in_hw, kernel, strides, dil):
    """ONNX auto_pad -> pads [t, l, b, r] (SAME_UPPER puts the odd cell after)."""
    if auto_pad in ("VALID",):
        return [0, 0, 0, 0]
    pads_b, pads_a = [], []
    for size, k, s, d in zip(in_hw, kernel, strides, dil):
        out = -(-size // s)
        total = max(0, (out - 1) * s + d * (k - 1) + 1 - size)
        small, big = total // 2, total - total // 2
        if auto_pad == "SAME_UPPER":
            pads_b.append(small)
            pads_a.append(big)
        else:
            pads_b.append(big)
            pads_a.append(small)
    return pads_b + pads_a


def window_pads(a, x, kernel):
    strides = list(a.get("strides", [1] * len(kernel)))
    dil = list(a.get("dilations", [1] * len(kernel)))
    ap = a.get("auto_pad", "NOTSET")
    if ap in ("NOTSET", ""):
        pads = list(a.get("pads", [0] * (2 * len(kernel))))
    else:
        pads = auto_pads(ap, x.shape[2:], kernel, strides, dil)
    return strides, dil, pads


def conv(x, w, b, a):
    kernel = list(a.get("kernel_shape", w.shape[2:]))
    if len(kernel) != 2:
        raise OnnxRefError("Conv: only 2-D convolutions")
    strides, dil, pads = window_pads(a, x, kernel)
    group = int(a.get("group", 1))
    n, c, h, wd = x.shape
    o, ig, kh, kw = w.shape
    if ig * group != c or o % group:
        raise OnnxRefError("Conv: weight %s does not fit input %s with group %d"
                           % (w.shape, x.shape, group))
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh = _conv_out(h, kh, strides[0], dil[0], pads[0], pads[2])
    ow = _conv_out(wd, kw, strides[1], dil[1], pads[1], pads[3])
    og = o // group
    out = np.zeros((n, group, og, oh, ow))
    for i in range(kh):
        for j in range(kw):
            y0, x0 = i * dil[0], j * dil[1]
            patch = xp[:, :, y0:y0 + strides[0] * (oh - 1) + 1:strides[0],
                       x0:x0 + strides[1] * (ow - 1) + 1:strides[1]]
            patch = patch.reshape(n, group, ig, oh, ow)
            wt = w[:, :, i, j].reshape(group, og, ig)
            if ig == 1:
                out += patch * wt[None, :, :, 0, None, None]
            elif group == 1:
                out[:, 0] += np.tensordot(wt[0], patch[:, 0], axes=([1], [1])).transpose(
                    1, 0, 2, 3)
            else:
                out += np.einsum("ngchw,goc->ngohw", patch, wt)
    out = out.reshape(n, o, oh, ow)
    if b is not None:
        out = out + b.reshape(1, -1, 1, 1)
    return out


def pool(x, a, kind):
    kernel = list(a["kernel_shape"])
    strides, dil, pads = window_pads(a, x, kernel)
    ceil_mode = int(a.get("ceil_mode", 0))
    n, c = x.shape[:2]
    outs, extra = [], []
    for ax in range(2):
        size = x.shape[2 + ax]
        pb, pa = pads[ax], pads[ax + 2]
        ext = dil[ax] * (kernel[ax] - 1) + 1
        span = size + pb + pa - ext
        out = (-(-span // strides[ax]) if ceil_mode else span // strides[ax]) + 1
        if ceil_mode and (out - 1) * strides[ax] >= size + pb:
            out -= 1  # the last window must start inside the input or the left padding
        outs.append(out)
        extra.append(max(0, (out - 1) * strides[ax] + ext - (size + pb + pa)))
    padw = ((0, 0), (0, 0), (pads[0], pads[2] + extra[0]), (pads[1], pads[3] + extra[1]))
    if kind == "max":
        xp = np.pad(x, padw, constant_values=-np.inf)
    else:
        xp = np.pad(x, padw)
        if int(a.get("count_include_pad", 0)):
            ones = np.pad(np.ones((1, 1) + tuple(x.shape[2:])),
                          ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])),
                          constant_values=1.0)
            ones = np.pad(ones, ((0, 0), (0, 0), (0, extra[0]), (0, extra[1])))
        else:
            ones = np.pad(np.ones((1, 1) + tuple(x.shape[2:])), padw)
    oh, ow = outs
    acc = cnt = None
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            y0, x0 = i * dil[0], j * dil[1]
            sl = (slice(None), slice(None), slice(y0, y0 + strides[0] * (oh - 1) + 1,
                                                  strides[0]),
                  slice(x0, x0 + strides[1] * (ow - 1) + 1, strides[1]))
            p = xp[sl]
            if kind == "max":
                acc = p.copy() if acc is None else np.maximum(acc, p)
            else:
                acc = p.copy() if acc is None else acc + p
                q = ones[sl]
                cnt = q.copy() if cnt is None else cnt + q
    return acc if kind == "max" else acc / np.maximum(cnt, 1)


def resize_source(out_len, in_len, scale, mode, out_is_sizes):
    x = np.arange(out_len, dtype=np.float64)
    if mode == "half_pixel":
        return (x + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (x + 0.5) / scale - 0.5 if out_len > 1 else np.zeros(out_len)
    if mode == "align_corners":
        return x * (in_len - 1) / (out_len - 1) if out_len > 1 else np.zeros(out_len)
    if mode == "asymmetric":
        return x / scale
    if mode == "tf_half_pixel_for_nn":
        return (x + 0.5) / scale
    raise OnnxRefError("Resize: coordinate_transformation_mode '%s'" % mode)


def nearest_index(src, nearest_mode, in_len):
    if nearest_mode == "round_prefer_floor":
        i = np.ceil(src - 0.5)
    elif nearest_mode == "round_prefer_ceil":
        i = np.floor(src + 0.5)
    elif nearest_mode == "floor":
        i = np.floor(src)
    elif nearest_mode == "ceil":
        i = np.ceil(src)
    else:
        raise OnnxRefError("Resize: nearest_mode '%s'" % nearest_mode)
    return np.clip(i, 0, in_len - 1).astype(np.int64)


def resize(x, out_shape, scales, mode, ctm, nearest_mode):
    y = x
    for ax in range(x.ndim):
        in_len, out_len = x.shape[ax], int(out_shape[ax])
        if in_len == out_len and (scales is None or scales[ax] == 1.0):
            continue
        scale = scales[ax] if scales is not None else out_len / in_len
        src = resize_source(out_len, in_len, scale, ctm, scales is None)
        if mode == "nearest":
            y = np.take(y, nearest_index(src, nearest_mode, in_len), axis=ax)
        elif mode in ("linear", "bilinear"):
            src = np.clip(src, 0, in_len - 1)
            lo = np.floor(src).astype(np.int64)
            hi = np.minimum(lo + 1, in_len - 1)
            f = (src - lo).reshape([-1 if d == ax else 1 for d in range(x.ndim)])
            y = np.take(y, lo, axis=ax) * (1 - f) + np.take(y, hi, axis=ax) * f
        else:
            raise OnnxRefError("Resize: mode '%s'" % mode)
    return y


def softmax(x, axis, opset):
    if opset < 13:
        axis = axis % x.ndim
        shp = x.shape
        x2 = x.reshape(int(np.prod(shp[:axis])), -1)
        e = np.exp(x2 - x2.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).reshape(shp)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _axes(a, inputs, idx, opset, new_from):
    if opset >= new_from and len(inputs) > idx and inputs[idx] is not None:
        return [int(v) for v in np.asarray(inputs[idx]).reshape(-1)]
    v = a.get("axes")
    return None if v is None else [int(x) for x in v]


def _onnx_dtype(to):
    return onnx.helper.tensor_dtype_to_np_dtype(to) if hasattr(
        onnx.helper, "tensor_dtype_to_np_dtype") else onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[to]


# ---------------------------------------------------------------------------------------


def eval_node(node, ins, opset):
    """ins: list of arrays (None for an omitted optional input) -> list of outputs."""
    t = node.op_type
    a = attrs_of(node)
    x = ins[0] if ins else None
    if t == "Conv":
        return [conv(x, ins[1], ins[2] if len(ins) > 2 else None, a)]
    if t == "BatchNormalization":
        eps = float(a.get("epsilon", 1e-5))
        scale, b, mean, var = ins[1:5]
        sh = (1, -1) + (1,) * (x.ndim - 2)
        return [(x - mean.reshape(sh)) / np.sqrt(var.reshape(sh) + eps) * scale.reshape(sh)
                + b.reshape(sh)]
    if t == "Relu":
        return [np.maximum(x, 0)]
    if t == "Sigmoid":
        return [1 / (1 + np.exp(-x))]
    if t == "Tanh":
        return [np.tanh(x)]
    if t == "LeakyRelu":
        al = float(a.get("alpha", 0.01))
        return [np.where(x >= 0, x, al * x)]
    if t == "PRelu":
        return [np.where(x >= 0, x, ins[1] * x)]
    if t == "HardSigmoid":
        return [np.clip(float(a.get("alpha", 0.2)) * x + float(a.get("beta", 0.5)), 0, 1)]
    if t == "HardSwish":
        return [x * np.clip(x / 6 + 0.5, 0, 1)]
    if t == "Clip":
        if opset >= 11:
            lo = ins[1] if len(ins) > 1 and ins[1] is not None else -np.inf
            hi = ins[2] if len(ins) > 2 and ins[2] is not None else np.inf
        else:
            lo, hi = a.get("min", -3.4028234663852886e38), a.get("max", 3.4028234663852886e38)
        return [np.clip(x, lo, hi)]
    if t in ("Add", "Sub", "Mul", "Div", "Pow", "Equal", "Less", "Greater", "Max", "Min"):
        y = ins[1]
        if t == "Add":
            r = x + y
        elif t == "Sub":
            r = x - y
        elif t == "Mul":
            r = x * y
        elif t == "Div":
            if np.issubdtype(np.asarray(x).dtype, np.integer) and \
                    np.issubdtype(np.asarray(y).dtype, np.integer):
                r = np.trunc(np.asarray(x) / np.asarray(y)).astype(np.asarray(x).dtype)
            else:
                r = x / y
        elif t == "Pow":
            r = np.power(x, y)
        elif t == "Equal":
            r = np.equal(x, y)
        elif t == "Less":
            r = np.less(x, y)
        elif t == "Greater":
            r = np.greater(x, y)
        elif t == "Max":
            r = x
            for z in ins[1:]:
                r = np.maximum(r, z)
        else:
            r = x
            for z in ins[1:]:
                r = np.minimum(r, z)
        return [r]
    if t in ("Sqrt", "Exp", "Neg", "Abs", "Floor", "Ceil", "Reciprocal", "Log"):
        f = {"Sqrt": np.sqrt, "Exp": np.exp, "Neg": np.negative, "Abs": np.abs,
             "Floor": np.floor, "Ceil": np.ceil, "Reciprocal": lambda v: 1 / v,
             "Log": np.log}[t]
        return [f(x)]
    if t == "Where":
        return [np.where(ins[0], ins[1], ins[2])]
    if t == "Expand":
        # opset 8/13: bidirectional (numpy) broadcast of x against the shape input; a 1 in
        # the shape keeps x's dimension, and either side may have fewer dimensions
        shape = tuple(int(v) for v in np.asarray(ins[1]).reshape(-1))
        if any(v < 0 for v in shape):
            raise OnnxRefError("Expand: negative dimension in shape %s" % (shape,))
        r = np.asarray(x)
        return [np.broadcast_to(r, np.broadcast_shapes(r.shape, shape)).copy()]
    if t == "GlobalAveragePool":
        return [x.mean(axis=tuple(range(2, x.ndim)), keepdims=True)]
    if t == "GlobalMaxPool":
        return [x.max(axis=tuple(range(2, x.ndim)), keepdims=True)]
    if t in ("ReduceMean", "ReduceSum", "ReduceMax"):
        axes = _axes(a, ins, 1, opset, 18 if t != "ReduceSum" else 13)
        keep = bool(a.get("keepdims", 1))
        f = {"ReduceMean": np.mean, "ReduceSum": np.sum, "ReduceMax": np.max}[t]
        return [f(x, axis=None if not axes else tuple(axes), keepdims=keep)]
    if t == "MaxPool":
        if len(node.output) > 1 and node.output[1]:
            raise OnnxRefError("MaxPool indices output is not supported")
        return [pool(x, a, "max")]
    if t == "AveragePool":
        return [pool(x, a, "avg")]
    if t == "Gemm":
        A = x.T if a.get("transA", 0) else x
        B = ins[1].T if a.get("transB", 0) else ins[1]
        r = float(a.get("alpha", 1.0)) * (A @ B)
        if len(ins) > 2 and ins[2] is not None:
            r = r + float(a.get("beta", 1.0)) * ins[2]
        return [r]
    if t == "MatMul":
        return [np.matmul(x, ins[1])]
    if t == "Flatten":
        ax = int(a.get("axis", 1)) % max(1, x.ndim) if x.ndim else 0
        return [x.reshape(int(np.prod(x.shape[:ax])), -1)]
    if t == "Reshape":
        shape = [int(v) for v in np.asarray(ins[1]).reshape(-1)] if len(ins) > 1 else \
            list(a["shape"])
        allowzero = int(a.get("allowzero", 0))
        shape = [x.shape[i] if (v == 0 and not allowzero) else v for i, v in enumerate(shape)]
        return [x.reshape(shape)]
    if t == "Transpose":
        perm = a.get("perm")
        return [np.transpose(x, perm)]
    if t == "Concat":
        return [np.concatenate([np.asarray(v) for v in ins if v is not None],
                               axis=int(a["axis"]))]
    if t == "Softmax":
        return [softmax(x, int(a.get("axis", 1 if opset < 13 else -1)), opset)]
    if t in ("Identity", "Dropout"):
        return [x] + ([np.ones(x.shape, bool)] if len(node.output) > 1 else [])
    if t == "Cast":
        return [np.asarray(x).astype(_onnx_dtype(int(a["to"])))]
    if t == "Constant":
        for k in ("value", "value_float", "value_floats", "value_int", "value_ints"):
            if k in a:
                v = np.asarray(a[k])
                if v.dtype in FLOAT_TYPES:
                    v = v.astype(np.float64)
                elif k in ("value_int", "value_ints"):
                    v = v.astype(np.int64)
                return [v]
        raise OnnxRefError("Constant without a supported value attribute")
    if t == "ConstantOfShape":
        v = a.get("value", np.zeros(1, np.float32))
        v = np.asarray(v).reshape(-1)
        return [np.full([int(s) for s in np.asarray(x).reshape(-1)], v[0],
                        dtype=np.float64 if v.dtype in FLOAT_TYPES else v.dtype)]
    if t == "Shape":
        s = np.array(x.shape, dtype=np.int64)
        start, end = int(a.get("start", 0)), a.get("end")
        return [s[start:end if end is None else int(end)]]
    if t == "Gather":
        return [np.take(x, np.asarray(ins[1]).astype(np.int64), axis=int(a.get("axis", 0)))]
    if t == "Unsqueeze":
        axes = _axes(a, ins, 1, opset, 13)
        r = np.asarray(x)
        nd = r.ndim + len(axes)
        for ax in sorted(v % nd for v in axes):
            r = np.expand_dims(r, ax)
        return [r]
    if t == "Squeeze":
        axes = _axes(a, ins, 1, opset, 13)
        r = np.asarray(x)
        return [np.squeeze(r, axis=None if axes is None else tuple(v % r.ndim for v in axes))]
    if t == "Slice":
        if opset >= 10:
            starts = np.asarray(ins[1]).reshape(-1)
            ends = np.asarray(ins[2]).reshape(-1)
            axes = np.asarray(ins[3]).reshape(-1) if len(ins) > 3 and ins[3] is not None \
                else np.arange(len(starts))
            steps = np.asarray(ins[4]).reshape(-1) if len(ins) > 4 and ins[4] is not None \
                else np.ones(len(starts), np.int64)
        else:
            starts, ends = a["starts"], a["ends"]
            axes = a.get("axes", list(range(len(starts))))
            steps = [1] * len(starts)
        sl = [slice(None)] * np.asarray(x).ndim
        for s, e, ax, st in zip(starts, ends, axes, steps):
            sl[int(ax)] = slice(int(s), int(e), int(st))
        return [np.asarray(x)[tuple(sl)]]
    if t == "Range":
        return [np.arange(ins[0], ins[1], ins[2])]
    if t == "Pad":
        mode = a.get("mode", "constant")
        if opset >= 11:
            pads = [int(v) for v in np.asarray(ins[1]).reshape(-1)]
            value = float(np.asarray(ins[2]).reshape(-1)[0]) if len(ins) > 2 and \
                ins[2] is not None else 0.0
        else:
            pads = list(a["pads"])
            value = float(a.get("value", 0.0))
        nd = x.ndim
        pw = [(pads[i], pads[i + nd]) for i in range(nd)]
        if any(p < 0 for pr in pw for p in pr):
            raise OnnxRefError("Pad: negative pads")
        if mode == "constant":
            return [np.pad(x, pw, constant_values=value)]
        return [np.pad(x, pw, mode={"reflect": "reflect", "edge": "edge"}[mode])]
    if t in ("Resize", "Upsample"):
        mode = a.get("mode", "nearest")
        if t == "Upsample" or opset < 11:
            scales = np.asarray(ins[1] if len(ins) > 1 else a["scales"], np.float64)
            ctm, nm = "asymmetric", "floor"
            sizes = None
        else:
            scales = ins[2] if len(ins) > 2 and ins[2] is not None and \
                np.asarray(ins[2]).size else None
            sizes = ins[3] if len(ins) > 3 and ins[3] is not None else None
            ctm = a.get("coordinate_transformation_mode", "half_pixel")
            nm = a.get("nearest_mode", "round_prefer_floor")
        if sizes is not None:
            out_shape = [int(v) for v in np.asarray(sizes).reshape(-1)]
            scales = None
        else:
            scales = [float(v) for v in np.asarray(scales).reshape(-1)]
            out_shape = [int(math.floor(d * s)) for d, s in zip(x.shape, scales)]
        return [resize(x, out_shape, scales, mode, ctm, nm)]
    raise OnnxRefError("operator %s is not implemented by the numpy reference" % t)


def run(model, feeds, keep_all=False):
    if isinstance(model, str):
        model = onnx.load(model)
    g = model.graph
    opset = opset_of(model)
    vals = {t.name: tensor_value(t) for t in g.initializer}
    for k, v in feeds.items():
        v = np.asarray(v)
        vals[k] = v.astype(np.float64) if v.dtype in FLOAT_TYPES else v
    for node in g.node:
        ins = [vals[i] if i else None for i in node.input]
        try:
            outs = eval_node(node, ins, opset)
        except (OnnxRefError, ValueError, IndexError, KeyError, TypeError) as e:
            shapes = [list(np.shape(v)) if v is not None else None for v in ins]
            raise OnnxRefError("node '%s' (%s), input shapes %s: %s"
                               % (node.name, node.op_type, shapes, e)) from None
        for name, v in zip(node.output, outs):
            if name:
                vals[name] = v
    if keep_all:
        return vals
    return {o.name: vals[o.name] for o in g.output}


def run_onnxruntime(model_path, arrays):
    """Runs the ONNX file with onnxruntime-node (tools/reference/run_onnx.mjs; node and
    `npm ci --prefix tools/reference` needed) on arrays given in the graph's input order;
    returns {output name: array}."""
    runner = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                          "reference", "run_onnx.mjs")
    with tempfile.TemporaryDirectory() as d:
        files = []
        for i, x in enumerate(arrays):
            p = os.path.join(d, "in%d.npy" % i)
            np.save(p, np.ascontiguousarray(x, np.float32))
            files.append(p)
        subprocess.run(["node", runner, model_path] + files + [os.path.join(d, "out")],
                       check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(d, "out.json")) as f:
            man = json.load(f)
        return {o["name"]: np.load(os.path.join(d, o["file"])) for o in man["outputs"]}


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    model = onnx.load(argv[0])
    names = [i.name for i in model.graph.input
             if i.name not in {t.name for t in model.graph.initializer}]
    feeds = {n: np.load(p) for n, p in zip(names, argv[1:-1])}
    for k, v in run(model, feeds).items():
        np.save("%s.%s.npy" % (argv[-1], k), v.astype(np.float32))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
