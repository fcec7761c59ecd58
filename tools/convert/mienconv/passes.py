"""The conversion-time rewrites, in one place, for every front end: results are unchanged
up to float rounding, and the engine has fewer nodes to run.

- remove_dead: nodes no graph output depends on;
- remove_identities: activation nodes of type none;
- fold_pad: a zero pad (no channel padding) into the following conv's explicit pads;
- fold_batch_norm: batch_norm into the producing conv/depthwise/dense (weight * scale,
  bias * scale + shift), or into a producing batch_norm;
- fuse_activation: an activation node into the producing conv/depthwise/dense/add;
- fuse_squeeze_excite: GAP -> 1x1 -> relu -> 1x1 -> sigmoid -> mul into squeeze_excite.

Each pass applies one rewrite and returns True, or returns False when none applies;
simplify() runs them all until none applies. A rewrite only fuses a value with a single
reader that is not a graph output. `keep` says which name a fused pair keeps (ir.Graph.
merge_into). The C++ loader (include/mien/model/optimize.hpp) folds batch_norm and
activations again at load time, for graphs written by other tools.
"""

import numpy as np

from .ops import FUSES_ACTIVATION, WEIGHTED_OPS


def _single_reader(g, value, counts):
    return counts.get(value, 0) == 1


def _sole_producers(g, ops):
    """Yields (node, producer of its first input) for the nodes of `ops` whose producer
    has no other reader and is no graph output: the pairs a rewrite may merge. Passes
    return after one rewrite, so the graph never changes under the loop."""
    counts = g.reader_counts()
    prod = g.producer_map()
    for n in g.nodes:
        if n.op in ops:
            p = prod.get(n.inputs[0])
            if p is not None and _single_reader(g, p.name, counts):
                yield n, p


def remove_dead(g):
    live = set(g.outputs)
    keep = []
    for n in reversed(g.nodes):
        if n.name in live:
            keep.append(n)
            live.update(n.inputs)
    changed = len(keep) != len(g.nodes)
    for n in g.nodes:
        if n.name not in live:
            g.release(n.name)
    g.nodes = list(reversed(keep))
    return changed


def remove_identities(g):
    """activation(type none) nodes that are not graph outputs disappear."""
    for n in g.nodes:
        if n.op == "activation" and n.attrs.get("type", "none") == "none" and \
                n.name not in g.outputs and len(n.inputs) == 1:
            src = n.inputs[0]
            g.remove(n)
            g.rename_value(n.name, src)
            return True
    return False


def fold_pad(g):
    """pad (value 0, no channel padding) -> conv2d / depthwise_conv2d with valid or explicit
    padding: the pad becomes part of the conv's explicit pads."""
    for n, p in _sole_producers(g, ("conv2d", "depthwise_conv2d")):
        if p.op != "pad":
            continue
        pads = [int(v) for v in p.attrs["pads"]]
        if float(p.attrs.get("value", 0.0)) != 0.0 or pads[4] or pads[5]:
            continue
        mode = n.attrs.get("padding", "valid")
        if mode == "same":
            continue
        cur = [int(v) for v in n.attrs.get("pads", [0, 0, 0, 0])] if mode == "explicit" \
            else [0, 0, 0, 0]
        n.attrs["padding"] = "explicit"
        n.attrs["pads"] = [cur[k] + pads[k] for k in range(4)]
        n.inputs[0] = p.inputs[0]
        g.remove(p)
        return True
    return False


def fold_batch_norm(g, keep="producer"):
    for bn, p in _sole_producers(g, ("batch_norm",)):
        scale = bn.weights["scale"].astype(np.float64).reshape(-1)
        shift = bn.weights["shift"].astype(np.float64).reshape(-1)
        if p.op == "batch_norm":  # two affine maps -> one
            p.weights["scale"] = (p.weights["scale"] * scale).astype(np.float32)
            p.weights["shift"] = (p.weights["shift"] * scale + shift).astype(np.float32)
            g.merge_into(p, bn, keep)
            return True
        if p.op not in WEIGHTED_OPS or p.act() != "none":
            continue
        w = p.weights["weight"].astype(np.float64)
        cout = w.shape[-1]
        if scale.size != cout or shift.size != cout:
            continue
        bias = p.weights.get("bias")
        bias = np.zeros(cout) if bias is None else bias.astype(np.float64)
        p.weights["weight"] = (w * scale).astype(np.float32)
        p.weights["bias"] = (bias * scale + shift).astype(np.float32)
        g.merge_into(p, bn, keep)
        return True
    return False


def fuse_activation(g, keep="producer"):
    for a, p in _sole_producers(g, ("activation",)):
        if a.attrs.get("type", "none") == "none" or p.op not in FUSES_ACTIVATION or \
                p.act() != "none":
            continue
        p.attrs["activation"] = a.attrs["type"]
        for key in ("alpha", "clip"):
            if key in a.attrs:
                p.attrs[key] = a.attrs[key]
        if "slopes" in a.weights:
            p.weights["slopes"] = a.weights["slopes"]
        g.merge_into(p, a, keep)
        return True
    return False


def _pointwise_matrix(n):
    """[Cin, Cout] matrix of a 1x1 stride-1 conv2d or a dense node, else None."""
    if n.op == "dense":
        return n.weights["weight"]
    if n.op == "conv2d":
        w = n.weights["weight"]
        if w.shape[0] != 1 or w.shape[1] != 1:
            return None
        if [int(v) for v in n.attrs.get("strides", [1, 1])] != [1, 1]:
            return None
        if n.attrs.get("padding", "valid") == "explicit" and \
                any(int(v) for v in n.attrs.get("pads", [0, 0, 0, 0])):
            return None
        return w[0, 0]
    return None


def fuse_squeeze_excite(g):
    """mul(x, sigmoid(W2 relu(W1 gap(x) + b1) + b2)) -> squeeze_excite(x)."""
    counts = g.reader_counts()
    prod = g.producer_map()
    for m in g.nodes:
        if m.op != "mul" or len(m.inputs) != 2:
            continue
        for xi in (0, 1):
            x, s = m.inputs[xi], m.inputs[1 - xi]
            d2 = prod.get(s)
            if d2 is None or d2.act() != "sigmoid" or not _single_reader(g, s, counts):
                continue
            w2 = _pointwise_matrix(d2)
            d1 = prod.get(d2.inputs[0])
            if w2 is None or d1 is None or d1.act() != "relu" or \
                    not _single_reader(g, d1.name, counts):
                continue
            w1 = _pointwise_matrix(d1)
            chain = [d2, d1]
            src = prod.get(d1.inputs[0])
            if src is not None and src.op == "flatten" and _single_reader(g, src.name, counts):
                chain.append(src)
                src = prod.get(src.inputs[0])
            if w1 is None or src is None or src.op != "global_avg_pool" or \
                    src.inputs[0] != x or not _single_reader(g, src.name, counts):
                continue
            chain.append(src)
            c, r = w1.shape
            if w2.shape != (r, c):
                continue
            b1 = d1.weights.get("bias", np.zeros(r, np.float32))
            b2 = d2.weights.get("bias", np.zeros(c, np.float32))
            m.op = "squeeze_excite"
            m.inputs = [x]
            m.attrs = {}
            m.weights = {"w1": np.array(w1, np.float32), "b1": b1.reshape(r),
                         "w2": np.array(w2, np.float32), "b2": b2.reshape(c)}
            for n in chain:
                g.remove(n)
            return True
    return False


def simplify(g, fuse_se=True, keep="producer"):
    """Applies every rewrite until none applies; checks the result."""
    passes = [remove_dead, remove_identities, fold_pad,
              lambda g: fold_batch_norm(g, keep), lambda g: fuse_activation(g, keep)]
    if fuse_se:
        passes.append(fuse_squeeze_excite)
    changed = True
    while changed:
        changed = False
        for p in passes:
            while p(g):
                changed = True
    g.validate()
    return g
