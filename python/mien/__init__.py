"""mien: face detection, emotion and gender on the CPU (a C++ engine, no ML framework).

    import mien
    p = mien.Pipeline()                       # the models built into the module
    faces = p.analyze("photo.jpg")            # or encoded bytes, or a uint8 HxWx3 array
    faces[0]["emotion"]["label"]

Each face is the dict `mien image --json` prints for it (box, score, landmarks, emotion,
gender, ...). mien.Model / mien.Session run any .mien graph. Errors from the engine are
mien.Error (a RuntimeError) with mien's message. `python3 -m mien.dask` analyses many
files on a Dask cluster (mien/dask.py).
"""

from ._mien import Error, Model, Pipeline, Session, load_image

__all__ = ["Error", "Model", "Pipeline", "Session", "load_image"]
