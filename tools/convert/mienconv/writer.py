"""ir.Graph -> mienfile.GraphBuilder (which validates and writes it), and the typing of
metadata values: a .mien value's type comes from its Python type, so numbers coming from
JSON, argparse or numpy are made int / float / I64List / F64List here, once.
"""

import numpy as np

from . import mienfile
from .ir import ConvertError
from .ops import OPS


def typed(value):
    """A metadata or attribute value -> the Python type mienfile writes as intended: number
    lists with any float (or bool) become F64List, int lists I64List, bools ints; an
    explicit I64List / F64List stays what it says."""
    if isinstance(value, (mienfile.I64List, mienfile.F64List)):
        return value
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, str) for v in value):
            return list(value)
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
            return mienfile.I64List([int(v) for v in value])
        return mienfile.F64List([float(v) for v in value])
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, dict) or value is None:
        raise ConvertError("metadata value %r has no .mien type" % (value,))
    return value


def typed_meta(meta):
    out = {}
    for k, v in meta.items():
        try:
            out[k] = typed(v)
        except ConvertError:
            raise ConvertError("metadata '%s': unsupported value %r" % (k, v)) from None
    return out


def _attr(op, key, value):
    """Float attributes stay float64 even when written as whole numbers (alpha 1, clip
    [0, 6]); the type comes from the op table."""
    kind = OPS.get(op, {}).get("attrs", {}).get(key, "")
    if kind == "float64":
        return float(value)
    if kind.startswith("float64["):
        return mienfile.F64List([float(x) for x in value])
    return typed(value)


def to_builder(g):
    """Returns a mienfile.GraphBuilder holding g (inputs, nodes, outputs; no tests yet)."""
    b = mienfile.GraphBuilder()
    for name, h, w, c in g.inputs:
        b.add_input(name, h, w, c)
    for n in g.nodes:
        attrs = {k: _attr(n.op, k, v) for k, v in n.attrs.items()}
        out = b.add_node(n.op, n.name, n.inputs, attrs,
                         {r: np.ascontiguousarray(w, dtype=np.float32)
                          for r, w in n.weights.items()})
        if out != n.name:
            raise ConvertError("GraphBuilder renamed node '%s' to '%s'" % (n.name, out))
    b.set_outputs(list(g.outputs))
    return b
