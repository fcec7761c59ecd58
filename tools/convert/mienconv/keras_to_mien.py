"""Keras 2 HDF5 model (model_config JSON in the file's attributes + model_weights group)
-> .mien.

    python3 -m mienconv.keras_to_mien MODEL.hdf5 OUT.mien [--task emotion --labels a,b,c
        --color gray --scale 0.00784313725490196 --offset -1 --source URL --license MIT ...]
        [--test-image IMG] [--tests N] [--tolerance 1e-4] [--no-fold] [--quiet]

Layers: InputLayer, Conv2D, SeparableConv2D (-> depthwise_conv2d + 1x1 conv2d),
DepthwiseConv2D, BatchNormalization (folded into the producing conv/dense when that is its
only reader, else batch_norm), Activation / ReLU / LeakyReLU / PReLU / Softmax,
MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, Add, Multiply, Concatenate,
ZeroPadding2D, UpSampling2D (nearest), Dense, Flatten, Reshape (to/from 1x1xC), Dropout
and other inference no-ops. Functional models (inbound_nodes) and Sequential.

Test vectors: the reference outputs come from an independent float64 numpy forward pass of
the Keras layer graph straight from the HDF5 weights (BatchNorm unfolded, TF SAME
padding), not from the converted graph. TensorFlow is not packaged in Debian 12, so it
cannot serve as the reference. The written file is then run with numpy_runner and its
error against the reference is printed.
"""

import argparse
import json
import os
import sys

import numpy as np

from . import cli, kernels, passes, writer
from .ir import ConvertError, Graph


NOOP_LAYERS = ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise",
               "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Masking")


# ---------------------------------------------------------------------------------------
# Reading the HDF5 file


def _text(v):
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


class KerasFile:
    """model config + weights of one Keras HDF5 file."""

    def __init__(self, path):
        import h5py
        self.path = path
        with h5py.File(path, "r") as f:
            if "model_config" not in f.attrs:
                raise ConvertError("%s: no 'model_config' attribute (a weights-only file "
                                   "from save_weights?); save the whole model" % path)
            self.config = json.loads(_text(f.attrs["model_config"]))
            self.keras_version = _text(f.attrs.get("keras_version", "?"))
            group = f["model_weights"] if "model_weights" in f else f
            self.weights = {}
            for lname in group.keys():
                lg = group[lname]
                names = lg.attrs.get("weight_names", [])
                roles = {}
                for wn in names:
                    wn = _text(wn)
                    role = wn.split("/")[-1].split(":")[0]
                    roles[role] = np.array(lg[wn], dtype=np.float64)
                self.weights[lname] = roles

    def layer_weights(self, name):
        return self.weights.get(name, {})


class Layer:
    def __init__(self, d, index):
        self.cls = d["class_name"]
        self.cfg = d.get("config", {})
        self.name = d.get("name") or self.cfg.get("name") or "layer_%d" % index
        self.inbound = d.get("inbound_nodes", [])


def _parse_inbound(node, layer):
    """One inbound node -> list of (layer, node_index, tensor_index)."""
    if isinstance(node, dict):  # Keras 3 style {"args": [...], "kwargs": {...}}
        raise ConvertError("layer %s '%s': Keras 3 inbound_nodes format is not supported; "
                           "save with Keras 2 / tf.keras 2" % (layer.cls, layer.name))
    out = []
    for t in node:
        if not isinstance(t, (list, tuple)) or len(t) < 3:
            raise ConvertError("layer %s '%s': unreadable inbound node %r"
                               % (layer.cls, layer.name, t))
        if len(t) > 3 and t[3]:
            raise ConvertError("layer %s '%s': call arguments %r are not supported"
                               % (layer.cls, layer.name, t[3]))
        out.append((t[0], int(t[1]), int(t[2])))
    return out


def layer_calls(cfg):
    """Model config -> (calls, input keys, output keys). A call is
    (layer, node_index, [input keys]); a key is (layer name, node index, tensor index)."""
    cls = cfg.get("class_name")
    conf = cfg.get("config")
    if cls == "Sequential":
        layers_json = conf if isinstance(conf, list) else conf["layers"]
        layers = [Layer(d, i) for i, d in enumerate(layers_json)]
        calls, inputs = [], []
        if layers and layers[0].cls == "InputLayer":
            inputs = [(layers[0].name, 0, 0)]
            prev = inputs[0]
            rest = layers[1:]
            calls.append((layers[0], 0, []))
        else:
            if not layers or "batch_input_shape" not in layers[0].cfg:
                raise ConvertError("Sequential model without an input shape")
            fake = Layer({"class_name": "InputLayer", "name": "input",
                          "config": {"batch_input_shape": layers[0].cfg["batch_input_shape"]}},
                         0)
            calls.append((fake, 0, []))
            inputs = [("input", 0, 0)]
            prev = inputs[0]
            rest = layers
        for lay in rest:
            calls.append((lay, 0, [prev]))
            prev = (lay.name, 0, 0)
        return calls, inputs, [prev]
    if cls not in ("Model", "Functional"):
        raise ConvertError("model class '%s' is not supported (Model, Functional, Sequential)"
                           % cls)
    layers = [Layer(d, i) for i, d in enumerate(conf["layers"])]
    calls = []
    for lay in layers:
        if lay.cls == "InputLayer":
            calls.append((lay, 0, []))
            continue
        if lay.cls in ("Model", "Functional", "Sequential"):
            raise ConvertError("layer %s '%s': nested models are not supported"
                               % (lay.cls, lay.name))
        for k, node in enumerate(lay.inbound):
            calls.append((lay, k, _parse_inbound(node, lay)))
    # Topological order (the config is usually ordered already).
    done, ordered, pending = set(), [], list(calls)
    while pending:
        progress = False
        for c in list(pending):
            if all(i[:2] in done for i in c[2]):
                ordered.append(c)
                done.add((c[0].name, c[1]))
                pending.remove(c)
                progress = True
        if not progress:
            raise ConvertError("cannot order the layer graph (missing inbound layer of '%s')"
                               % pending[0][0].name)
    ins = [(t[0], int(t[1]), int(t[2])) for t in conf.get("input_layers", [])]
    outs = [(t[0], int(t[1]), int(t[2])) for t in conf.get("output_layers", [])]
    if isinstance(conf.get("input_layers"), list) and conf["input_layers"] and \
            isinstance(conf["input_layers"][0], str):  # single input written flat
        ins = [(conf["input_layers"][0], 0, 0)]
    if isinstance(conf.get("output_layers"), list) and conf["output_layers"] and \
            isinstance(conf["output_layers"][0], str):
        outs = [(conf["output_layers"][0], 0, 0)]
    return ordered, ins, outs


def _pair(v, what):
    if v is None:
        return None
    if isinstance(v, int):
        return (v, v)
    if len(v) != 2:
        raise ConvertError("%s must have 2 values, got %r" % (what, v))
    return (int(v[0]), int(v[1]))


def _activation_name(a):
    if isinstance(a, dict):  # newer serialisations
        c = a.get("config")
        a = c if isinstance(c, str) else (c or {}).get("name") or a.get("class_name")
    return (a or "linear").lower()


# ---------------------------------------------------------------------------------------
# Conversion


class Converter:
    def __init__(self, kf):
        self.kf = kf
        self.g = Graph()
        self.vals = {}  # key -> (mien value, rank, shape tuple: (h, w, c) or (k,))

    def err(self, lay, msg):
        return ConvertError("%s: layer %s '%s': %s" % (self.kf.path, lay.cls, lay.name, msg))

    def w(self, lay, role, required=True):
        ws = self.kf.layer_weights(lay.name)
        if role not in ws:
            if required:
                raise self.err(lay, "missing weight '%s' (has %s)" % (role, sorted(ws)))
            return None
        return ws[role]

    def run(self):
        calls, ins, outs = layer_calls(self.kf.config)
        for lay, k, inputs in calls:
            self.convert(lay, k, inputs)
        for key in ins:
            if key not in self.vals:
                raise ConvertError("%s: model input '%s' not found" % (self.kf.path, key[0]))
        outputs = []
        for key in outs:
            if key not in self.vals:
                raise ConvertError("%s: model output '%s' not produced" % (self.kf.path, key[0]))
            v = self.vals[key][0]
            want = key[0] if key[1] == 0 else "%s_%d" % key[:2]
            if v != want or v in outputs or v in [i[0] for i in self.g.inputs]:
                # an identity layer (e.g. Dropout) or a linear activation is the output
                v = self.g.add("activation", want, [v], {"type": "none"})
            outputs.append(v)
        self.g.outputs = outputs
        return self.g

    def node_name(self, lay, k):
        return lay.name if k == 0 else "%s_%d" % (lay.name, k)

    def convert(self, lay, k, inputs):
        cls, cfg = lay.cls, lay.cfg
        name = self.node_name(lay, k)
        key = (lay.name, k, 0)
        if cls == "InputLayer":
            shape = cfg.get("batch_input_shape") or cfg.get("batch_shape")
            if not shape or len(shape) not in (2, 4):
                raise self.err(lay, "input shape %r: only [N,H,W,C] or [N,K] inputs are "
                               "supported" % (shape,))
            if len(shape) == 4:
                h, w, c = [(-1 if d is None else int(d)) for d in shape[1:]]
                self.g.add_input(lay.name, h, w, c)
                self.vals[key] = (lay.name, 4, (h, w, c))
            else:
                self.g.add_input(lay.name, 1, 1, int(shape[1]))
                self.vals[key] = (lay.name, 2, (int(shape[1]),))
            return
        try:
            srcs = [self.vals[i] for i in inputs]
        except KeyError as e:
            raise self.err(lay, "input %s is not available" % (e,))
        if cfg.get("data_format", "channels_last") != "channels_last":
            raise self.err(lay, "data_format %s is not supported (channels_last only)"
                           % cfg.get("data_format"))
        need1 = cls not in ("Add", "Multiply", "Concatenate", "Maximum", "Average")
        if need1 and len(srcs) != 1:
            raise self.err(lay, "expected 1 input, got %d" % len(srcs))
        src = srcs[0]
        fn = getattr(self, "layer_" + cls, None)
        if cls in NOOP_LAYERS:
            self.vals[key] = src
            return
        if fn is None:
            raise self.err(lay, "layer class not supported")
        self.vals[key] = fn(lay, name, srcs)

    # -- helpers ------------------------------------------------------------------------
    def act_attrs(self, lay, a):
        """Keras activation name -> (mien activation, extra node needed)."""
        a = _activation_name(a)
        table = {"linear": "none", "relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh",
                 "swish": "swish", "silu": "swish", "relu6": "relu6",
                 "hard_swish": "hard_swish"}
        if a in table:
            return table[a]
        if a in ("softmax", "hard_sigmoid"):
            return a
        raise self.err(lay, "activation '%s' is not supported" % a)

    def apply_act(self, lay, name, value, act, shape, rank):
        """Emits the activation as its own node (fusion happens later)."""
        if act == "none":
            return value
        if act == "softmax":
            return self.g.add("softmax", name + "_softmax" if value == name else name, [value])
        if act == "hard_sigmoid":  # Keras 2: clip(0.2 x + 0.5, 0, 1)
            c = shape[-1]
            v = self.g.add("batch_norm", name + "_hs", [value], {},
                           {"scale": np.full(c, 0.2), "shift": np.full(c, 0.5)})
            return self.g.add("activation", name + "_clip", [v], {"type": "clip",
                                                                   "clip": [0.0, 1.0]})
        return self.g.add("activation", name + "_act", [value], {"type": act})

    def conv_out(self, lay, hw, kernel, strides, dil, padding):
        out = []
        for d in range(2):
            if hw[d] < 0:
                out.append(-1)
            elif padding == "same":
                out.append(-(-hw[d] // strides[d]))
            else:
                ext = dil[d] * (kernel[d] - 1) + 1
                if hw[d] < ext:
                    raise self.err(lay, "input %d smaller than window %d" % (hw[d], ext))
                out.append((hw[d] - ext) // strides[d] + 1)
        return tuple(out)

    def spatial(self, lay, src):
        if src[1] != 4:
            raise self.err(lay, "needs a 4-D input, got rank %d" % src[1])
        return src[2]

    def padding(self, lay):
        p = self.cfg_get(lay, "padding", "valid").lower()
        if p not in ("valid", "same"):
            raise self.err(lay, "padding '%s' is not supported" % p)
        return p

    def cfg_get(self, lay, key, default=None):
        return lay.cfg.get(key, default)

    def _act_then(self, lay, name, conv_name, act, shape, rank):
        """conv emitted under conv_name; the activation (if any) gets the layer name."""
        if act == "none":
            return conv_name
        if act in ("softmax", "hard_sigmoid"):
            return self.apply_act(lay, name, conv_name, act, shape, rank)
        return self.g.add("activation", name, [conv_name], {"type": act})

    def _conv_names(self, lay, name, act):
        return (name if act == "none" else name + "_linear")

    # -- layers -------------------------------------------------------------------------
    def layer_Conv2D(self, lay, name, srcs):
        h, w, cin = self.spatial(lay, srcs[0])
        kernel = self.w(lay, "kernel")
        kh, kw, kin, cout = kernel.shape
        strides = _pair(lay.cfg.get("strides", 1), "strides")
        dil = _pair(lay.cfg.get("dilation_rate", 1), "dilation_rate")
        groups = int(lay.cfg.get("groups", 1))
        if groups != 1:
            if kin * groups != cin:
                raise self.err(lay, "groups %d inconsistent with %d input channels"
                               % (groups, cin))
            full = np.zeros((kh, kw, cin, cout))
            og = cout // groups
            for gi in range(groups):
                full[:, :, gi * kin:(gi + 1) * kin, gi * og:(gi + 1) * og] = \
                    kernel[:, :, :, gi * og:(gi + 1) * og]
            kernel = full
        elif kin != cin:
            raise self.err(lay, "kernel has %d input channels, input has %d" % (kin, cin))
        if strides != (1, 1) and dil != (1, 1):
            raise self.err(lay, "strides and dilation together are not supported")
        padding = self.padding(lay)
        act = self.act_attrs(lay, lay.cfg.get("activation"))
        weights = {"weight": kernel}
        if lay.cfg.get("use_bias", True):
            weights["bias"] = self.w(lay, "bias")
        attrs = {"strides": list(strides), "dilations": list(dil), "padding": padding}
        cname = self._conv_names(lay, name, act)
        self.g.add("conv2d", cname, [srcs[0][0]], attrs, weights)
        oh, ow = self.conv_out(lay, (h, w), (kh, kw), strides, dil, padding)
        out = self._act_then(lay, name, cname, act, (oh, ow, cout), 4)
        return (out, 4, (oh, ow, cout))

    def _depthwise(self, lay, name, src, dk, strides, dil, padding, bias, act):
        """depthwise kernel [KH,KW,C,M] -> depthwise_conv2d (M == 1) or an equivalent
        conv2d (M > 1, block-diagonal weight); returns (value, cout)."""
        kh, kw, c, m = dk.shape
        attrs = {"strides": list(strides), "dilations": list(dil), "padding": padding}
        weights = {}
        if m == 1:
            weights["weight"] = dk[:, :, :, 0]
            op = "depthwise_conv2d"
        else:
            full = np.zeros((kh, kw, c, c * m))
            for ci in range(c):
                full[:, :, ci, ci * m:(ci + 1) * m] = dk[:, :, ci, :]
            weights["weight"] = full
            op = "conv2d"
        if bias is not None:
            weights["bias"] = bias
        cname = self._conv_names(lay, name, act)
        self.g.add(op, cname, [src], attrs, weights)
        return cname, c * m

    def layer_DepthwiseConv2D(self, lay, name, srcs):
        h, w, cin = self.spatial(lay, srcs[0])
        dk = self.w(lay, "depthwise_kernel")
        if dk.shape[2] != cin:
            raise self.err(lay, "kernel has %d channels, input has %d" % (dk.shape[2], cin))
        strides = _pair(lay.cfg.get("strides", 1), "strides")
        dil = _pair(lay.cfg.get("dilation_rate", 1), "dilation_rate")
        padding = self.padding(lay)
        act = self.act_attrs(lay, lay.cfg.get("activation"))
        bias = self.w(lay, "bias") if lay.cfg.get("use_bias", True) else None
        cname, cout = self._depthwise(lay, name, srcs[0][0], dk, strides, dil, padding, bias,
                                      act)
        oh, ow = self.conv_out(lay, (h, w), dk.shape[:2], strides, dil, padding)
        return (self._act_then(lay, name, cname, act, (oh, ow, cout), 4), 4, (oh, ow, cout))

    def layer_SeparableConv2D(self, lay, name, srcs):
        h, w, cin = self.spatial(lay, srcs[0])
        dk = self.w(lay, "depthwise_kernel")
        pk = self.w(lay, "pointwise_kernel")
        if dk.shape[2] != cin:
            raise self.err(lay, "kernel has %d channels, input has %d" % (dk.shape[2], cin))
        strides = _pair(lay.cfg.get("strides", 1), "strides")
        dil = _pair(lay.cfg.get("dilation_rate", 1), "dilation_rate")
        padding = self.padding(lay)
        act = self.act_attrs(lay, lay.cfg.get("activation"))
        dw, mid = self._depthwise(lay, name + "_dw", srcs[0][0], dk, strides, dil, padding,
                                  None, "none")
        if pk.shape[:3] != (1, 1, mid):
            raise self.err(lay, "pointwise kernel %s does not match %d channels"
                           % (pk.shape, mid))
        weights = {"weight": pk}
        if lay.cfg.get("use_bias", True):
            weights["bias"] = self.w(lay, "bias")
        cname = self._conv_names(lay, name, act)
        self.g.add("conv2d", cname, [dw], {"padding": "valid"}, weights)
        cout = pk.shape[3]
        oh, ow = self.conv_out(lay, (h, w), dk.shape[:2], strides, dil, padding)
        return (self._act_then(lay, name, cname, act, (oh, ow, cout), 4), 4, (oh, ow, cout))

    def layer_BatchNormalization(self, lay, name, srcs):
        src = srcs[0]
        axis = lay.cfg.get("axis", -1)
        if isinstance(axis, list):
            if len(axis) != 1:
                raise self.err(lay, "axis %r is not supported" % (axis,))
            axis = axis[0]
        if axis not in (-1, src[1] - 1):
            raise self.err(lay, "axis %r is not the channel axis" % (axis,))
        scale, shift = bn_affine(self.kf.layer_weights(lay.name), lay.cfg,
                                 lambda m: self.err(lay, m))
        c = src[2][-1]
        if scale.size != c:
            raise self.err(lay, "%d parameters for %d channels" % (scale.size, c))
        v = self.g.add("batch_norm", name, [src[0]], {}, {"scale": scale, "shift": shift})
        return (v, src[1], src[2])

    def layer_Activation(self, lay, name, srcs):
        src = srcs[0]
        act = self.act_attrs(lay, lay.cfg.get("activation"))
        if act == "none":
            return src
        if act == "softmax":
            return (self.g.add("softmax", name, [src[0]]), src[1], src[2])
        if act == "hard_sigmoid":
            return (self.apply_act(lay, name, src[0], act, src[2], src[1]), src[1], src[2])
        return (self.g.add("activation", name, [src[0]], {"type": act}), src[1], src[2])

    def layer_Softmax(self, lay, name, srcs):
        src = srcs[0]
        if lay.cfg.get("axis", -1) not in (-1, src[1] - 1):
            raise self.err(lay, "softmax axis %r is not the channel axis" % lay.cfg["axis"])
        return (self.g.add("softmax", name, [src[0]]), src[1], src[2])

    def layer_ReLU(self, lay, name, srcs):
        src = srcs[0]
        mv = lay.cfg.get("max_value")
        slope = float(lay.cfg.get("negative_slope", 0.0) or 0.0)
        thr = float(lay.cfg.get("threshold", 0.0) or 0.0)
        if thr != 0.0:
            raise self.err(lay, "threshold %g is not supported" % thr)
        if slope != 0.0:
            if mv is not None:
                raise self.err(lay, "negative_slope with max_value is not supported")
            attrs = {"type": "leaky_relu", "alpha": slope}
        elif mv is None:
            attrs = {"type": "relu"}
        elif float(mv) == 6.0:
            attrs = {"type": "relu6"}
        else:
            attrs = {"type": "clip", "clip": [0.0, float(mv)]}
        return (self.g.add("activation", name, [src[0]], attrs), src[1], src[2])

    def layer_LeakyReLU(self, lay, name, srcs):
        src = srcs[0]
        alpha = float(lay.cfg.get("alpha", lay.cfg.get("negative_slope", 0.3)))
        return (self.g.add("activation", name, [src[0]], {"type": "leaky_relu",
                                                            "alpha": alpha}), src[1], src[2])

    def layer_PReLU(self, lay, name, srcs):
        src = srcs[0]
        alpha = self.w(lay, "alpha")
        c = src[2][-1]
        flat = alpha.reshape(-1, alpha.shape[-1])
        if not np.all(flat == flat[:1]):
            raise self.err(lay, "per-position PReLU slopes (shared_axes not covering H, W) "
                           "are not supported")
        slopes = np.broadcast_to(flat[0], (c,))
        return (self.g.add("activation", name, [src[0]], {"type": "prelu"},
                           {"slopes": slopes}), src[1], src[2])

    def _pool(self, lay, name, srcs, op):
        h, w, c = self.spatial(lay, srcs[0])
        k = _pair(lay.cfg.get("pool_size", 2), "pool_size")
        s = _pair(lay.cfg.get("strides") or k, "strides")
        padding = self.padding(lay)
        v = self.g.add(op, name, [srcs[0][0]], {"kernel": list(k), "strides": list(s),
                                                 "padding": padding})
        oh, ow = self.conv_out(lay, (h, w), k, s, (1, 1), padding)
        return (v, 4, (oh, ow, c))

    def layer_MaxPooling2D(self, lay, name, srcs):
        return self._pool(lay, name, srcs, "max_pool")

    def layer_AveragePooling2D(self, lay, name, srcs):
        return self._pool(lay, name, srcs, "avg_pool")

    layer_MaxPool2D = layer_MaxPooling2D
    layer_AvgPool2D = layer_AveragePooling2D

    def layer_GlobalAveragePooling2D(self, lay, name, srcs):
        _, _, c = self.spatial(lay, srcs[0])
        v = self.g.add("global_avg_pool", name, [srcs[0][0]])
        return (v, 4, (1, 1, c)) if lay.cfg.get("keepdims") else (v, 2, (c,))

    layer_GlobalAvgPool2D = layer_GlobalAveragePooling2D

    def _same_shapes(self, lay, srcs):
        r0, s0 = srcs[0][1], srcs[0][2]
        for s in srcs[1:]:
            if s[1] != r0 or any(a != b and a != -1 and b != -1 for a, b in zip(s[2], s0)):
                raise self.err(lay, "input shapes differ: %s vs %s (broadcasting is not "
                               "supported)" % (s0, s[2]))
        return r0, s0

    def layer_Add(self, lay, name, srcs):
        r, s = self._same_shapes(lay, srcs)
        v = srcs[0][0]
        for i, other in enumerate(srcs[1:]):
            last = i == len(srcs) - 2
            v = self.g.add("add", name if last else "%s_%d" % (name, i), [v, other[0]])
        return (v, r, s)

    def layer_Multiply(self, lay, name, srcs):
        if len(srcs) != 2:
            raise self.err(lay, "only 2 inputs are supported")
        a, b = srcs
        if a[1] == 4 and b[1] == 4 and b[2][:2] == (1, 1) and a[2][:2] != (1, 1):
            pass
        elif a[1] == 4 and b[1] == 4 and a[2][:2] == (1, 1) and b[2][:2] != (1, 1):
            a, b = b, a
        else:
            self._same_shapes(lay, srcs)
        return (self.g.add("mul", name, [a[0], b[0]]), a[1], a[2])

    def layer_Concatenate(self, lay, name, srcs):
        r = srcs[0][1]
        axis = lay.cfg.get("axis", -1)
        if axis not in (-1, r - 1):
            raise self.err(lay, "concatenation axis %r is not the channel axis" % axis)
        for s in srcs:
            if s[1] != r or s[2][:-1] != srcs[0][2][:-1]:
                raise self.err(lay, "input shapes differ beyond the channel axis")
        c = sum(s[2][-1] for s in srcs)
        return (self.g.add("concat", name, [s[0] for s in srcs]), r,
                srcs[0][2][:-1] + (c,))

    def layer_ZeroPadding2D(self, lay, name, srcs):
        h, w, c = self.spatial(lay, srcs[0])
        p = lay.cfg.get("padding", 1)
        if isinstance(p, int):
            t = b = l = r = p
        elif isinstance(p[0], int):
            t = b = p[0]
            l = r = p[1]
        else:
            (t, b), (l, r) = p
        v = self.g.add("pad", name, [srcs[0][0]], {"pads": [t, l, b, r, 0, 0], "value": 0.0})
        return (v, 4, (h + t + b if h > 0 else -1, w + l + r if w > 0 else -1, c))

    def layer_UpSampling2D(self, lay, name, srcs):
        h, w, c = self.spatial(lay, srcs[0])
        s = _pair(lay.cfg.get("size", 2), "size")
        if s[0] != s[1]:
            raise self.err(lay, "unequal sizes %r are not supported" % (s,))
        if lay.cfg.get("interpolation", "nearest") != "nearest":
            raise self.err(lay, "interpolation '%s' is not supported" % lay.cfg["interpolation"])
        v = self.g.add("upsample_nearest", name, [srcs[0][0]], {"scale": s[0]})
        return (v, 4, (h * s[0] if h > 0 else -1, w * s[0] if w > 0 else -1, c))

    def layer_Flatten(self, lay, name, srcs):
        src = srcs[0]
        if src[1] == 2:
            return src
        h, w, c = src[2]
        if h < 0 or w < 0:
            raise self.err(lay, "flattening a tensor of dynamic size")
        return (self.g.add("flatten", name, [src[0]]), 2, (h * w * c,))

    def layer_Reshape(self, lay, name, srcs):
        src = srcs[0]
        target = tuple(int(d) for d in lay.cfg["target_shape"])
        if src[1] == 2 and len(target) == 3 and target[:2] == (1, 1) and \
                target[2] in (-1, src[2][0]):
            return (src[0], 4, (1, 1, src[2][0]))  # [N,K] is stored as N x 1 x 1 x K
        if src[1] == 4 and len(target) == 1:
            h, w, c = src[2]
            if h > 0 and w > 0 and target[0] in (-1, h * w * c):
                return self.layer_Flatten(lay, name, srcs)
        if src[1] == 4 and len(target) == 3 and -1 not in src[2]:
            h, w, c = src[2]
            t = list(target)
            if -1 in t:
                i = t.index(-1)
                t[i] = h * w * c // int(np.prod([d for d in t if d != -1]))
            if int(np.prod(t)) == h * w * c:
                return (self.g.add("reshape", name, [src[0]], {"shape": t}), 4, tuple(t))
        raise self.err(lay, "reshape of %s to %s is not supported" % (src[2], target))

    def layer_Dense(self, lay, name, srcs):
        src = srcs[0]
        kernel = self.w(lay, "kernel")
        cin, cout = kernel.shape
        act = self.act_attrs(lay, lay.cfg.get("activation"))
        weights = {"weight": kernel}
        if lay.cfg.get("use_bias", True):
            weights["bias"] = self.w(lay, "bias")
        cname = self._conv_names(lay, name, act)
        if src[1] == 4 and src[2][:2] != (1, 1):
            # Dense on a 4-D tensor acts on the last axis: a 1x1 convolution
            if src[2][2] != cin:
                raise self.err(lay, "kernel expects %d inputs, got %d" % (cin, src[2][2]))
            self.g.add("conv2d", cname, [src[0]], {"padding": "valid"},
                       {"weight": kernel.reshape(1, 1, cin, cout), **(
                           {"bias": weights["bias"]} if "bias" in weights else {})})
            shape, rank = src[2][:2] + (cout,), 4
        else:
            k = src[2][-1] if src[1] == 4 else src[2][0]
            if k != cin:
                raise self.err(lay, "kernel expects %d inputs, got %d" % (cin, k))
            self.g.add("dense", cname, [src[0]], {}, weights)
            shape, rank = ((cout,), 2) if src[1] == 2 else ((1, 1, cout), 4)
        return (self._act_then(lay, name, cname, act, shape, rank), rank, shape)


def bn_affine(ws, cfg, err):
    """BatchNormalization weights -> (scale, shift) with y = x*scale + shift."""
    eps = float(cfg.get("epsilon", 1e-3))
    if "moving_mean" not in ws or "moving_variance" not in ws:
        raise err("missing moving_mean / moving_variance")
    mean, var = ws["moving_mean"], ws["moving_variance"]
    gamma = ws["gamma"] if cfg.get("scale", True) else np.ones_like(mean)
    beta = ws["beta"] if cfg.get("center", True) else np.zeros_like(mean)
    if "gamma" not in ws and cfg.get("scale", True):
        raise err("missing gamma")
    if "beta" not in ws and cfg.get("center", True):
        raise err("missing beta")
    scale = gamma / np.sqrt(var + eps)
    return scale, beta - mean * scale


# ---------------------------------------------------------------------------------------
# Independent reference: a float64 numpy forward pass of the Keras layer graph


def keras_forward(kf, inputs):
    """inputs: {input layer name: NHWC array} -> {output layer name: array} (Keras shapes:
    rank 4 NHWC or rank 2). Works from the config and HDF5 weights only."""
    calls, ins, outs = layer_calls(kf.config)
    vals = {}

    def act(x, a):
        a = _activation_name(a)
        if a == "linear":
            return x
        if a == "softmax":
            return kernels.softmax_last(x)
        if a == "hard_sigmoid":
            return np.clip(0.2 * x + 0.5, 0, 1)
        if a == "relu6":
            return np.clip(x, 0, 6)
        if a in ("swish", "silu"):
            return x * kernels.sigmoid(x)
        if a == "hard_swish":
            return x * np.clip(x + 3, 0, 6) / 6
        if a == "relu":
            return np.maximum(x, 0)
        if a == "sigmoid":
            return kernels.sigmoid(x)
        if a == "tanh":
            return np.tanh(x)
        raise ConvertError("reference: activation %s" % a)

    def pads_for(x, k, s, d, padding):
        return kernels.resolve_pads(x.shape[1:3], k, s, d, padding.lower())

    for lay, k, inkeys in calls:
        cfg, ws = lay.cfg, kf.layer_weights(lay.name)
        key = (lay.name, k)
        cls = lay.cls
        if cls == "InputLayer":
            vals[key] = np.asarray(inputs[lay.name], np.float64)
            if len(cfg.get("batch_input_shape") or cfg.get("batch_shape") or []) == 2:
                vals[key] = vals[key].reshape(vals[key].shape[0], -1)
            continue
        xs = [vals[i[:2]] for i in inkeys]
        x = xs[0]
        strides = _pair(cfg.get("strides", 1) or 1, "strides")
        dil = _pair(cfg.get("dilation_rate", 1), "dilation_rate")
        if cls == "Conv2D":
            kern = ws["kernel"]
            groups = int(cfg.get("groups", 1))
            p = pads_for(x, kern.shape[:2], strides, dil, cfg.get("padding", "valid"))
            if groups == 1:
                y = kernels.conv2d_nhwc(x, kern, None, strides, dil, p)
            else:
                kin, og = kern.shape[2], kern.shape[3] // groups
                y = np.concatenate([kernels.conv2d_nhwc(x[..., gi * kin:(gi + 1) * kin],
                                                   kern[..., gi * og:(gi + 1) * og], None,
                                                   strides, dil, p)
                                    for gi in range(groups)], axis=-1)
            if cfg.get("use_bias", True):
                y = y + ws["bias"]
            y = act(y, cfg.get("activation"))
        elif cls in ("DepthwiseConv2D", "SeparableConv2D"):
            dk = ws["depthwise_kernel"]
            m = dk.shape[3]
            p = pads_for(x, dk.shape[:2], strides, dil, cfg.get("padding", "valid"))
            parts = [kernels.depthwise_nhwc(x, dk[:, :, :, j], None, strides, dil, p)
                     for j in range(m)]
            y = np.stack(parts, axis=-1).reshape(parts[0].shape[:3] + (-1,))  # c*m + j
            if cls == "SeparableConv2D":
                y = y @ ws["pointwise_kernel"][0, 0]
            if cfg.get("use_bias", True):
                y = y + ws["bias"]
            y = act(y, cfg.get("activation"))
        elif cls == "BatchNormalization":
            eps = float(cfg.get("epsilon", 1e-3))
            gamma = ws["gamma"] if cfg.get("scale", True) else 1.0
            beta = ws["beta"] if cfg.get("center", True) else 0.0
            y = gamma * (x - ws["moving_mean"]) / np.sqrt(ws["moving_variance"] + eps) + beta
        elif cls == "Activation":
            y = act(x, cfg.get("activation"))
        elif cls == "Softmax":
            y = kernels.softmax_last(x)
        elif cls == "ReLU":
            mv = cfg.get("max_value")
            slope = float(cfg.get("negative_slope", 0.0) or 0.0)
            y = np.where(x >= 0, x, slope * x)
            if mv is not None:
                y = np.minimum(y, float(mv))
        elif cls == "LeakyReLU":
            a = float(cfg.get("alpha", cfg.get("negative_slope", 0.3)))
            y = np.where(x >= 0, x, a * x)
        elif cls == "PReLU":
            y = np.where(x >= 0, x, ws["alpha"] * x)
        elif cls in ("MaxPooling2D", "AveragePooling2D", "MaxPool2D", "AvgPool2D"):
            kk = _pair(cfg.get("pool_size", 2), "pool_size")
            ss = _pair(cfg.get("strides") or kk, "strides")
            p = pads_for(x, kk, ss, (1, 1), cfg.get("padding", "valid"))
            y = kernels.pool_nhwc(x, "max" if cls.startswith("Max") else "avg", kk, ss, p)
        elif cls in ("GlobalAveragePooling2D", "GlobalAvgPool2D"):
            y = x.mean(axis=(1, 2), keepdims=bool(cfg.get("keepdims")))
        elif cls == "Add":
            y = sum(xs[1:], xs[0])
        elif cls == "Multiply":
            y = xs[0] * xs[1]
        elif cls == "Concatenate":
            y = np.concatenate(xs, axis=-1)
        elif cls == "ZeroPadding2D":
            pp = cfg.get("padding", 1)
            if isinstance(pp, int):
                pp = ((pp, pp), (pp, pp))
            elif isinstance(pp[0], int):
                pp = ((pp[0], pp[0]), (pp[1], pp[1]))
            y = np.pad(x, ((0, 0), tuple(pp[0]), tuple(pp[1]), (0, 0)))
        elif cls == "UpSampling2D":
            s = _pair(cfg.get("size", 2), "size")
            y = x.repeat(s[0], axis=1).repeat(s[1], axis=2)
        elif cls == "Flatten":
            y = x.reshape(x.shape[0], -1)
        elif cls == "Reshape":
            y = x.reshape((x.shape[0],) + tuple(cfg["target_shape"]))
        elif cls == "Dense":
            y = x @ ws["kernel"]
            if cfg.get("use_bias", True):
                y = y + ws["bias"]
            y = act(y, cfg.get("activation"))
        elif cls in NOOP_LAYERS:
            y = x
        else:
            raise ConvertError("reference: layer %s not implemented" % cls)
        vals[key] = y
    return {(o[0] if o[1] == 0 else "%s_%d" % o[:2]): vals[o[:2]] for o in outs}


def to_nhwc4(x):
    x = np.asarray(x)
    if x.ndim == 2:
        return x.reshape(x.shape[0], 1, 1, x.shape[1])
    if x.ndim == 4:
        return x
    raise ConvertError("output of rank %d" % x.ndim)


# ---------------------------------------------------------------------------------------


def convert(path, fold=True):
    """-> (KerasFile, Graph)"""
    kf = KerasFile(path)
    g = Converter(kf).run()
    if fold:
        passes.simplify(g)
    else:
        passes.remove_dead(g)
        g.validate()
    return kf, g


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="Keras 2 HDF5 file (model.save)")
    ap.add_argument("output", help=".mien file to write")
    cli.add_metadata_args(ap)
    cli.add_test_args(ap)
    ap.add_argument("--no-fold", action="store_true",
                    help="keep batch_norm / activation nodes unfused")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr))

    try:
        kf, g = convert(args.model, fold=not args.no_fold)
    except (ConvertError, OSError, KeyError, ValueError) as e:
        print("keras_to_mien: error: %s: %s" % (args.model, e) if not isinstance(
            e, ConvertError) else "keras_to_mien: error: %s" % e, file=sys.stderr)
        return 1
    if len(g.inputs) != 1:
        print("keras_to_mien: error: %d inputs; test vectors need exactly one"
              % len(g.inputs), file=sys.stderr)
        return 1
    iname, h, w, c = g.inputs[0]
    stem = os.path.splitext(os.path.basename(args.model))[0]
    meta = cli.metadata_from_args(args, stem, (h, w))
    # The tool's old script path stays in model.converter so that files stay byte-identical.
    meta.setdefault("model.converter", "tools/convert/keras_to_mien.py from %s (Keras %s)"
                    % (os.path.basename(args.model), kf.keras_version))
    cli.check_metadata(meta, c)
    th, tw = (h if h > 0 else 64), (w if w > 0 else 64)
    xs = cli.test_inputs(meta, th, tw, c, args.test_image, max(1, args.tests))
    b = writer.to_builder(g)
    refs = []
    for x in xs:
        ref = keras_forward(kf, {iname: x})
        ref = {k: to_nhwc4(v).astype(np.float32) for k, v in ref.items()}
        refs.append(ref)
        if "model.labels" in meta:
            n = ref[g.outputs[0]].shape[-1]
            if n != len(meta["model.labels"]):
                print("keras_to_mien: error: %d labels for %d outputs"
                      % (len(meta["model.labels"]), n), file=sys.stderr)
                return 1
        b.add_test_vector({iname: x}, ref)
    b.save(args.output, writer.typed_meta(meta), tolerance=args.tolerance)
    say("keras_to_mien: wrote %s: %d nodes %s" % (args.output, len(g.nodes), g.op_counts()))
    return cli.check_written(args.output, iname, xs, refs, g.outputs, args.tolerance,
                             "keras_to_mien", "Keras", say)


if __name__ == "__main__":
    sys.exit(main())
