"""A naive numpy interpreter of .mien graphs: an independent second implementation of
every op of include/mien/model/FORMAT.md, used to validate converters before and
alongside the C++ engine. Computes in float64 and returns float32.

    run(model, inputs, keep_all=False) -> {output name: NHWC float32 array}
        model: a path, or a (meta, tensors) pair as mienfile.read returns
        inputs: {graph input name: NHWC array}

CLI (cd tools/convert, or PYTHONPATH=tools/convert):
    python3 -m mienconv.numpy_runner MODEL --check
        run the embedded test vectors, print the max error per output, exit 1 over tolerance
    python3 -m mienconv.numpy_runner MODEL --input NAME=X.npy [--input ...] --save PREFIX
        run on .npy inputs, write PREFIX.<output>.npy
"""

import argparse
import os
import sys

import numpy as np

from . import mienfile
from .ops import OPS as OP_TABLE


class RunError(ValueError):
    pass


# ---------------------------------------------------------------------------------------
# Attribute helpers

def _pair(attrs, key, default):
    v = attrs.get(key, [default, default])
    if isinstance(v, int):
        v = [v, v]
    v = [int(x) for x in v]
    if len(v) != 2 or min(v) < 1:
        raise RunError(f"attribute '{key}' must be two positive integers, got {v}")
    return v


def _axis(mode, size, kernel, stride, dilation, before, after):
    """TF/FORMAT.md padding rule for one axis -> (out, pad_before, pad_after)."""
    extent = dilation * (kernel - 1) + 1
    if mode == "valid":
        if size < extent:
            raise RunError(f"input size {size} is smaller than the window {extent} (valid)")
        return (size - extent) // stride + 1, 0, 0
    if mode == "same":
        out = -(-size // stride)
        total = max(0, (out - 1) * stride + extent - size)
        return out, total // 2, total - total // 2
    if mode == "explicit":
        if before < 0 or after < 0:
            raise RunError("negative padding")
        if size + before + after < extent:
            raise RunError(f"padded input {size + before + after} is smaller than the window")
        return (size + before + after - extent) // stride + 1, before, after
    raise RunError(f"padding must be valid, same or explicit, not '{mode}'")


def _window(attrs, h, w, kh, kw):
    sh, sw = _pair(attrs, "strides", 1)
    dh, dw = _pair(attrs, "dilations", 1)
    mode = attrs.get("padding", "valid")
    pads = [0, 0, 0, 0]
    if mode == "explicit":
        pads = [int(x) for x in attrs.get("pads", [])]
        if len(pads) != 4:
            raise RunError("attribute 'pads' must be [top, left, bottom, right]")
    oh, pt, pb = _axis(mode, h, kh, sh, dh, pads[0], pads[2])
    ow, pl, pr = _axis(mode, w, kw, sw, dw, pads[1], pads[3])
    return oh, ow, (pt, pb, pl, pr), (sh, sw), (dh, dw)


def _patches(xp, kh, kw, oh, ow, stride, dil):
    """Yields (i, j, view N x oh x ow x C) for each kernel tap over the padded input."""
    sh, sw = stride
    dh, dw = dil
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * dh, j * dw
            yield i, j, xp[:, r0:r0 + (oh - 1) * sh + 1:sh, c0:c0 + (ow - 1) * sw + 1:sw, :]


def _pad_hw(x, pads, value=0.0):
    pt, pb, pl, pr = pads
    if not any(pads):
        return x
    return np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=value)


def activate(x, attrs, weights, key="activation"):
    kind = attrs.get(key, "none")
    if kind == "none":
        return x
    if kind == "relu":
        return np.maximum(x, 0)
    if kind == "relu6":
        return np.clip(x, 0, 6)
    if kind == "clip":
        lo, hi = [float(v) for v in attrs["clip"]]
        return np.clip(x, lo, hi)
    if kind == "leaky_relu":
        a = float(attrs.get("alpha", 0.2))
        return np.where(x >= 0, x, a * x)
    if kind == "prelu":
        s = np.asarray(weights["slopes"], np.float64).reshape(-1)
        if s.size not in (1, x.shape[-1]):
            raise RunError(f"prelu has {s.size} slopes for {x.shape[-1]} channels")
        return np.where(x >= 0, x, s * x)
    if kind == "sigmoid":
        return 1.0 / (1.0 + np.exp(-x))
    if kind == "tanh":
        return np.tanh(x)
    if kind == "swish":
        return x / (1.0 + np.exp(-x))
    if kind == "hard_swish":
        return x * np.clip(x + 3, 0, 6) / 6
    raise RunError(f"unknown activation '{kind}'")


def _w(weights, role, rank=None):
    if role not in weights:
        raise RunError(f"missing weight tensor '<node>/{role}'")
    a = np.asarray(weights[role], np.float64)
    if rank is not None and a.ndim != rank:
        raise RunError(f"weight '{role}' must have rank {rank}, got shape {a.shape}")
    return a


def _bias(weights, channels):
    if "bias" not in weights:
        return 0.0
    b = np.asarray(weights["bias"], np.float64).reshape(-1)
    if b.size != channels:
        raise RunError(f"bias has {b.size} values for {channels} channels")
    return b


# ---------------------------------------------------------------------------------------
# Ops: f(inputs, attrs, weights) -> array

def op_conv2d(xs, attrs, weights):
    x = xs[0]
    wt = _w(weights, "weight", 4)
    kh, kw, cin, cout = wt.shape
    if x.shape[3] != cin:
        raise RunError(f"conv2d weight expects {cin} input channels, input has {x.shape[3]}")
    oh, ow, pads, stride, dil = _window(attrs, x.shape[1], x.shape[2], kh, kw)
    xp = _pad_hw(x, pads)
    out = np.zeros((x.shape[0], oh, ow, cout))
    for i, j, p in _patches(xp, kh, kw, oh, ow, stride, dil):
        out += p @ wt[i, j]
    return activate(out + _bias(weights, cout), attrs, weights)


def op_qconv2d(xs, attrs, weights):
    """int8 conv: the input quantized as mien does it (float32 x * (1/scale), clamped, rounded
    half to even, + zero point), integer products summed exactly, then scaled back."""
    x = xs[0]
    wt = _w(weights, "weight", 4)
    kh, kw, cin, cout = wt.shape
    if x.shape[3] != cin:
        raise RunError(f"qconv2d weight expects {cin} input channels, input has {x.shape[3]}")
    scale = np.float32(attrs["input_scale"])
    zp = int(attrs["input_zero_point"])
    v = np.asarray(x, np.float32) * (np.float32(1) / scale)
    v = np.minimum(np.maximum(v, np.float32(-zp)), np.float32(255 - zp))
    xq = np.rint(v).astype(np.float64)  # q - zero point; padding (0.0) stays 0
    ws = np.asarray(weights["weight_scale"], np.float64).reshape(-1)
    oh, ow, pads, stride, dil = _window(attrs, x.shape[1], x.shape[2], kh, kw)
    xp = _pad_hw(xq, pads)
    acc = np.zeros((x.shape[0], oh, ow, cout))
    for i, j, p in _patches(xp, kh, kw, oh, ow, stride, dil):
        acc += p @ wt[i, j]
    out = acc * (np.float64(scale) * ws)
    return activate(out + _bias(weights, cout), attrs, weights)


def op_depthwise_conv2d(xs, attrs, weights):
    x = xs[0]
    wt = _w(weights, "weight", 3)
    kh, kw, c = wt.shape
    if x.shape[3] != c:
        raise RunError(f"depthwise weight has {c} channels, input has {x.shape[3]}")
    oh, ow, pads, stride, dil = _window(attrs, x.shape[1], x.shape[2], kh, kw)
    xp = _pad_hw(x, pads)
    out = np.zeros((x.shape[0], oh, ow, c))
    for i, j, p in _patches(xp, kh, kw, oh, ow, stride, dil):
        out += p * wt[i, j]
    return activate(out + _bias(weights, c), attrs, weights)


def op_dense(xs, attrs, weights):
    x = xs[0]
    wt = _w(weights, "weight", 2)
    flat = x.reshape(x.shape[0], -1)
    if flat.shape[1] != wt.shape[0]:
        raise RunError(f"dense weight expects {wt.shape[0]} inputs, got {flat.shape[1]} "
                       f"(input {list(x.shape)})")
    out = flat @ wt + _bias(weights, wt.shape[1])
    return activate(out, attrs, weights).reshape(x.shape[0], 1, 1, wt.shape[1])


def _pool(xs, attrs, kind):
    x = xs[0]
    kh, kw = _pair(attrs, "kernel", 2)
    a = dict(attrs)
    a.pop("dilations", None)
    oh, ow, pads, stride, dil = _window(a, x.shape[1], x.shape[2], kh, kw)
    if kind == "max":
        xp = _pad_hw(x, pads, -np.inf)
        out = np.full((x.shape[0], oh, ow, x.shape[3]), -np.inf)
        for _, _, p in _patches(xp, kh, kw, oh, ow, stride, dil):
            out = np.maximum(out, p)
        return out
    xp = _pad_hw(x, pads)
    ones = _pad_hw(np.ones((1, x.shape[1], x.shape[2], 1)), pads)
    out = np.zeros((x.shape[0], oh, ow, x.shape[3]))
    cnt = np.zeros((1, oh, ow, 1))
    for (_, _, p), (_, _, q) in zip(_patches(xp, kh, kw, oh, ow, stride, dil),
                                    _patches(ones, kh, kw, oh, ow, stride, dil)):
        out += p
        cnt += q
    return out / cnt  # padded cells are not counted


def op_max_pool(xs, attrs, weights):
    return _pool(xs, attrs, "max")


def op_avg_pool(xs, attrs, weights):
    return _pool(xs, attrs, "avg")


def op_global_avg_pool(xs, attrs, weights):
    return xs[0].mean(axis=(1, 2), keepdims=True)


def _broadcast_second(a, b, op):
    if b.shape != a.shape and not (b.shape[0] == a.shape[0] and b.shape[1:3] == (1, 1)
                                   and b.shape[3] == a.shape[3]):
        raise RunError(f"{op}: second input {list(b.shape)} must match {list(a.shape)} or be "
                       "N x 1 x 1 x C")


def op_add(xs, attrs, weights):
    if len(xs) != 2:
        raise RunError(f"add takes 2 inputs, got {len(xs)}")
    _broadcast_second(xs[0], xs[1], "add")
    return activate(xs[0] + xs[1], attrs, weights)


def op_mul(xs, attrs, weights):
    if len(xs) == 2:
        _broadcast_second(xs[0], xs[1], "mul")
        return xs[0] * xs[1]
    if len(xs) != 1:
        raise RunError(f"mul takes 1 or 2 inputs, got {len(xs)}")
    s = _w(weights, "scale").reshape(-1)
    if s.size not in (1, xs[0].shape[3]):
        raise RunError(f"mul scale has {s.size} values for {xs[0].shape[3]} channels")
    return xs[0] * s


def op_batch_norm(xs, attrs, weights):
    s = _w(weights, "scale").reshape(-1)
    t = _w(weights, "shift").reshape(-1)
    c = xs[0].shape[3]
    if s.size != c or t.size != c:
        raise RunError(f"batch_norm scale/shift have {s.size}/{t.size} values for {c} channels")
    return xs[0] * s + t


def op_concat(xs, attrs, weights):
    for x in xs[1:]:
        if x.shape[:3] != xs[0].shape[:3]:
            raise RunError(f"concat inputs differ: {[list(x.shape) for x in xs]}")
    return np.concatenate(xs, axis=3)


def op_pad(xs, attrs, weights):
    p = [int(v) for v in attrs.get("pads", [])]
    if len(p) != 6 or min(p) < 0:
        raise RunError("pad 'pads' must be 6 non-negative values "
                       "[top, left, bottom, right, before, after]")
    v = float(attrs.get("value", 0.0))
    return np.pad(xs[0], ((0, 0), (p[0], p[2]), (p[1], p[3]), (p[4], p[5])), constant_values=v)


def op_upsample_nearest(xs, attrs, weights):
    s = int(attrs.get("scale", 2))
    if s < 1:
        raise RunError(f"upsample scale {s}")
    return xs[0].repeat(s, axis=1).repeat(s, axis=2)


def _resize_weights(in_size, out_size, align_corners, half_pixel):
    """TensorFlow's ResizeBilinear source coordinates for one axis."""
    if align_corners and out_size > 1:
        scale = (in_size - 1) / (out_size - 1)
    else:
        scale = in_size / out_size
    i = np.arange(out_size, dtype=np.float64)
    src = (i + 0.5) * scale - 0.5 if half_pixel else i * scale
    # TF computes in float32.
    src = src.astype(np.float32).astype(np.float64)
    f = np.floor(src)
    lo = np.maximum(f, 0).astype(np.int64)
    hi = np.minimum(np.ceil(src), in_size - 1).astype(np.int64)
    return lo, hi, src - f


def op_resize_bilinear(xs, attrs, weights):
    x = xs[0]
    oh, ow = _pair(attrs, "size", 1)
    ac = bool(attrs.get("align_corners", 0))
    hp = bool(attrs.get("half_pixel_centers", 0))
    y0, y1, fy = _resize_weights(x.shape[1], oh, ac, hp)
    x0, x1, fx = _resize_weights(x.shape[2], ow, ac, hp)
    fy = fy[None, :, None, None]
    fx = fx[None, None, :, None]
    top = x[:, y0][:, :, x0] + (x[:, y0][:, :, x1] - x[:, y0][:, :, x0]) * fx
    bot = x[:, y1][:, :, x0] + (x[:, y1][:, :, x1] - x[:, y1][:, :, x0]) * fx
    return top + (bot - top) * fy


def op_reshape(xs, attrs, weights):
    x = xs[0]
    s = [int(v) for v in attrs.get("shape", [])]
    if len(s) != 3 or s.count(-1) > 1 or any(v < 1 and v != -1 for v in s):
        raise RunError(f"reshape 'shape' must be [H, W, C] with at most one -1, got {s}")
    per = x.shape[1] * x.shape[2] * x.shape[3]
    if -1 in s:
        known = int(np.prod([v for v in s if v != -1]))
        if per % known:
            raise RunError(f"cannot reshape {list(x.shape[1:])} to {s}")
        s[s.index(-1)] = per // known
    if s[0] * s[1] * s[2] != per:
        raise RunError(f"cannot reshape {list(x.shape[1:])} to {s}")
    return x.reshape(x.shape[0], *s)


def op_flatten(xs, attrs, weights):
    return xs[0].reshape(xs[0].shape[0], 1, 1, -1)


def op_activation(xs, attrs, weights):
    return activate(xs[0], attrs, weights, key="type")


def op_softmax(xs, attrs, weights):
    x = xs[0]
    e = np.exp(x - x.max(axis=3, keepdims=True))
    return e / e.sum(axis=3, keepdims=True)


def op_squeeze_excite(xs, attrs, weights):
    x = xs[0]
    w1, b1, w2, b2 = (_w(weights, r) for r in ("w1", "b1", "w2", "b2"))
    s = x.mean(axis=(1, 2))
    s = np.maximum(s @ w1 + b1, 0)
    s = 1.0 / (1.0 + np.exp(-(s @ w2 + b2)))
    return x * s[:, None, None, :]


OPS = {name[3:]: fn for name, fn in globals().items() if name.startswith("op_")}
assert set(OPS) == set(OP_TABLE), set(OPS) ^ set(OP_TABLE)  # one kernel per op of ops.py


def _check_arity(op, count):
    lo, hi = OP_TABLE[op]["inputs"]
    if count < lo or (hi >= 0 and count > hi):
        want = str(lo) if lo == hi else f"at least {lo}" if hi < 0 else f"{lo} to {hi}"
        raise RunError(f"{op} takes {want} input{'' if want == '1' else 's'}, got {count}")


# ---------------------------------------------------------------------------------------

def load(model):
    if isinstance(model, (str, os.PathLike)):
        meta, tensors = mienfile.read(model)
        origin = str(model)
    else:
        meta, tensors = model
        origin = "<model>"
    try:
        return mienfile.graph_from_meta(meta, tensors), origin
    except ValueError as e:
        raise ValueError(f"{origin}: {e}") from None


def run(model, inputs, keep_all=False, _graph=None):
    """Runs the graph; returns {output name: float32 NHWC array} (every value if keep_all)."""
    g, origin = _graph if _graph else load(model)
    values = {}
    for name, shape in g["inputs"]:
        if name not in inputs:
            raise ValueError(f"{origin}: missing input '{name}'")
        x = np.asarray(inputs[name], np.float64)
        if x.ndim == 3:
            x = x[None]
        if x.ndim != 4:
            raise ValueError(f"{origin}: input '{name}' must be NHWC, got shape {x.shape}")
        for d, (want, have) in enumerate(zip(shape, x.shape[1:])):
            if want != -1 and want != have:
                raise ValueError(f"{origin}: input '{name}' has shape {list(x.shape)}, "
                                 f"the model expects N x {shape}")
        values[name] = x
    for n in g["nodes"]:
        fn = OPS.get(n["op"])
        try:
            if fn is None:
                raise RunError(f"unsupported op '{n['op']}'")
            xs = [values[i] for i in n["inputs"]]
            if not xs:
                raise RunError("node has no inputs")
            _check_arity(n["op"], len(xs))
            values[n["output"]] = fn(xs, n["attrs"], n["weights"])
        except (RunError, KeyError, IndexError, ValueError) as e:
            raise ValueError(f"{origin}: node '{n['name']}' ({n['op']}): {e}") from None
    if keep_all:
        return {k: v.astype(np.float32) for k, v in values.items()}
    return {o: values[o].astype(np.float32) for o in g["outputs"]}


def check(model, verbose=True):
    """Runs the embedded test vectors; returns (passed, worst relative error)."""
    g, origin = load(model)
    if not g["tests"]:
        raise ValueError(f"{origin}: the model has no test vectors")
    tol = g["tolerance"]
    worst = 0.0
    ok = True
    for k, (ins, outs) in enumerate(g["tests"]):
        got = run(None, ins, _graph=(g, origin))
        for name in g["outputs"]:
            ref = np.asarray(outs[name], np.float64)
            y = got[name].astype(np.float64)
            if y.shape != ref.shape:
                ok = False
                worst = np.inf
                if verbose:
                    print(f"test {k} output {name}: shape {list(y.shape)} != "
                          f"reference {list(ref.shape)}")
                continue
            d = np.abs(y - ref)
            rel = float((d / np.maximum(1.0, np.abs(ref))).max()) if d.size else 0.0
            if np.any(np.isnan(y) != np.isnan(ref)):
                rel = np.inf
            worst = max(worst, rel)
            ok = ok and rel <= tol
            if verbose:
                print(f"test {k} output {name} {list(ref.shape)}: max abs {float(d.max()):.3g} "
                      f"max rel {rel:.3g} {'ok' if rel <= tol else 'FAIL'}")
    if verbose:
        print(f"{origin}: {'passed' if ok else 'FAILED'}, worst {worst:.3g} "
              f"(tolerance {tol:.3g})")
    return ok, worst


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--check", action="store_true", help="run the embedded test vectors")
    ap.add_argument("--input", action="append", default=[], metavar="NAME=FILE.npy")
    ap.add_argument("--save", metavar="PREFIX", help="write PREFIX.<output>.npy")
    a = ap.parse_args(argv)
    try:
        if a.check:
            ok, _ = check(a.model)
            return 0 if ok else 1
        if not a.input:
            ap.error("give --check or --input NAME=FILE.npy")
        inputs = {}
        for spec in a.input:
            name, sep, path = spec.partition("=")
            if not sep:
                ap.error(f"--input wants NAME=FILE.npy, got '{spec}'")
            inputs[name] = np.load(path)
        outs = run(a.model, inputs)
        for name, y in outs.items():
            print(f"{name}: shape {list(y.shape)} min {y.min():.6g} max {y.max():.6g}")
            if a.save:
                safe = name.replace("/", "_")
                np.save(f"{a.save}.{safe}.npy", y)
        return 0
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
