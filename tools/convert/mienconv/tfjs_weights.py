"""TF.js files as numpy: the weights manifest (float32, int32, bool, and quantised
uint8/uint16 {scale, min} / float16 weights, decoded as TF.js decodes them) and the attribute
and inline-constant encodings of model.json nodes. Read by tfjs_to_mien and faceapi_to_mien.
"""

import base64
import os

import numpy as np

from .ir import ConvertError


_DTYPES = {"float32": ("<f4", 4), "int32": ("<i4", 4), "bool": ("u1", 1),
           "float16": ("<f2", 2), "uint8": ("u1", 1), "uint16": ("<u2", 2)}


def load_weights(model_json_path, manifest):
    """Decodes a weightsManifest into {name: ndarray} as TF.js does."""
    base = os.path.dirname(os.path.abspath(model_json_path))
    out = {}
    for group in manifest:
        chunks = []
        for p in group.get("paths", []):
            f = os.path.join(base, p)
            if not os.path.isfile(f):
                from urllib.parse import unquote
                f = os.path.join(base, unquote(p))
            with open(f, "rb") as fh:
                chunks.append(fh.read())
        buf = b"".join(chunks)
        off = 0
        for w in group.get("weights", []):
            name, dtype, shape = w["name"], w["dtype"], [int(d) for d in w.get("shape", [])]
            n = int(np.prod(shape)) if shape else 1
            q = w.get("quantization")
            if dtype == "string":
                raise ConvertError(f"{model_json_path}: weight '{name}' has dtype string "
                                   "(not supported)")
            if q:
                qd = q.get("dtype")
                if qd not in ("uint8", "uint16", "float16"):
                    raise ConvertError(f"{model_json_path}: weight '{name}' has unknown "
                                       f"quantization dtype {qd!r}")
                fmt, size = _DTYPES[qd]
            else:
                if dtype not in _DTYPES or dtype in ("uint8", "uint16", "float16"):
                    raise ConvertError(f"{model_json_path}: weight '{name}' has unsupported "
                                       f"dtype {dtype!r}")
                fmt, size = _DTYPES[dtype]
            nbytes = n * size
            if off + nbytes > len(buf):
                raise ConvertError(f"{model_json_path}: weight '{name}' runs past the end of "
                                   f"its shards ({off + nbytes} > {len(buf)} bytes)")
            raw = np.frombuffer(buf, dtype=fmt, count=n, offset=off)
            off += nbytes
            if q and q["dtype"] in ("uint8", "uint16"):
                if "scale" not in q or "min" not in q:
                    raise ConvertError(f"{model_json_path}: weight '{name}' is quantised "
                                       "without scale/min")
                v = raw.astype(np.float64) * float(q["scale"]) + float(q["min"])
                val = np.round(v).astype(np.int32) if dtype == "int32" else v.astype(np.float32)
            elif q:  # float16
                if dtype != "float32":
                    raise ConvertError(f"{model_json_path}: weight '{name}': float16 "
                                       f"quantisation of {dtype}")
                val = raw.astype(np.float32)
            else:
                val = raw.astype(np.int32 if dtype == "int32" else
                                 np.bool_ if dtype == "bool" else np.float32)
            out[name] = val.reshape(shape)
        if off != len(buf):
            raise ConvertError(f"{model_json_path}: weight group {group.get('paths')} has "
                               f"{len(buf)} bytes, the manifest describes {off}")
    return out


def decode_attr(v):
    if not isinstance(v, dict):
        return v
    if "list" in v:
        lst = v["list"]
        if "s" in lst:
            return [base64.b64decode(x).decode("utf-8", "replace") for x in lst["s"]]
        if "i" in lst:
            return [int(x) for x in lst["i"]]
        if "f" in lst:
            return [float(x) for x in lst["f"]]
        if "b" in lst:
            return [bool(x) for x in lst["b"]]
        if "type" in lst:
            return list(lst["type"])
        if "shape" in lst:
            return lst["shape"]
        return []
    if "s" in v:
        return base64.b64decode(v["s"]).decode("utf-8", "replace")
    if "i" in v:
        return int(v["i"])
    if "f" in v:
        return float(v["f"])
    if "b" in v:
        return bool(v["b"])
    if "type" in v:
        return v["type"]
    if "shape" in v:
        return v["shape"]
    if "tensor" in v:
        return ("tensor", v["tensor"])
    if "func" in v:
        return ("func", v["func"])
    return v


def inline_tensor(t):
    """Decodes an inline TensorProto (attr value of a Const) into an ndarray."""
    dt = t.get("dtype", "DT_FLOAT")
    shape = [int(d.get("size", 0)) for d in t.get("tensorShape", {}).get("dim", [])]
    n = int(np.prod(shape)) if shape else 1
    np_dt = {"DT_FLOAT": np.float32, "DT_INT32": np.int32, "DT_BOOL": np.bool_,
             "DT_INT64": np.int64, "DT_HALF": np.float16}.get(dt)
    if np_dt is None:
        raise ConvertError(f"inline constant of type {dt} is not supported")
    if "tensorContent" in t:
        a = np.frombuffer(base64.b64decode(t["tensorContent"]), dtype=np.dtype(np_dt).newbyteorder("<"))
    else:
        key = {"DT_FLOAT": "floatVal", "DT_INT32": "intVal", "DT_BOOL": "boolVal",
               "DT_INT64": "int64Val", "DT_HALF": "halfVal"}[dt]
        vals = t.get(key, [])
        a = np.array([float(x) if dt == "DT_FLOAT" else int(x) for x in vals], dtype=np_dt)
        if a.size == 0:
            a = np.zeros(1, np_dt)
        if a.size == 1 and n != 1:
            a = np.full(n, a[0], np_dt)
    if a.size != n:
        raise ConvertError(f"inline constant has {a.size} values for shape {shape}")
    return a.reshape(shape).astype(np.float32 if dt in ("DT_FLOAT", "DT_HALF") else a.dtype)
