"""Read and write .mien model files (version 1), as specified in
include/mien/model/FORMAT.md, plus a small graph builder for converters.

API (other tools code against it; keep it stable):

    write(path, meta, tensors)          meta: dict str -> value, tensors: dict str -> ndarray
    read(path) -> (meta, tensors)       full validation, ValueError on any inconsistency
    I64List(list), F64List(list)        force an int64[] / float64[] metadata value
    GraphBuilder                        add_input / add_node / set_outputs /
                                        add_test_vector / save

Metadata values are typed by their Python type: int -> int64, float -> float64,
str -> string, list/tuple of int -> int64[], of float -> float64[], of str -> string[].
bool counts as int, numpy scalars as their Python kind. Empty or mixed int/float lists
need an I64List / F64List wrapper. read() returns int64[] as I64List and float64[] as
F64List (both subclasses of list), so a file read and written again is byte-identical.

Tensors are stored as float32 unless given as float16 arrays (any other dtype is
converted to float32). Keys and tensor names are written sorted, so output is
reproducible; it matches the C++ writer (include/mien/model/format.hpp) byte for byte.

Self-test: cd tools/convert && /usr/bin/python3 -m mienconv.mienfile --selftest
"""

import os
import re
import struct
import sys
import zlib

import numpy as np

from . import ops as _ops

MAGIC = b"MIEN"
VERSION = 1
HEADER_SIZE = 64
ALIGN = 64
MAX_KEY_LEN = 4096
MAX_RANK = 8

T_INT, T_FLOAT, T_STR, T_INTS, T_FLOATS, T_STRS = 1, 2, 3, 4, 5, 6
DT_F32, DT_F16, DT_I8 = 1, 2, 3  # i8: the int8 weights of qconv2d
TYPE_NAMES = {T_INT: "int64", T_FLOAT: "float64", T_STR: "string", T_INTS: "int64[]",
              T_FLOATS: "float64[]", T_STRS: "string[]"}

# Ops and activations come from the one op table (ops.py); GraphBuilder refuses others so
# typos fail at conversion time.
OPS = set(_ops.OPS)
ACTIVATIONS = set(_ops.ACTIVATIONS)


class I64List(list):
    """A list written as int64[] whatever its contents (e.g. empty)."""


class F64List(list):
    """A list written as float64[] whatever its contents (e.g. empty or mixed int/float)."""


class _StrList(list):
    """A list written as string[] even when empty (node inputs)."""


def _align(n, a=ALIGN):
    return (n + a - 1) // a * a


def _is_int(v):
    return isinstance(v, (int, np.integer))  # bool is an int


def _is_float(v):
    return isinstance(v, (float, np.floating))


def _classify(key, value):
    """Returns (type code, normalised Python value) for a metadata value."""
    if isinstance(value, _StrList):
        if not all(isinstance(x, str) for x in value):
            raise TypeError(f"metadata '{key}': string list holds a non-string")
        return T_STRS, list(value)
    if isinstance(value, I64List):
        try:
            return T_INTS, [_as_int(key, x) for x in value]
        except TypeError as e:
            raise TypeError(f"metadata '{key}': I64List items must be integers ({e})") from None
    if isinstance(value, F64List):
        for x in value:
            if not (_is_int(x) or _is_float(x)):
                raise TypeError(f"metadata '{key}': F64List item {x!r} is not a number")
        return T_FLOATS, [float(x) for x in value]
    if isinstance(value, np.ndarray):
        if value.ndim != 1:
            raise TypeError(f"metadata '{key}': array values must be 1-D, got shape {value.shape}")
        if np.issubdtype(value.dtype, np.integer) or value.dtype == np.bool_:
            return T_INTS, [int(x) for x in value]
        if np.issubdtype(value.dtype, np.floating):
            return T_FLOATS, [float(x) for x in value]
        value = value.tolist()
    if isinstance(value, str):
        return T_STR, value
    if _is_int(value):
        return T_INT, _as_int(key, value)
    if _is_float(value):
        return T_FLOAT, float(value)
    if isinstance(value, (list, tuple)):
        if len(value) == 0:
            raise TypeError(f"metadata '{key}': an empty list has no type; wrap it in "
                            "I64List([]) or F64List([])")
        if all(isinstance(x, str) for x in value):
            return T_STRS, list(value)
        if all(_is_int(x) for x in value):
            return T_INTS, [_as_int(key, x) for x in value]
        if all(_is_float(x) for x in value):
            return T_FLOATS, [float(x) for x in value]
        raise TypeError(f"metadata '{key}': list {value!r} mixes types; wrap it in "
                        "F64List(...) or I64List(...)")
    raise TypeError(f"metadata '{key}': unsupported value type {type(value).__name__}")


def _as_int(key, x):
    if not _is_int(x):
        raise TypeError(f"{x!r} is not an integer")
    x = int(x)
    if not -(1 << 63) <= x < (1 << 63):
        raise OverflowError(f"metadata '{key}': {x} does not fit in int64")
    return x


def _encode_str(s, what):
    b = s.encode("utf-8")
    if len(b) >= (1 << 32):
        raise ValueError(f"{what} is too long")
    return struct.pack("<I", len(b)) + b


def _encode_entry(key, value):
    if not isinstance(key, str):
        raise TypeError(f"metadata key {key!r} is not a string")
    kb = key.encode("utf-8")
    if not 1 <= len(kb) <= MAX_KEY_LEN:
        raise ValueError(f"metadata key {key!r} must be 1..{MAX_KEY_LEN} bytes")
    t, v = _classify(key, value)
    out = [struct.pack("<I", len(kb)), kb, struct.pack("<B", t)]
    if t == T_INT:
        out.append(struct.pack("<q", v))
    elif t == T_FLOAT:
        out.append(struct.pack("<d", v))
    elif t == T_STR:
        out.append(_encode_str(v, f"string value of '{key}'"))
    elif t == T_INTS:
        out.append(struct.pack("<I%dq" % len(v), len(v), *v))
    elif t == T_FLOATS:
        out.append(struct.pack("<I%dd" % len(v), len(v), *v))
    else:
        out.append(struct.pack("<I", len(v)))
        out.extend(_encode_str(s, f"string item of '{key}'") for s in v)
    return b"".join(out)


def _tensor_array(name, arr):
    a = np.asarray(arr)
    if a.dtype == np.float16:
        a = np.array(a, dtype="<f2", order="C")
        dt = DT_F16
    elif a.dtype == np.int8:
        a = np.array(a, dtype="i1", order="C")
        dt = DT_I8
    else:
        if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
            raise TypeError(f"tensor '{name}' has non-numeric dtype {a.dtype}")
        a = np.array(a, dtype="<f4", order="C")
        dt = DT_F32
    if a.ndim > MAX_RANK:
        raise ValueError(f"tensor '{name}' has rank {a.ndim} > {MAX_RANK}")
    if any(d < 1 for d in a.shape):
        raise ValueError(f"tensor '{name}' has an empty dimension: shape {a.shape}")
    return a, dt


def serialize(meta, tensors):
    """Returns the bytes of a .mien file (see write)."""
    for k in meta:
        if not isinstance(k, str):
            raise TypeError(f"metadata key {k!r} is not a string")
    body = bytearray(HEADER_SIZE)
    for key in sorted(meta):
        body += _encode_entry(key, meta[key])
    arrays = []
    offset = 0
    for name in sorted(tensors):
        if not isinstance(name, str):
            raise TypeError(f"tensor name {name!r} is not a string")
        nb = name.encode("utf-8")
        if not 1 <= len(nb) <= MAX_KEY_LEN:
            raise ValueError(f"tensor name {name!r} must be 1..{MAX_KEY_LEN} bytes")
        a, dt = _tensor_array(name, tensors[name])
        body += struct.pack("<I", len(nb)) + nb
        body += struct.pack("<BB", dt, a.ndim)
        body += struct.pack("<%dq" % a.ndim, *a.shape)
        body += struct.pack("<QQ", offset, a.nbytes)
        arrays.append((offset, a))
        offset = _align(offset + a.nbytes)
    data_offset = _align(len(body))
    out = bytearray(data_offset + offset)
    out[:len(body)] = body
    for off, a in arrays:
        start = data_offset + off
        out[start:start + a.nbytes] = a.tobytes()
    out[0:4] = MAGIC
    struct.pack_into("<I", out, 4, VERSION)
    struct.pack_into("<QQII", out, 16, len(out), data_offset, len(meta), len(tensors))
    struct.pack_into("<I", out, 8, zlib.crc32(memoryview(out)[12:]) & 0xFFFFFFFF)
    return bytes(out)


def write(path, meta, tensors):
    """Writes a .mien file. meta: dict str -> value (typed as the module doc says);
    tensors: dict str -> ndarray (float16 kept, anything else stored as float32)."""
    data = serialize(meta, tensors)
    tmp = str(path) + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


class _Reader:
    def __init__(self, buf, pos, end):
        self.buf, self.pos, self.end = buf, pos, end

    def need(self, n, what):
        if n > self.end - self.pos:
            raise ValueError(f"file truncated while reading {what} at byte {self.pos}")

    def unpack(self, fmt, what):
        n = struct.calcsize(fmt)
        self.need(n, what)
        v = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += n
        return v if len(v) > 1 else v[0]

    def count(self, what, min_bytes):
        n = self.unpack("<I", what)
        if min_bytes and n > (self.end - self.pos) // min_bytes:
            raise ValueError(f"{what} count {n} does not fit in the file")
        return n

    def string(self, what, max_len=1 << 30):
        n = self.unpack("<I", what + " length")
        if n > max_len:
            raise ValueError(f"{what} length {n} exceeds the limit {max_len}")
        self.need(n, what)
        raw = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{what} at byte {self.pos - n} is not valid UTF-8") from None


def parse(buf, origin="<bytes>"):
    """Parses .mien bytes; returns (meta, tensors). ValueError names origin on failure."""
    try:
        return _parse(memoryview(buf).cast("B"))
    except ValueError as e:
        raise ValueError(f"{origin}: {e}") from None


def _parse(buf):
    size = len(buf)
    if size < HEADER_SIZE:
        raise ValueError(f"not a .mien file: {size} bytes is shorter than the header")
    if bytes(buf[0:4]) != MAGIC:
        raise ValueError("not a .mien file (bad magic)")
    version, crc, reserved, file_size, data_offset, meta_count, tensor_count = struct.unpack_from(
        "<IIIQQII", buf, 4)
    if version != VERSION:
        raise ValueError(f"unsupported .mien format version {version} (this reader reads {VERSION})")
    if file_size != size:
        raise ValueError(f"file is {size} bytes but its header says {file_size} "
                         "(truncated or padded)")
    if not (HEADER_SIZE <= data_offset <= size and data_offset % ALIGN == 0):
        raise ValueError(f"invalid data offset {data_offset}")
    if zlib.crc32(buf[12:]) & 0xFFFFFFFF != crc:
        raise ValueError("checksum mismatch (file is corrupt)")
    if reserved != 0 or any(buf[40:64]):
        raise ValueError("reserved header bytes are not zero")
    r = _Reader(buf, HEADER_SIZE, data_offset)
    if meta_count > (data_offset - HEADER_SIZE) // 6:
        raise ValueError(f"metadata count {meta_count} does not fit in the file")
    meta = {}
    for _ in range(meta_count):
        key = r.string("metadata key", MAX_KEY_LEN)
        if not key:
            raise ValueError("empty metadata key")
        if key in meta:
            raise ValueError(f"duplicate metadata key '{key}'")
        t = r.unpack("<B", "metadata type")
        if t == T_INT:
            v = r.unpack("<q", "int64 value")
        elif t == T_FLOAT:
            v = r.unpack("<d", "float64 value")
        elif t == T_STR:
            v = r.string("string value")
        elif t == T_INTS:
            n = r.count("int64 array", 8)
            v = I64List(struct.unpack_from("<%dq" % n, buf, r.pos))
            r.pos += 8 * n
        elif t == T_FLOATS:
            n = r.count("float64 array", 8)
            v = F64List(struct.unpack_from("<%dd" % n, buf, r.pos))
            r.pos += 8 * n
        elif t == T_STRS:
            n = r.count("string array", 4)
            v = [r.string("string array item") for _ in range(n)]
        else:
            raise ValueError(f"metadata key '{key}' has unknown value type {t}")
        meta[key] = v
    if tensor_count > (data_offset - r.pos) // 22:
        raise ValueError(f"tensor count {tensor_count} does not fit in the file")
    tensors, spans = {}, []
    for _ in range(tensor_count):
        name = r.string("tensor name", MAX_KEY_LEN)
        if not name:
            raise ValueError("empty tensor name")
        if name in tensors:
            raise ValueError(f"duplicate tensor '{name}'")
        dt, ndim = r.unpack("<BB", "tensor dtype and rank")
        if dt not in (DT_F32, DT_F16, DT_I8):
            raise ValueError(f"tensor '{name}' has unknown dtype {dt}")
        if ndim > MAX_RANK:
            raise ValueError(f"tensor '{name}' has rank {ndim}")
        dims = [r.unpack("<q", "tensor dim") for _ in range(ndim)]
        count = 1
        for d in dims:
            if not 1 <= d <= (1 << 40):
                raise ValueError(f"tensor '{name}' has dimension {d}")
            count *= d
            if count > size:
                raise ValueError(f"tensor '{name}' is larger than the file")
        offset, nbytes = r.unpack("<QQ", "tensor offset and size")
        elem = {DT_F32: 4, DT_F16: 2, DT_I8: 1}[dt]
        if nbytes != count * elem:
            raise ValueError(f"tensor '{name}' declares {nbytes} bytes for {count} elements")
        if offset % ALIGN:
            raise ValueError(f"tensor '{name}' is not 64-byte aligned")
        if offset > size - data_offset or nbytes > size - data_offset - offset:
            raise ValueError(f"tensor '{name}' lies outside the file")
        start = data_offset + offset
        np_dt = {DT_F32: "<f4", DT_F16: "<f2", DT_I8: "i1"}[dt]
        arr = np.frombuffer(buf[start:start + nbytes], dtype=np_dt)
        tensors[name] = arr.astype(np.dtype(np_dt).newbyteorder("=")).reshape(tuple(dims))
        spans.append((offset, offset + nbytes, name))
    spans.sort()
    for (b0, e0, n0), (b1, _, n1) in zip(spans, spans[1:]):
        if b1 < e0:
            raise ValueError(f"tensors '{n0}' and '{n1}' overlap")
    return meta, tensors


def read(path):
    """Reads and validates a .mien file; returns (meta, tensors)."""
    with open(path, "rb") as f:
        data = f.read()
    return parse(data, str(path))


# ---------------------------------------------------------------------------------------
# Graph builder

_RESERVED_PREFIXES = ("graph.", "node.", "test.")
_ATTR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


class GraphBuilder:
    """Builds a .mien graph (FORMAT.md "Graph" and "Test vectors")."""

    def __init__(self):
        self.inputs = []        # (name, h, w, c)
        self.nodes = []         # dicts: name, op, inputs, output, attrs
        self.outputs = []
        self.weights = {}       # "<node>/<role>" -> ndarray
        self.tests = []         # (inputs dict, outputs dict)
        self._values = set()    # value names defined so far
        self._node_names = set()

    def add_input(self, name, h, w, c):
        if not name or not isinstance(name, str):
            raise ValueError("graph input needs a non-empty name")
        if name in self._values:
            raise ValueError(f"value '{name}' is already defined")
        for what, d in (("height", h), ("width", w)):
            if not (d == -1 or 1 <= d <= 65536):
                raise ValueError(f"graph input '{name}': invalid {what} {d}")
        if not 1 <= c <= 65536:
            raise ValueError(f"graph input '{name}': invalid channel count {c}")
        self.inputs.append((name, int(h), int(w), int(c)))
        self._values.add(name)
        return name

    def add_node(self, op, name, inputs, attrs=None, weights=None):
        """Appends a node (nodes must come in topological order); returns its output value
        name, which is the node name. weights: role -> array, stored as '<name>/<role>'."""
        attrs = dict(attrs or {})
        weights = dict(weights or {})
        if op not in OPS:
            raise ValueError(f"node '{name}': unknown op '{op}' (FORMAT.md ops: "
                             f"{', '.join(sorted(OPS))})")
        if not name or not isinstance(name, str):
            raise ValueError(f"{op} node needs a non-empty name")
        if name in self._node_names:
            raise ValueError(f"duplicate node name '{name}'")
        if name in self._values:
            raise ValueError(f"node '{name}': value '{name}' is already defined")
        inputs = list(inputs)
        for i in inputs:
            if i not in self._values:
                raise ValueError(f"node '{name}' ({op}): input '{i}' is not defined by an "
                                 "earlier node or a graph input")
        for k, v in attrs.items():
            if k in ("name", "op", "inputs", "output") or not _ATTR_RE.match(k):
                raise ValueError(f"node '{name}': invalid attribute name '{k}'")
            _classify(f"{name}.{k}", v)  # fail early on untyped values
        act_key = "type" if op == "activation" else "activation"
        if (op == "activation" or act_key in attrs) and attrs.get(act_key) not in ACTIVATIONS:
            raise ValueError(f"node '{name}': unknown activation {attrs.get(act_key)!r} "
                             f"(known: {', '.join(sorted(ACTIVATIONS))})")
        for role, arr in weights.items():
            key = f"{name}/{role}"
            if not role or "/" in role:
                raise ValueError(f"node '{name}': invalid weight role '{role}'")
            self.weights[key] = _tensor_array(key, arr)[0]
        self.nodes.append({"name": name, "op": op, "inputs": inputs, "output": name,
                           "attrs": attrs})
        self._node_names.add(name)
        self._values.add(name)
        return name

    def set_outputs(self, outputs):
        outputs = list(outputs)
        if not outputs:
            raise ValueError("graph needs at least one output")
        for o in outputs:
            if o not in self._values:
                raise ValueError(f"graph output '{o}' is not produced by any node or input")
        self.outputs = outputs

    @staticmethod
    def _nhwc(name, arr):
        a = np.asarray(arr)
        a = a.astype(np.float16 if a.dtype == np.float16 else np.float32, copy=False)
        if a.ndim == 2:  # [N, C] from a classifier head -> N x 1 x 1 x C
            a = a.reshape(a.shape[0], 1, 1, a.shape[1])
        if a.ndim != 4:
            raise ValueError(f"test tensor '{name}' must be 4-D NHWC (or 2-D N x C), "
                             f"got shape {a.shape}")
        return np.ascontiguousarray(a)

    def add_test_vector(self, inputs, outputs):
        """inputs: graph input name -> NHWC array; outputs: graph output name -> NHWC array
        (2-D [N, C] arrays are stored as N x 1 x 1 x C). Stored as float32, or as float16
        when given float16 (halves the size of large test inputs; the reference outputs
        must then come from exactly those float16 values)."""
        ins = {k: self._nhwc(k, v) for k, v in inputs.items()}
        outs = {k: self._nhwc(k, v) for k, v in outputs.items()}
        self.tests.append((ins, outs))

    def metadata(self, meta=None, tolerance=1e-4):
        """Returns (meta, tensors) of the whole model (what save writes)."""
        meta = dict(meta or {})
        for k in meta:
            if k.startswith(_RESERVED_PREFIXES):
                raise ValueError(f"model metadata key '{k}' uses a reserved prefix "
                                 "(graph., node., test.)")
        if not self.inputs:
            raise ValueError("graph has no inputs")
        if not self.outputs:
            raise ValueError("graph has no outputs (call set_outputs)")
        m = dict(meta)
        m["graph.inputs"] = [i[0] for i in self.inputs]
        for name, h, w, c in self.inputs:
            m[f"graph.input.{name}.shape"] = I64List([h, w, c])
        m["graph.outputs"] = list(self.outputs)
        m["graph.node_count"] = len(self.nodes)
        for i, n in enumerate(self.nodes):
            p = f"node.{i}."
            m[p + "name"] = n["name"]
            m[p + "op"] = n["op"]
            m[p + "inputs"] = _StrList(n["inputs"])
            m[p + "output"] = n["output"]
            for k, v in n["attrs"].items():
                m[p + k] = v
        tensors = dict(self.weights)
        if self.tests:
            in_names = [i[0] for i in self.inputs]
            m["test.count"] = len(self.tests)
            m["test.tolerance"] = float(tolerance)
            for k, (ins, outs) in enumerate(self.tests):
                if sorted(ins) != sorted(in_names):
                    raise ValueError(f"test vector {k} has inputs {sorted(ins)}, the graph "
                                     f"has {sorted(in_names)}")
                if sorted(outs) != sorted(self.outputs):
                    raise ValueError(f"test vector {k} has outputs {sorted(outs)}, the graph "
                                     f"has {sorted(self.outputs)}")
                for name, a in ins.items():
                    tensors[f"test.{k}.input.{name}"] = a
                for name, a in outs.items():
                    tensors[f"test.{k}.output.{name}"] = a
        return m, tensors

    def save(self, path, meta=None, tolerance=1e-4):
        m, t = self.metadata(meta, tolerance)
        write(path, m, t)


# ---------------------------------------------------------------------------------------
# Graph view helpers shared by the numpy runner and converters

def graph_from_meta(meta, tensors):
    """Returns a plain dict view of a graph stored in (meta, tensors): inputs (name, shape),
    outputs, nodes (name, op, inputs, output, attrs, weights), tests, tolerance."""
    def get(key, types):
        if key not in meta:
            raise ValueError(f"missing metadata key '{key}'")
        v = meta[key]
        if not isinstance(v, types):
            raise ValueError(f"metadata key '{key}' has the wrong type ({type(v).__name__})")
        return v
    inputs = []
    for name in get("graph.inputs", list):
        shape = list(get(f"graph.input.{name}.shape", list))
        if len(shape) != 3:
            raise ValueError(f"graph.input.{name}.shape must be [H, W, C]")
        inputs.append((name, shape))
    outputs = list(get("graph.outputs", list))
    count = get("graph.node_count", int)
    if not 0 <= count <= len(meta):
        raise ValueError(f"invalid graph.node_count {count}")
    nodes = []
    for i in range(count):
        p = f"node.{i}."
        nodes.append({"name": get(p + "name", str), "op": get(p + "op", str),
                      "inputs": list(get(p + "inputs", list)), "output": get(p + "output", str),
                      "attrs": {}, "weights": {}})
    for key, v in meta.items():
        if key.startswith("node."):
            idx, _, attr = key[5:].partition(".")
            if not idx.isdigit() or not attr:
                raise ValueError(f"malformed key '{key}'")
            if int(idx) >= count:
                raise ValueError(f"key '{key}' names node {idx} of {count}")
            if attr not in ("name", "op", "inputs", "output"):
                nodes[int(idx)]["attrs"][attr] = v
    by_name = {n["name"]: n for n in nodes}
    for tname, arr in tensors.items():
        if tname.startswith("test."):
            continue
        owner, _, role = tname.rpartition("/")
        if owner in by_name:
            by_name[owner]["weights"][role] = arr
    tests = []
    for k in range(int(meta.get("test.count", 0))):
        ins, outs = {}, {}
        for name, _ in inputs:
            t = f"test.{k}.input.{name}"
            if t not in tensors:
                raise ValueError(f"missing test tensor '{t}'")
            ins[name] = tensors[t]
        for name in outputs:
            t = f"test.{k}.output.{name}"
            if t not in tensors:
                raise ValueError(f"missing test tensor '{t}'")
            outs[name] = tensors[t]
        tests.append((ins, outs))
    defined = {n for n, _ in inputs}
    for n in nodes:
        for i in n["inputs"]:
            if i not in defined:
                raise ValueError(f"node '{n['name']}': input '{i}' is not defined by an "
                                 "earlier node or a graph input")
        if n["output"] in defined:
            raise ValueError(f"node '{n['name']}': output '{n['output']}' is defined twice")
        defined.add(n["output"])
    for o in outputs:
        if o not in defined:
            raise ValueError(f"graph output '{o}' is not produced by any node")
    return {"inputs": inputs, "outputs": outputs, "nodes": nodes, "tests": tests,
            "tolerance": float(meta.get("test.tolerance", 1e-4))}


# ---------------------------------------------------------------------------------------
# Self-test

def _selftest():
    import tempfile
    rng = np.random.default_rng(1)
    meta = {
        "a.int": 7, "a.neg": -(1 << 62), "a.float": 0.5, "a.str": "héllo", "a.ints": [1, 2, 3],
        "a.floats": (0.25, -1.5), "a.strs": ["x", "", "zz"], "a.empty_i": I64List([]),
        "a.empty_f": F64List([]), "a.mixed": F64List([1, 0.5]), "a.bool": True,
        "a.np": np.float32(2.5), "a.npi": np.int64(3),
    }
    tensors = {
        "w": rng.standard_normal((3, 3, 2, 5)).astype(np.float32),
        "h": rng.standard_normal((7,)).astype(np.float16),
        "s": np.array(3.0, dtype=np.float32),
        "d": np.arange(6, dtype=np.float64).reshape(2, 3),
    }
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "t.mien")
        write(p, meta, tensors)
        m2, t2 = read(p)
        assert m2["a.int"] == 7 and isinstance(m2["a.int"], int)
        assert m2["a.neg"] == -(1 << 62)
        assert m2["a.float"] == 0.5 and isinstance(m2["a.float"], float)
        assert m2["a.str"] == "héllo"
        assert m2["a.ints"] == [1, 2, 3] and isinstance(m2["a.ints"], I64List)
        assert m2["a.floats"] == [0.25, -1.5] and isinstance(m2["a.floats"], F64List)
        assert m2["a.strs"] == ["x", "", "zz"]
        assert isinstance(m2["a.empty_i"], I64List) and m2["a.empty_i"] == []
        assert isinstance(m2["a.empty_f"], F64List) and m2["a.empty_f"] == []
        assert m2["a.mixed"] == [1.0, 0.5] and m2["a.bool"] == 1
        assert m2["a.np"] == 2.5 and m2["a.npi"] == 3
        assert t2["w"].dtype == np.float32 and np.array_equal(t2["w"], tensors["w"])
        assert t2["h"].dtype == np.float16 and np.array_equal(t2["h"], tensors["h"])
        assert t2["s"].shape == () and t2["s"] == 3.0
        assert t2["d"].dtype == np.float32 and np.array_equal(t2["d"], tensors["d"])
        raw = open(p, "rb").read()
        # Alignment and reproducibility.
        data_offset = struct.unpack_from("<Q", raw, 24)[0]
        assert data_offset % 64 == 0
        write(p + "2", m2, t2)
        assert open(p + "2", "rb").read() == raw, "re-written file differs"
        # Corruption is detected.
        for pos in (0, 5, 9, 20, 70, len(raw) - 1):
            bad = bytearray(raw)
            bad[pos] ^= 0x40
            try:
                parse(bytes(bad))
            except ValueError:
                pass
            else:
                raise AssertionError(f"flip at byte {pos} not detected")
        for cut in (0, 10, 63, 64, len(raw) // 2, len(raw) - 1):
            try:
                parse(raw[:cut])
            except ValueError:
                pass
            else:
                raise AssertionError(f"truncation at {cut} not detected")
        # Hostile file with a valid checksum: tensor offset outside the file.
        for mutate in ("count", "offset"):
            bad = bytearray(serialize({"k": 1}, {"t": np.zeros(4, np.float32)}))
            if mutate == "count":
                struct.pack_into("<I", bad, 32, 1 << 30)
            else:
                pos = bad.index(b"t\x01\x01") + 3 + 8
                struct.pack_into("<Q", bad, pos, 1 << 40)
            struct.pack_into("<I", bad, 8, zlib.crc32(bytes(bad[12:])) & 0xFFFFFFFF)
            try:
                parse(bytes(bad))
            except ValueError:
                pass
            else:
                raise AssertionError(f"hostile {mutate} not detected")
        # Typing errors.
        for badval in ([], [1, 0.5], {"x": 1}, [1, "a"]):
            try:
                serialize({"k": badval}, {})
            except TypeError:
                pass
            else:
                raise AssertionError(f"{badval!r} accepted")

        # Graph round trip.
        g = GraphBuilder()
        g.add_input("image", 8, 8, 3)
        c = g.add_node("conv2d", "conv", ["image"],
                       {"strides": [2, 2], "padding": "same", "activation": "relu"},
                       {"weight": rng.standard_normal((3, 3, 3, 4)), "bias": np.zeros(4)})
        p2 = g.add_node("global_avg_pool", "gap", [c])
        s = g.add_node("softmax", "prob", [p2])
        g.set_outputs([s])
        g.add_test_vector({"image": np.zeros((1, 8, 8, 3))}, {"prob": np.full((1, 4), 0.25)})
        gp = os.path.join(d, "g.mien")
        g.save(gp, {"model.name": "selftest", "model.labels": ["a", "b", "c", "d"]}, 1e-5)
        m3, t3 = read(gp)
        assert m3["graph.inputs"] == ["image"] and m3["graph.input.image.shape"] == [8, 8, 3]
        assert m3["graph.node_count"] == 3 and m3["node.0.op"] == "conv2d"
        assert m3["node.0.strides"] == [2, 2] and m3["node.0.padding"] == "same"
        assert m3["node.1.inputs"] == ["conv"] and m3["node.2.output"] == "prob"
        assert m3["test.count"] == 1 and m3["test.tolerance"] == 1e-5
        assert t3["test.0.output.prob"].shape == (1, 1, 1, 4)
        assert t3["conv/weight"].shape == (3, 3, 3, 4)
        view = graph_from_meta(m3, t3)
        assert [n["op"] for n in view["nodes"]] == ["conv2d", "global_avg_pool", "softmax"]
        assert "bias" in view["nodes"][0]["weights"]
        for bad in (lambda: g.add_node("nope", "x", ["image"]),
                    lambda: g.add_node("softmax", "y", ["missing"]),
                    lambda: g.add_node("softmax", "conv", ["image"])):
            try:
                bad()
            except ValueError:
                pass
            else:
                raise AssertionError("bad node accepted")
    print("mienfile selftest: ok")


if __name__ == "__main__":
    if sys.argv[1:] == ["--selftest"]:
        _selftest()
    elif len(sys.argv) == 2 and not sys.argv[1].startswith("-"):
        m, t = read(sys.argv[1])
        for k in sorted(m):
            v = m[k]
            s = repr(v if not isinstance(v, list) or len(v) <= 8 else list(v[:8]) + ["..."])
            print(f"{k} = {s}")
        for k in sorted(t):
            print(f"tensor {k} {t[k].dtype} {list(t[k].shape)}")
    else:
        print("usage: python3 -m mienconv.mienfile --selftest | MODEL.mien (dump)", file=sys.stderr)
        sys.exit(2)
