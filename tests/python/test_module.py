"""The Python module (python/mien_module.cpp): results equal to the CLI's, every kind of
input giving the same faces, errors with mien's messages, Model/Session against the test
vectors embedded in a model, and the GIL released while mien runs.
Run through tests/python/run.py (ctest: python_module)."""

import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import mien

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCENES = os.path.join(SOURCE, "tests", "data", "scenes")
FACES = os.path.join(SOURCE, "tests", "data", "faces")
WEIGHTS = os.path.join(SOURCE, "weights")
SCENE_FILES = sorted(os.path.join(SCENES, f) for f in os.listdir(SCENES) if f.endswith(".jpg"))


def cli():
    path = os.environ.get("MIEN_CLI") or os.path.join(os.environ.get("MIEN_BUILD_DIR", ""), "mien")
    if not path or not os.access(path, os.X_OK):
        pytest.skip("the mien command line is not built (target mien_cli)")
    return path


@pytest.fixture(scope="module")
def pipeline():
    return mien.Pipeline()


def ppm(rgb):
    """Binary PPM bytes of an HxWx3 uint8 array (a format independent of mien's arrays)."""
    h, w, _ = rgb.shape
    return b"P6\n%d %d\n255\n" % (w, h) + np.ascontiguousarray(rgb).tobytes()


def test_matches_cli(pipeline):
    """Pipeline().image_record == the object `mien image --json` prints, on every scene."""
    out = subprocess.run([cli(), "image", "--json", *SCENE_FILES], check=True,
                         capture_output=True, text=True).stdout
    records = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert [r["file"] for r in records] == SCENE_FILES
    for r in records:
        assert pipeline.image_record(r["file"]) == r
        assert pipeline.analyze(r["file"]) == r["faces"]
    assert sum(len(r["faces"]) for r in records) > 0


def test_matches_cli_options():
    """Options map to the CLI's: --fast --no-gender --no-age --threshold --tiles off."""
    f = os.path.join(SCENES, "faceapi_sample1.jpg")
    out = subprocess.run([cli(), "image", "--json", "--fast", "--no-gender", "--threshold", "0.6",
                          "--tiles", "off", f], check=True, capture_output=True, text=True).stdout
    p = mien.Pipeline(fast=True, gender=False, threshold=0.6, tiles="off")
    assert p.image_record(f) == json.loads(out)
    assert all("gender" not in face for face in json.loads(out)["faces"])
    assert all("age" in face for face in json.loads(out)["faces"])
    out = subprocess.run([cli(), "image", "--json", "--no-age", f],
                         check=True, capture_output=True, text=True).stdout
    p = mien.Pipeline(age=False)
    assert not p.has_age
    assert p.image_record(f) == json.loads(out)
    assert all("age" not in face and "gender" in face for face in json.loads(out)["faces"])
    out = subprocess.run([cli(), "image", "--json", "--age", os.path.join(WEIGHTS, "age.mien"), f],
                         check=True, capture_output=True, text=True).stdout
    assert mien.Pipeline(age=os.path.join(WEIGHTS, "age.mien")).image_record(f) == json.loads(out)
    with pytest.raises(ValueError, match="age must be"):
        mien.Pipeline(age=True)


def test_face_fields(pipeline):
    faces = pipeline.analyze(os.path.join(SCENES, "faceapi_sample1.jpg"))
    assert faces
    for face in faces:
        assert set(face) >= {"box", "score", "landmarks", "emotion", "gender", "age"}
        assert 0 < face["age"] < 100
        assert len(face["box"]) == 4 and len(face["landmarks"]) == 6
        assert list(face["emotion"]["scores"]) == pipeline.emotion_labels
        assert face["emotion"]["label"] in pipeline.emotion_labels
        assert face["gender"]["label"] in pipeline.gender_labels


def test_path_bytes_array_identical(pipeline, tmp_path):
    for f in SCENE_FILES:
        by_path = pipeline.analyze(f)
        with open(f, "rb") as fh:
            data = fh.read()
        rgb = mien.load_image(f)
        assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
        assert np.array_equal(mien.load_image(data), rgb)
        assert pipeline.analyze(data) == by_path
        assert pipeline.analyze(bytearray(data)) == by_path
        assert pipeline.analyze(memoryview(data)) == by_path
        assert pipeline.analyze(rgb) == by_path
        # Independent of mien's decoder: the same pixels as PPM bytes and file, a pathlib path.
        assert pipeline.analyze(ppm(rgb)) == by_path
        p = tmp_path / "x.ppm"
        p.write_bytes(ppm(rgb))
        assert pipeline.analyze(p) == by_path
        # A strided view (mirror of the mirror) and RGBA with opaque alpha.
        assert pipeline.analyze(rgb[:, ::-1][:, ::-1]) == by_path
        rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2)
        assert pipeline.analyze(rgba) == by_path
        assert pipeline.image_record(rgb, file=f) == pipeline.image_record(f)


def test_gray_array(pipeline):
    rgb = mien.load_image(os.path.join(SCENES, "faceapi_sample1.jpg"))
    gray = rgb[:, :, 1].copy()
    as_rgb = np.repeat(gray[:, :, None], 3, axis=2)
    assert pipeline.analyze(gray) == pipeline.analyze(as_rgb)
    assert pipeline.analyze(gray[:, :, None]) == pipeline.analyze(as_rgb)


def test_rgba_alpha_over_white(pipeline):
    rgba = np.zeros((64, 80, 4), np.uint8)
    rgba[:, :, 0] = 200
    rgba[:, :40, 3] = 255  # left half opaque red-ish, right half transparent -> white
    expected = np.zeros((64, 80, 3), np.uint8)
    expected[:, :40, 0] = 200
    expected[:, 40:] = 255
    assert pipeline.analyze(rgba) == pipeline.analyze(expected)


def test_image_errors(pipeline, tmp_path):
    missing = str(tmp_path / "missing.jpg")
    with pytest.raises(mien.Error, match="missing.jpg: cannot open image"):
        pipeline.analyze(missing)
    with pytest.raises(mien.Error, match="cannot decode image"):
        pipeline.analyze(b"this is not an image")
    with open(SCENE_FILES[0], "rb") as fh:
        truncated = fh.read()[:300]
    with pytest.raises(mien.Error):
        pipeline.analyze(truncated)
    assert issubclass(mien.Error, RuntimeError)
    with pytest.raises(ValueError, match="dtype uint8, not float32"):
        pipeline.analyze(np.zeros((32, 32, 3), np.float32))
    with pytest.raises(ValueError, match="dtype uint8"):
        pipeline.analyze(np.zeros((32, 32, 3), np.int64))
    with pytest.raises(ValueError, match=r"not shape \(32, 32, 2\)"):
        pipeline.analyze(np.zeros((32, 32, 2), np.uint8))
    with pytest.raises(ValueError, match="HxWx3"):
        pipeline.analyze(np.zeros((32,), np.uint8))
    with pytest.raises(ValueError, match="HxWx3"):
        pipeline.analyze(np.zeros((1, 32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="pixels"):
        pipeline.analyze(np.zeros((0, 32, 3), np.uint8))
    with pytest.raises(TypeError, match="expected an image"):
        pipeline.analyze(42)


def test_pipeline_errors(tmp_path):
    with pytest.raises(ValueError, match="fast"):
        mien.Pipeline(fast=True, emotion=os.path.join(WEIGHTS, "emotion.mien"))
    with pytest.raises(ValueError, match="threads"):
        mien.Pipeline(threads=0)
    with pytest.raises(ValueError, match="tiles"):
        mien.Pipeline(tiles="sometimes")
    with pytest.raises(mien.Error, match="nope.mien"):
        mien.Pipeline(detector=str(tmp_path / "nope.mien"))
    # A classifier where the detector belongs: mien says what is wrong.
    with pytest.raises(mien.Error):
        mien.Pipeline(detector=os.path.join(WEIGHTS, "emotion.mien"))


def test_pipeline_custom_models():
    """emotion=[...], detector=, gender= as the CLI's --emotion/--detector/--gender."""
    f = os.path.join(SCENES, "faceapi_sample1.jpg")
    w = lambda name: os.path.join(WEIGHTS, name)  # noqa: E731
    p = mien.Pipeline(emotion=[w("emotion.mien")], detector=w("blazeface.mien"),
                      gender=w("gender.mien"))
    assert p.emotion_models == 1
    assert p.analyze(f) == mien.Pipeline(fast=True).analyze(f)
    out = subprocess.run([cli(), "image", "--json", "--emotion",
                          w("emotion.mien") + "," + w("face_expression.mien"),
                          "--emotion-weights", "0.3,0.7", f],
                         check=True, capture_output=True, text=True).stdout
    p2 = mien.Pipeline(emotion=[w("emotion.mien"), w("face_expression.mien")],
                       emotion_weights=[0.3, 0.7])
    assert p2.image_record(f) == json.loads(out)


def test_classify_crops(pipeline):
    crops = sorted(os.path.join(FACES, f) for f in os.listdir(FACES) if f.endswith(".png"))
    probs = pipeline.classify_crops(crops)
    assert probs.shape == (len(crops), len(pipeline.emotion_labels))
    assert probs.dtype == np.float32
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    arrays = [mien.load_image(c) for c in crops]
    assert np.array_equal(pipeline.classify_crops(arrays), probs)
    same = [a for a in arrays if a.shape == arrays[0].shape]
    assert np.array_equal(pipeline.classify_crops(np.stack(same)),
                          pipeline.classify_crops(same))
    with pytest.raises(TypeError):
        pipeline.classify_crops(3)


def test_model_session_test_vectors():
    """Session.run reproduces the outputs embedded in the models (what `mien check` runs)."""
    for name in ("emotion.mien", "face_expression.mien", "gender.mien", "blazeface.mien"):
        model = mien.Model(os.path.join(WEIGHTS, name), test_vectors=True)
        vectors = model.test_vectors()
        assert vectors, name
        session = mien.Session(model)
        for inputs, outputs in vectors:
            got = session.run(inputs)  # a dict by input name -> a dict by output name
            assert set(got) == set(outputs)
            for k, ref in outputs.items():
                assert got[k].shape == ref.shape
                err = np.max(np.abs(got[k] - ref) / np.maximum(1.0, np.abs(ref)))
                assert err <= model.test_tolerance, (name, k, err)
        if len(model.inputs) == 1 and len(model.outputs) == 1:
            inputs, outputs = vectors[0]
            (x,) = inputs.values()
            (y,) = outputs.values()
            assert np.allclose(session.run(x), y, atol=1e-4)
            assert np.allclose(session.run([x])[0], y, atol=1e-4)
            assert np.allclose(model.session(threads=2).run(x), y, atol=1e-4)


def test_model_io_and_errors(tmp_path):
    model = mien.Model(os.path.join(WEIGHTS, "emotion.mien"))
    assert model.inputs == [{"name": "input", "shape": [None, 64, 64, 1]}]
    assert [o["shape"] for o in model.outputs] == [[None, 1, 1, 7]]
    with pytest.raises(ValueError, match="test_vectors=True"):
        model.test_vectors()
    session = mien.Session(model)
    x = np.zeros((2, 64, 64, 1), np.float32)
    y = session.run(x)
    assert y.shape == (2, 1, 1, 7) and np.allclose(y.sum(axis=3), 1, atol=1e-5)
    assert np.array_equal(session.run(x[0]), y[:1])  # HxWxC = batch of one
    with pytest.raises(ValueError, match="float32"):
        session.run(x.astype(np.float64))
    with pytest.raises(mien.Error, match="64"):
        session.run(np.zeros((1, 32, 32, 1), np.float32))
    with pytest.raises(ValueError, match="no input named"):
        session.run({"image": x})
    # Corrupt files: truncated, and text.
    with open(os.path.join(WEIGHTS, "emotion.mien"), "rb") as fh:
        data = fh.read()
    bad = tmp_path / "truncated.mien"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(mien.Error, match="truncated.mien"):
        mien.Model(bad)
    text = tmp_path / "text.mien"
    text.write_text("hello")
    with pytest.raises(mien.Error, match="text.mien"):
        mien.Model(str(text))
    with pytest.raises(mien.Error, match="missing.mien"):
        mien.Model(str(tmp_path / "missing.mien"))


def test_gil_released(pipeline):
    """Two threads analyse at once while a third keeps counting: the counter must advance
    during the analyses (it could not if mien held the GIL). Counts only, no clocks."""
    image = mien.load_image(os.path.join(SCENES, "faceapi_sample1.jpg"))
    expected = pipeline.analyze(image)
    stop = threading.Event()
    ticks = [0]
    deltas, results, errors = [], [], []

    def count():
        while not stop.is_set():
            ticks[0] += 1

    def analyse():
        try:
            for _ in range(3):
                before = ticks[0]
                r = pipeline.analyze(image)
                deltas.append(ticks[0] - before)
                results.append(r)
        except Exception as e:  # reported below
            errors.append(e)

    counter = threading.Thread(target=count)
    workers = [threading.Thread(target=analyse) for _ in range(2)]
    counter.start()
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    stop.set()
    counter.join()
    assert not errors
    assert len(results) == 6 and all(r == expected for r in results)
    # With the GIL held the counter could not move during a call (only, rarely, between
    # the snapshot and the call); released, it moves in most calls. One is enough here:
    # under heavy load the counter thread may not be scheduled during every call.
    assert len(deltas) == 6 and max(deltas) > 0, deltas


def test_session_releases_gil():
    model = mien.Model(os.path.join(WEIGHTS, "face_expression.mien"))
    session = model.session()
    (inp,) = model.inputs
    shape = [1] + [d or 112 for d in inp["shape"][1:]]
    shape[0] = 16  # long enough a call for the counter thread to wake up
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    stop = threading.Event()
    ticks = [0]
    deltas = []

    def count():
        while not stop.is_set():
            ticks[0] += 1

    counter = threading.Thread(target=count)
    counter.start()
    try:
        for _ in range(6):
            before = ticks[0]
            session.run(x)
            deltas.append(ticks[0] - before)
    finally:
        stop.set()
        counter.join()
    assert max(deltas) > 0, deltas


def test_video(pipeline, tmp_path):
    """analyze_video gives the timeline `mien video --json` writes."""
    import shutil

    if not shutil.which("ffmpeg"):
        pytest.skip("no ffmpeg")
    video = str(tmp_path / "clip.mp4")
    subprocess.run(["ffmpeg", "-v", "error", "-loop", "1", "-i",
                    os.path.join(SCENES, "faceapi_sample1.jpg"), "-t", "1", "-r", "10",
                    "-vf", "scale=320:-2", "-pix_fmt", "yuv420p", video], check=True)
    v = pipeline.analyze_video(video, fps=5)
    assert v["file"] == video and v["width"] == 320 and v["frames"] == 10
    assert v["frames_analyzed"] == 5 and v["decoding_errors"] == 0
    assert v["label"] in pipeline.emotion_labels
    assert v["timeline"] and v["timeline"][0]["type"] == "emotion"
    out = str(tmp_path / "clip.json")
    subprocess.run([cli(), "video", "--quiet", "--fps", "5", "--threads", "1", "--json", out,
                    video], check=True, capture_output=True)
    with open(out) as fh:
        assert v["timeline"] == json.load(fh)
    with pytest.raises(mien.Error):
        pipeline.analyze_video(str(tmp_path / "missing.mp4"))
    with pytest.raises(ValueError):
        pipeline.analyze_video(video, fps=5, every=2)


def test_session_shared_by_threads():
    """One Session used by several threads at once: calls take turns, results unchanged."""
    model = mien.Model(os.path.join(WEIGHTS, "emotion.mien"))
    session = mien.Session(model)
    rng = np.random.default_rng(1)
    xs = [rng.random((4, 64, 64, 1), dtype=np.float32) for _ in range(4)]
    expected = [session.run(x) for x in xs]
    got, errors = {}, []

    def work(k):
        try:
            for i in range(5):
                got[(k, i)] = session.run(xs[k])
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(got) == 20
    for (k, _), y in got.items():
        assert np.array_equal(y, expected[k])


def test_installed_package(tmp_path, pipeline):
    """`cmake --install` of python/ gives an importable package (the default models inside)."""
    build = os.environ.get("MIEN_BUILD_DIR", "")
    script = os.path.join(build, "python", "cmake_install.cmake")
    if not os.path.exists(script):
        pytest.skip("no build folder with python/cmake_install.cmake (MIEN_BUILD_DIR)")
    prefix = tmp_path / "prefix"
    subprocess.run(["cmake", f"-DCMAKE_INSTALL_PREFIX={prefix}", "-P", script], check=True,
                   capture_output=True)
    site = [str(p.parent.parent) for p in prefix.rglob("mien/__init__.py")]
    assert len(site) == 1 and "site-packages" in site[0]
    photo = os.path.join(SCENES, "faceapi_sample1.jpg")
    code = ("import json, mien; print(json.dumps(mien.Pipeline().analyze(%r))); "
            "print(mien.__file__)" % photo)
    env = dict(os.environ, PYTHONPATH=site[0])
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, env=env, cwd=str(tmp_path)).stdout.splitlines()
    assert json.loads(out[0]) == pipeline.analyze(photo)
    assert out[1].startswith(site[0])
