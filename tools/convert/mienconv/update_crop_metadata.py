"""Rewrites the crop.* metadata of the shipped classifiers (weights/*.mien) from
convert_defaults.CROPS, leaving everything else byte for byte: the same file that a full
re-conversion (convert_defaults.sh, which needs npm and the reference runtimes) writes,
since .mien metadata is serialised in sorted key order.

    cd tools/convert
    python3 -m mienconv.update_crop_metadata [WEIGHTS_DIR]   # default: weights/
    python3 -m mienconv.update_crop_metadata --check          # exit 1 if any differ
"""
import os
import sys

from . import mienfile
from .convert_defaults import CROPS, REPO, crop_meta


def main(argv):
    check = "--check" in argv
    args = [a for a in argv if a != "--check"]
    folder = args[0] if args else os.path.join(REPO, "weights")
    stale = []
    for fname in sorted(os.listdir(folder)):
        if not fname.endswith(".mien"):
            continue
        path = os.path.join(folder, fname)
        meta, tensors = mienfile.read(path)
        if meta.get("model.name") not in CROPS:
            continue
        new = {k: v for k, v in meta.items() if not k.startswith("crop.")}
        new.update(crop_meta(meta["model.name"]))
        data = mienfile.serialize(new, tensors)
        with open(path, "rb") as f:
            same = f.read() == data
        if same:
            continue
        stale.append(fname)
        if not check:
            mienfile.write(path, new, tensors)
            print(f"{fname}: crop metadata updated")
    if check and stale:
        print("crop metadata differs from convert_defaults.CROPS: " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
