#!/usr/bin/env python3
"""Accuracy tables from mien_tune outputs (tools/tune/sweep.sh writes them).

    python3 tools/tune/analyze.py LABELS.csv OUTDIR

Prints, for every probability file in OUTDIR (float32 [images][plain, mirrored][labels],
named <model>_<setting>.f32), the accuracy of the plain crop and of the crop averaged with
its mirror, a photo without a box counting as wrong; then the ensemble weight sweep of the
best big-XCEPTION and FaceExpressionNet settings, with a split-half check (choose the weight
on one random half, score it on the other, 200 times) so that what is reported generalises.
"""
import csv
import glob
import os
import sys

import numpy as np

FER = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
FACEAPI = ["neutral", "happy", "sad", "angry", "fear", "disgust", "surprise"]
SYNONYMS = {"anger": "angry", "happiness": "happy", "sadness": "sad", "fearful": "fear",
            "disgusted": "disgust", "surprised": "surprise"}


def main(labels_csv, outdir):
    with open(labels_csv, newline="") as f:
        rows = list(csv.reader(f))[1:]
    truth = np.array([FER.index(SYNONYMS.get(r[1], r[1])) for r in rows])
    n = len(truth)

    def load(path):
        p = np.fromfile(path, dtype=np.float32).reshape(n, 2, 7)
        if os.path.basename(path).startswith("face_expression"):
            p = p[:, :, [FACEAPI.index(label) for label in FER]]
        return p

    def acc(p, idx=None):
        ok = (p.argmax(-1) == truth) & (p.sum(-1) > 0)
        return ok.mean() if idx is None else ok[idx].mean()

    best = {}
    for path in sorted(glob.glob(os.path.join(outdir, "*.f32"))):
        p = load(path)
        name = os.path.basename(path)[:-4]
        a1, a2 = acc(p[:, 0]), acc(p.mean(1))
        print(f"{name:45s} plain {a1:.4f}  with mirror {a2:.4f}")
        model = name.split("_s")[0]
        if a2 > best.get(model, (0, None))[0]:
            best[model] = (a2, p, name)
    if "emotion" in best and "face_expression" in best:
        e, f = best["emotion"][1], best["face_expression"][1]
        print(f"\nensemble of {best['emotion'][2]} (plain) and {best['face_expression'][2]} "
              "(with mirror):")
        weights = np.round(np.arange(0.0, 1.01, 0.05), 2)
        for w in weights:
            print(f"  FaceExpressionNet weight {w:.2f}: {acc((1 - w) * e[:, 0] + w * f.mean(1)):.4f}")
        rng = np.random.default_rng(0)
        held, single = [], []
        for _ in range(200):
            idx = rng.permutation(n)
            a, b = idx[: n // 2], idx[n // 2:]
            w = max(weights, key=lambda w: acc((1 - w) * e[:, 0] + w * f.mean(1), a))
            held.append(acc((1 - w) * e[:, 0] + w * f.mean(1), b))
            single.append(acc(f.mean(1), b))
        print(f"  split-half: weight chosen on one half scores {np.mean(held):.4f} on the other "
              f"(FaceExpressionNet alone {np.mean(single):.4f})")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
