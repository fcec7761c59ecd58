"""Plain numpy NHWC reference kernels (float64) for the independent forward passes of the
front ends (keras_to_mien.keras_forward): written apart from numpy_runner on purpose, so a
converted graph (run by numpy_runner) is checked against a second implementation.
"""

import numpy as np

from .ir import ConvertError


def same_pads(size, kernel, stride, dilation=1):
    """TensorFlow SAME: out = ceil(in / stride), odd padding after. -> (before, after)"""
    ext = dilation * (kernel - 1) + 1
    out = -(-size // stride)
    total = max(0, (out - 1) * stride + ext - size)
    return total // 2, total - total // 2


def resolve_pads(x_hw, kernel, strides, dilations, padding, pads=None):
    """-> (top, left, bottom, right) for padding valid / same / explicit."""
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        t, b = same_pads(x_hw[0], kernel[0], strides[0], dilations[0])
        l, r = same_pads(x_hw[1], kernel[1], strides[1], dilations[1])
        return (t, l, b, r)
    return tuple(int(p) for p in pads)


def _taps(xp, kh, kw, sh, sw, dh, dw):
    n, hp, wp = xp.shape[:3]
    oh = (hp - (dh * (kh - 1) + 1)) // sh + 1
    ow = (wp - (dw * (kw - 1) + 1)) // sw + 1
    if oh <= 0 or ow <= 0:
        raise ConvertError("window larger than the padded input")
    for i in range(kh):
        for j in range(kw):
            yield i, j, xp[:, i * dh: i * dh + sh * (oh - 1) + 1: sh,
                           j * dw: j * dw + sw * (ow - 1) + 1: sw, :]


def conv2d_nhwc(x, w, bias=None, strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0)):
    """x [N,H,W,Cin], w [KH,KW,Cin,Cout] -> [N,OH,OW,Cout]."""
    t, l, b, r = pads
    xp = np.pad(np.asarray(x, np.float64), ((0, 0), (t, b), (l, r), (0, 0)))
    w = np.asarray(w, np.float64)
    out = None
    for i, j, patch in _taps(xp, w.shape[0], w.shape[1], strides[0], strides[1],
                             dilations[0], dilations[1]):
        term = patch @ w[i, j]
        out = term if out is None else out + term
    if bias is not None:
        out = out + np.asarray(bias, np.float64)
    return out


def depthwise_nhwc(x, w, bias=None, strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0)):
    """x [N,H,W,C], w [KH,KW,C] -> [N,OH,OW,C]."""
    t, l, b, r = pads
    xp = np.pad(np.asarray(x, np.float64), ((0, 0), (t, b), (l, r), (0, 0)))
    w = np.asarray(w, np.float64)
    out = None
    for i, j, patch in _taps(xp, w.shape[0], w.shape[1], strides[0], strides[1],
                             dilations[0], dilations[1]):
        term = patch * w[i, j]
        out = term if out is None else out + term
    if bias is not None:
        out = out + np.asarray(bias, np.float64)
    return out


def pool_nhwc(x, kind, kernel, strides, pads=(0, 0, 0, 0)):
    """Max pool ignores padded cells; average pool divides by the count of real cells."""
    t, l, b, r = pads
    x = np.asarray(x, np.float64)
    if kind == "max":
        xp = np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)), constant_values=-np.inf)
        out = None
        for _, _, patch in _taps(xp, kernel[0], kernel[1], strides[0], strides[1], 1, 1):
            out = patch.copy() if out is None else np.maximum(out, patch)
        return out
    xp = np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)))
    ones = np.pad(np.ones((1,) + x.shape[1:3] + (1,)), ((0, 0), (t, b), (l, r), (0, 0)))
    acc = cnt = None
    for (_, _, patch), (_, _, cpatch) in zip(
            _taps(xp, kernel[0], kernel[1], strides[0], strides[1], 1, 1),
            _taps(ones, kernel[0], kernel[1], strides[0], strides[1], 1, 1)):
        acc = patch.copy() if acc is None else acc + patch
        cnt = cpatch.copy() if cnt is None else cnt + cpatch
    return acc / np.maximum(cnt, 1)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softmax_last(x):
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)
