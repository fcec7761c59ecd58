// The Python module `mien._mien` (pybind11), re-exported by the package `mien`
// (python/mien/__init__.py): the face pipeline (Pipeline: analyze, classify_crops,
// analyze_video) and any .mien graph (Model, Session). One translation unit, linked with
// mien::impl (the pipeline's entry points are compiled once, in src/mien_impl.cpp).
//
// Results are the CLI's JSON, not a second description of it: a face is
// face_json() (include/mien/io/faces.hpp) turned into Python objects, a video's timeline is
// timeline_json() (io/video_results.hpp), so a field added there appears here too.
// Every call into the engine runs with the GIL released; mien::Error becomes mien.Error
// (a RuntimeError) with mien's message, bad arguments ValueError or TypeError.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "mien/io/faces.hpp"
#include "mien/io/video_results.hpp"
#include "mien/model/model.hpp"
#include "mien/model/session.hpp"
#include "mien/video/frames.hpp"
#include "mien/video/video_analyzer.hpp"
#include "mien/vision/image.hpp"
#include "mien/vision/pipeline.hpp"

namespace py = pybind11;

namespace {

// nlohmann JSON -> Python objects through the text the CLI prints: the same numbers (the
// CLI's rounding) and the same key order.
// Never destroyed: a static py::object would be released after the interpreter is gone.
py::object json_text_to_python(const std::string& text) {
  static const py::object* loads = new py::object(py::module_::import("json").attr("loads"));
  return (*loads)(text);
}

py::object to_python(const mien::Json& j) {
  return json_text_to_python(mien::json_text(j));
}

bool is_path(const py::handle& x) {
  return py::isinstance<py::str>(x) || py::hasattr(x, "__fspath__");
}

std::string path_of(const py::handle& x) {
  return py::str(py::module_::import("os").attr("fsdecode")(x)).cast<std::string>();
}

// A uint8 HxWx3 (RGB), HxWx4 (RGBA: alpha over white, as for decoded files), HxW or HxWx1
// (gray) array as an Image. Copied with the GIL held (the array may change afterwards).
mien::Image image_from_array(const py::array& a) {
  if (!py::isinstance<py::array_t<uint8_t>>(a) || a.dtype().kind() != 'u' ||
      a.dtype().itemsize() != 1)
    throw py::value_error("an image array must have dtype uint8, not " +
                          std::string(py::str(a.dtype())));
  const int channels = a.ndim() == 2 ? 1 : a.ndim() == 3 ? int(a.shape(2)) : 0;
  if (channels != 1 && channels != 3 && channels != 4) {
    std::string shape = "(";
    for (py::ssize_t i = 0; i < a.ndim(); ++i)
      shape += (i ? ", " : "") + std::to_string(a.shape(i));
    throw py::value_error(
        "an image array must be HxWx3 (RGB), HxWx4 (RGBA), HxW or HxWx1 "
        "(gray), not shape " +
        shape + (a.ndim() == 1 ? ",)" : ")"));
  }
  const py::ssize_t h = a.shape(0), w = a.shape(1);
  if (h <= 0 || w <= 0 || h > INT_MAX || w > INT_MAX || int64_t(h) * w > MIEN_MAX_IMAGE_PIXELS)
    throw py::value_error("an image array must have between 1 and " +
                          std::to_string(MIEN_MAX_IMAGE_PIXELS) + " pixels, not " +
                          std::to_string(h) + "x" + std::to_string(w));
  // C-contiguous copy (the array may be a strided view).
  const auto c = py::array_t<uint8_t, py::array::c_style>::ensure(a);
  if (!c) throw py::value_error("cannot read the image array");
  const uint8_t* src = c.data();
  mien::Image img{int(w), int(h)};
  const std::size_t n = std::size_t(w) * std::size_t(h);
  if (channels == 3) {
    std::memcpy(img.rgb.data(), src, n * 3);
  } else if (channels == 1) {
    for (std::size_t i = 0; i < n; ++i)
      img.rgb[3 * i] = img.rgb[3 * i + 1] = img.rgb[3 * i + 2] = src[i];
  } else {
    mien::detail::orient_into(src, int(w), int(h), 4, 1, img);
  }
  return img;
}

// A path (str / os.PathLike), encoded bytes (bytes, bytearray, memoryview) or an array.
mien::Image load_any(const py::handle& x, const mien::DecodeLimits& limits) {
  if (is_path(x)) {
    const std::string path = path_of(x);
    py::gil_scoped_release release;
    return mien::load_image(path, limits);
  }
  if (py::isinstance<py::bytes>(x) || py::isinstance<py::bytearray>(x) ||
      py::isinstance<py::memoryview>(x)) {
    const std::string data =
        (py::isinstance<py::bytes>(x) ? py::reinterpret_borrow<py::object>(x)
                                      : py::module_::import("builtins").attr("bytes")(x))
            .cast<std::string>();
    py::gil_scoped_release release;
    return mien::decode_image(reinterpret_cast<const uint8_t*>(data.data()), data.size(), "<bytes>",
                              limits);
  }
  if (py::isinstance<py::array>(x)) return image_from_array(py::reinterpret_borrow<py::array>(x));
  throw py::type_error(
      "expected an image: a path (str or os.PathLike), encoded bytes or a "
      "uint8 numpy array, not " +
      std::string(py::str(py::type::handle_of(x).attr("__name__"))));
}

std::vector<std::string> path_list(const py::handle& x, const char* what) {
  std::vector<std::string> out;
  if (is_path(x)) {
    out.push_back(path_of(x));
  } else {
    if (!py::isinstance<py::sequence>(x))
      throw py::type_error(std::string(what) + " must be a path or a list of paths");
    for (const py::handle& item : x) {
      if (!is_path(item))
        throw py::type_error(std::string(what) + " must be a path or a list of paths");
      out.push_back(path_of(item));
    }
  }
  if (out.empty()) throw py::value_error(std::string(what) + " needs at least one model path");
  return out;
}

class PyPipeline {
 public:
  PyPipeline(const py::object& emotion, const py::object& detector, const py::object& gender,
             const py::object& age, bool fast, int threads, const py::object& emotion_weights,
             const py::object& threshold, double min_face, const std::string& tiles, bool zoom_out,
             bool tta, int64_t max_pixels) {
    if (threads < 1 || threads > 256) throw py::value_error("threads must be 1..256");
    if (fast && !emotion.is_none())
      throw py::value_error("fast picks the built-in emotion model: give fast or emotion");
    if (!emotion_weights.is_none() && emotion.is_none())
      throw py::value_error("emotion_weights needs emotion (the default ensemble has its own)");
    if (max_pixels < 1 || max_pixels > MIEN_MAX_IMAGE_PIXELS)
      throw py::value_error("max_pixels must be 1.." + std::to_string(MIEN_MAX_IMAGE_PIXELS));
    limits_.max_pixels = max_pixels;
    opt_.detect.threads = threads;
    if (!threshold.is_none()) {
      const double t = threshold.cast<double>();
      if (!(t >= 0 && t <= 1)) throw py::value_error("threshold must be 0..1");
      opt_.detect.threshold = float(t);
    }
    if (!(min_face >= 0 && min_face <= 1e6)) throw py::value_error("min_face must be 0..1e6");
    opt_.detect.min_face = float(min_face);
    if (tiles == "auto")
      opt_.detect.tiling = mien::TileMode::Auto;
    else if (tiles == "on")
      opt_.detect.tiling = mien::TileMode::On;
    else if (tiles == "off")
      opt_.detect.tiling = mien::TileMode::Off;
    else
      throw py::value_error("tiles must be 'auto', 'on' or 'off'");
    opt_.detect.zoom_out = zoom_out;
    opt_.flip_tta = tta;
    // gender, age: None = built-in, False = none, a path = that model.
    auto optional_model = [](const py::object& o, const char* what, bool& off,
                             std::optional<std::string>& path) {
      if (py::isinstance<py::bool_>(o)) {
        if (o.cast<bool>())
          throw py::value_error(std::string(what) +
                                " must be None (built-in), False (none) or a model path");
        off = true;
      } else if (!o.is_none()) {
        if (!is_path(o))
          throw py::type_error(std::string(what) + " must be None, False or a model path");
        path = path_of(o);
      }
    };
    bool no_gender = false, no_age = false;
    std::optional<std::string> gender_path, age_path;
    optional_model(gender, "gender", no_gender, gender_path);
    optional_model(age, "age", no_age, age_path);
    opt_.gender = !no_gender;
    opt_.age = !no_age;
    std::optional<std::string> detector_path;
    if (!detector.is_none()) {
      if (!is_path(detector)) throw py::type_error("detector must be a model path");
      detector_path = path_of(detector);
    }
    std::vector<std::string> emotion_paths;
    if (!emotion.is_none()) emotion_paths = path_list(emotion, "emotion");
    std::vector<float> weights;
    if (!emotion_weights.is_none()) {
      for (const py::handle& w : emotion_weights) {
        const double v = w.cast<double>();
        if (!(v >= 0 && v <= 1e6)) throw py::value_error("emotion_weights must be >= 0");
        weights.push_back(float(v));
      }
      if (weights.size() != emotion_paths.size())
        throw py::value_error("emotion_weights has " + std::to_string(weights.size()) +
                              " weights for " + std::to_string(emotion_paths.size()) + " models");
    }
    py::gil_scoped_release release;
    // As the CLI's make_pipeline_models (tools/cli/pipeline_options.hpp).
    mien::PipelineModels defaults;
    if (!detector_path || emotion_paths.empty() || (!gender_path && !no_gender) ||
        (!age_path && !no_age))
      defaults = mien::Pipeline::default_models("", fast);
    mien::PipelineModels m;
    m.detector = detector_path ? mien::Model::load(*detector_path) : defaults.detector;
    if (!emotion_paths.empty()) {
      for (const std::string& p : emotion_paths) m.emotion.push_back(mien::Model::load(p));
      m.emotion_weights = weights;
    } else {
      m.emotion = defaults.emotion;
      m.emotion_weights = defaults.emotion_weights;
      m.emotion_flip = defaults.emotion_flip;
      m.mirror_margin = defaults.mirror_margin;
    }
    if (!no_gender) m.gender = gender_path ? mien::Model::load(*gender_path) : defaults.gender;
    if (!no_age) m.age = age_path ? mien::Model::load(*age_path) : defaults.age;
    pipeline_ = std::make_shared<const mien::Pipeline>(m);
  }

  py::list analyze(const py::handle& x) const {
    const mien::Image img = load_any(x, limits_);
    std::vector<mien::FaceResult> faces;
    {
      py::gil_scoped_release release;
      faces = pipeline_->analyze(img, opt_);
    }
    py::list out;
    for (const mien::FaceResult& f : faces) out.append(to_python(mien::face_json(f, *pipeline_)));
    return out;
  }

  // The object `mien image --json` prints for one image.
  py::object image_record(const py::handle& x, const py::object& file) const {
    const mien::Image img = load_any(x, limits_);
    std::string name =
        file.is_none() ? (is_path(x) ? path_of(x) : std::string("-")) : path_of(file);
    std::vector<mien::FaceResult> faces;
    {
      py::gil_scoped_release release;
      faces = pipeline_->analyze(img, opt_);
    }
    return to_python(mien::image_json(name, img, faces, *pipeline_));
  }

  py::array_t<float> classify_crops(const py::handle& batch) const {
    std::vector<mien::Image> crops;
    if (py::isinstance<py::array>(batch) && py::reinterpret_borrow<py::array>(batch).ndim() == 4) {
      const auto a = py::reinterpret_borrow<py::array>(batch);
      for (py::ssize_t i = 0; i < a.shape(0); ++i)
        crops.push_back(image_from_array(a[py::int_(i)].cast<py::array>()));
    } else if (py::isinstance<py::sequence>(batch) && !py::isinstance<py::str>(batch) &&
               !py::isinstance<py::bytes>(batch)) {
      for (const py::handle& item : batch) crops.push_back(load_any(item, limits_));
    } else {
      throw py::type_error(
          "classify_crops takes a list of images (paths, bytes or arrays) or "
          "an NxHxWx3 uint8 array");
    }
    std::vector<const mien::Image*> ptrs;
    for (const mien::Image& c : crops) ptrs.push_back(&c);
    std::vector<mien::Probabilities> probs;
    {
      py::gil_scoped_release release;
      probs = pipeline_->classify_crops(ptrs, opt_.flip_tta, opt_.detect.threads);
    }
    const std::size_t labels = pipeline_->emotion_labels().size();
    py::array_t<float> out({py::ssize_t(probs.size()), py::ssize_t(labels)});
    auto r = out.mutable_unchecked<2>();
    for (std::size_t i = 0; i < probs.size(); ++i)
      for (std::size_t k = 0; k < labels; ++k) r(py::ssize_t(i), py::ssize_t(k)) = probs[i][k];
    return out;
  }

  // What `mien video --json` writes (the per-second timeline), with the clip's facts.
  py::dict analyze_video(const py::handle& path, const py::object& fps, const py::object& every,
                         const py::object& threads, bool strict, const std::string& ffmpeg) const {
    if (!is_path(path)) throw py::type_error("analyze_video takes a video path");
    const std::string file = path_of(path);
    mien::VideoOptions vo;
    vo.pipeline = opt_;
    vo.threads = threads.is_none() ? opt_.detect.threads : threads.cast<int>();
    if (vo.threads < 1 || vo.threads > 256) throw py::value_error("threads must be 1..256");
    vo.pipeline.detect.threads = vo.threads;
    if (!fps.is_none() && !every.is_none())
      throw py::value_error("fps and every cannot be combined");
    if (!fps.is_none()) {
      const double f = fps.cast<double>();
      if (!(f >= 0.01 && f <= 1000)) throw py::value_error("fps must be 0.01..1000");
      vo.sampler = mien::FrameSampler::per_second(f);
    }
    if (!every.is_none()) {
      const int n = every.cast<int>();
      if (n < 1 || n > 1000000) throw py::value_error("every must be 1..1000000");
      vo.sampler = mien::FrameSampler::every(n);
    }
    std::string timeline;
    mien::VideoInfo info;
    int64_t decoded = 0, analyzed = 0;
    int decode_errors = 0, label = -1;
    {
      py::gil_scoped_release release;
      mien::VideoReaderOptions ro;
      ro.ffmpeg = ffmpeg;
      ro.strict = strict;
      mien::VideoReader reader(file, ro);
      info = reader.info();
      mien::VideoAnalyzer analyzer(*pipeline_, vo);
      analyzer.run(reader);
      decode_errors = reader.decode_errors();
      timeline = mien::timeline_json(analyzer.timeline(), *pipeline_, decode_errors);
      decoded = analyzer.frames_decoded();
      analyzed = analyzer.frames_analyzed();
      const mien::TrackSummary* main = analyzer.summary().track(analyzer.main_track());
      label = main ? main->dominant() : -1;
    }
    py::dict d;
    d["file"] = file;
    d["width"] = info.width;
    d["height"] = info.height;
    d["fps"] = info.fps;
    d["frames"] = decoded;
    d["frames_analyzed"] = analyzed;
    d["decoding_errors"] = decode_errors;
    d["label"] = label >= 0 ? py::object(py::str(pipeline_->emotion_labels()[std::size_t(label)]))
                            : py::object(py::none());
    d["timeline"] = json_text_to_python(timeline);
    return d;
  }

  const mien::Pipeline& pipeline() const { return *pipeline_; }
  int threads() const { return opt_.detect.threads; }

 private:
  std::shared_ptr<const mien::Pipeline> pipeline_;
  mien::PipelineOptions opt_;
  mien::DecodeLimits limits_;
};

py::list shape_list(int n, int h, int w, int c) {
  py::list l;
  for (int v : {n, h, w, c}) l.append(v < 0 ? py::object(py::none()) : py::object(py::int_(v)));
  return l;
}

py::array_t<float> to_array(const mien::ConstTensorView& t) {
  py::array_t<float> a({t.shape.n, t.shape.h, t.shape.w, t.shape.c});
  std::memcpy(a.mutable_data(), t.data, sizeof(float) * std::size_t(t.shape.size()));
  return a;
}

py::array_t<float> to_array(const mien::Tensor& t) {
  return to_array(t.view());
}

struct PyModel {
  std::shared_ptr<const mien::Model> model;

  PyModel(const py::handle& path, bool test_vectors) {
    if (!is_path(path)) throw py::type_error("Model takes a .mien file path");
    const std::string p = path_of(path);
    mien::ModelOptions o;
    o.test_vectors = test_vectors;
    py::gil_scoped_release release;
    model = std::make_shared<const mien::Model>(mien::Model::load(p, o));
  }

  py::list inputs() const {
    py::list l;
    for (const mien::InputDef& in : model->graph().inputs) {
      py::dict d;
      d["name"] = in.name;
      d["shape"] = shape_list(-1, in.h, in.w, in.c);
      l.append(d);
    }
    return l;
  }

  py::list outputs() const {
    // Shapes for the nominal input (dynamic sizes at 256); any batch size.
    std::vector<mien::Shape> shapes;
    try {
      shapes = model->infer_shapes(model->nominal_input_shapes());
    } catch (const mien::Error&) {
    }
    py::list l;
    const auto& names = model->graph().outputs;
    for (std::size_t i = 0; i < names.size(); ++i) {
      py::dict d;
      d["name"] = names[i];
      const int v = model->output_values().at(i);
      if (std::size_t(v) < shapes.size())
        d["shape"] = shape_list(-1, shapes[std::size_t(v)].h, shapes[std::size_t(v)].w,
                                shapes[std::size_t(v)].c);
      else
        d["shape"] = py::none();
      l.append(d);
    }
    return l;
  }

  py::list test_vectors() const {
    const mien::GraphDef& g = model->graph();
    if (g.tests.size() < model->test_vector_count())
      throw py::value_error(
          "the test vectors were not loaded: use mien.Model(path, "
          "test_vectors=True)");
    py::list l;
    for (const mien::TestVector& tv : g.tests) {
      py::dict in, out;
      for (const auto& [name, t] : tv.inputs) in[py::str(name)] = to_array(t);
      for (const auto& [name, t] : tv.outputs) out[py::str(name)] = to_array(t);
      l.append(py::make_tuple(in, out));
    }
    return l;
  }
};

mien::Tensor tensor_from(const py::handle& x, const std::string& name) {
  if (!py::isinstance<py::array>(x))
    throw py::type_error("input '" + name + "' must be a numpy array");
  const auto a = py::reinterpret_borrow<py::array>(x);
  if (a.dtype().kind() != 'f' || a.dtype().itemsize() != 4)
    throw py::value_error("input '" + name + "' must have dtype float32, not " +
                          std::string(py::str(a.dtype())));
  if (a.ndim() != 3 && a.ndim() != 4)
    throw py::value_error("input '" + name + "' must be NxHxWxC or HxWxC (NHWC), not " +
                          std::to_string(a.ndim()) + "-D");
  const int off = a.ndim() == 4 ? 0 : 1;
  auto dim = [&](int i) -> int {
    const py::ssize_t v = i < off ? 1 : a.shape(i - off);
    if (v <= 0 || v > INT_MAX) throw py::value_error("input '" + name + "' has an empty dimension");
    return int(v);
  };
  const mien::Shape shape(dim(0), dim(1), dim(2), dim(3));
  const auto c = py::array_t<float, py::array::c_style>::ensure(a);
  return mien::Tensor(shape, c.data());
}

struct PySession {
  std::shared_ptr<const mien::Model> model;
  std::unique_ptr<mien::Session> session;
  std::mutex mutex;  // a Session runs one call at a time

  PySession(const PyModel& m, int threads) : model(m.model) {
    if (threads < 1 || threads > 256) throw py::value_error("threads must be 1..256");
    session = std::make_unique<mien::Session>(*model, threads);
  }

  // One array (a single-input model) -> one array (or a list for several outputs); a list
  // -> a list; a dict by input name -> a dict by output name.
  py::object run(const py::handle& x) {
    const mien::GraphDef& g = model->graph();
    std::vector<mien::Tensor> inputs;
    enum { One, List, Dict } kind = One;
    if (py::isinstance<py::dict>(x)) {
      kind = Dict;
      const auto d = py::reinterpret_borrow<py::dict>(x);
      for (const mien::InputDef& in : g.inputs) {
        if (!d.contains(in.name)) throw py::value_error("no input named '" + in.name + "'");
        inputs.push_back(tensor_from(d[py::str(in.name)], in.name));
      }
      if (d.size() != g.inputs.size())
        throw py::value_error("the model has " + std::to_string(g.inputs.size()) + " inputs, not " +
                              std::to_string(d.size()));
    } else if (py::isinstance<py::list>(x) || py::isinstance<py::tuple>(x)) {
      kind = List;
      const auto s = py::reinterpret_borrow<py::sequence>(x);
      if (s.size() != g.inputs.size())
        throw py::value_error("the model has " + std::to_string(g.inputs.size()) + " inputs, not " +
                              std::to_string(s.size()));
      for (std::size_t i = 0; i < s.size(); ++i)
        inputs.push_back(tensor_from(s[i], g.inputs[i].name));
    } else {
      if (g.inputs.size() != 1)
        throw py::value_error("the model has " + std::to_string(g.inputs.size()) +
                              " inputs: pass a list or a dict by name");
      inputs.push_back(tensor_from(x, g.inputs[0].name));
    }
    // The lock is taken with the GIL released (a thread holding the GIL must never wait for
    // it: the holder needs the GIL to copy its outputs out) and kept until the outputs,
    // which live in the session, are copied below.
    std::unique_lock<std::mutex> lock(mutex, std::defer_lock);
    const std::vector<mien::ConstTensorView>* outs = nullptr;
    {
      py::gil_scoped_release release;
      lock.lock();
      std::vector<mien::ConstTensorView> views;
      for (const mien::Tensor& t : inputs) views.push_back(t.view());
      outs = &session->run(views);
    }
    if (kind == Dict) {
      py::dict d;
      for (std::size_t i = 0; i < outs->size(); ++i)
        d[py::str(g.outputs[i])] = to_array((*outs)[i]);
      return d;
    }
    if (kind == One && outs->size() == 1) return to_array((*outs)[0]);
    py::list l;
    for (const auto& o : *outs) l.append(to_array(o));
    return l;
  }
};

}  // namespace

PYBIND11_MODULE(_mien, m) {
  m.doc() = "mien: face detection, emotion, gender and age on the CPU (C++ engine)";
  py::register_exception<mien::Error>(m, "Error", PyExc_RuntimeError);

  m.def(
      "load_image",
      [](const py::handle& x, int64_t max_pixels) {
        mien::DecodeLimits limits;
        limits.max_pixels = max_pixels;
        const mien::Image img = load_any(x, limits);
        py::array_t<uint8_t> a({py::ssize_t(img.height), py::ssize_t(img.width), py::ssize_t(3)});
        std::memcpy(a.mutable_data(), img.rgb.data(), img.rgb.size());
        return a;
      },
      py::arg("image"), py::arg("max_pixels") = int64_t(MIEN_DEFAULT_MAX_PIXELS),
      "Decodes an image (a path or encoded bytes) as mien does: a uint8 HxWx3 RGB array "
      "(EXIF orientation applied, alpha over white)");

  py::class_<PyPipeline>(m, "Pipeline",
                         "Finds every face in a photo and classifies its emotion and gender.\n"
                         "Default: the models built into the module. Thread-safe; the GIL is "
                         "released while it runs.")
      .def(py::init<const py::object&, const py::object&, const py::object&, const py::object&,
                    bool, int, const py::object&, const py::object&, double, const std::string&,
                    bool, bool, int64_t>(),
           py::kw_only(), py::arg("emotion") = py::none(), py::arg("detector") = py::none(),
           py::arg("gender") = py::none(), py::arg("age") = py::none(), py::arg("fast") = false,
           py::arg("threads") = 1, py::arg("emotion_weights") = py::none(),
           py::arg("threshold") = py::none(), py::arg("min_face") = 0.0, py::arg("tiles") = "auto",
           py::arg("zoom_out") = true, py::arg("tta") = false,
           py::arg("max_pixels") = int64_t(MIEN_DEFAULT_MAX_PIXELS),
           "emotion: a .mien path or a list (an ensemble; emotion_weights); detector: a path; "
           "gender, age: a path, None (built-in) or False (none); fast: the single built-in "
           "emotion model; threads: per call; threshold, min_face, tiles ('auto'/'on'/'off'), "
           "zoom_out, tta, max_pixels: as the CLI's options")
      .def("analyze", &PyPipeline::analyze, py::arg("image"),
           "Faces in an image (a path, encoded bytes, or a uint8 HxWx3 RGB / HxWx4 RGBA / HxW "
           "gray array): a list of dicts as in `mien image --json` (box, score, landmarks, "
           "emotion, gender, ...)")
      .def("image_record", &PyPipeline::image_record, py::arg("image"),
           py::arg("file") = py::none(),
           "The object `mien image --json` prints for the image: file, width, height, faces")
      .def("classify_crops", &PyPipeline::classify_crops, py::arg("crops"),
           "Emotion probabilities of face crops (a list of images or an NxHxWx3 uint8 array): an "
           "N x len(emotion_labels) float32 array")
      .def("analyze_video", &PyPipeline::analyze_video, py::arg("path"), py::kw_only(),
           py::arg("fps") = py::none(), py::arg("every") = py::none(),
           py::arg("threads") = py::none(), py::arg("strict") = false, py::arg("ffmpeg") = "ffmpeg",
           "Tracks faces through a video (decoded by ffmpeg): a dict with file, width, height, "
           "fps, frames, frames_analyzed, decoding_errors, label (the main face's dominant "
           "emotion or None) and timeline (what `mien video --json` writes)")
      .def_property_readonly("emotion_labels",
                             [](const PyPipeline& p) { return p.pipeline().emotion_labels(); })
      .def_property_readonly("gender_labels",
                             [](const PyPipeline& p) { return p.pipeline().gender_labels(); })
      .def_property_readonly("has_gender",
                             [](const PyPipeline& p) { return p.pipeline().has_gender(); })
      .def_property_readonly("has_age", [](const PyPipeline& p) { return p.pipeline().has_age(); })
      .def_property_readonly("emotion_models",
                             [](const PyPipeline& p) { return p.pipeline().emotion_models(); })
      .def_property_readonly("threads", &PyPipeline::threads);

  py::class_<PyModel>(m, "Model", "A .mien graph, loaded once; run it through a Session.")
      .def(py::init<const py::handle&, bool>(), py::arg("path"), py::arg("test_vectors") = false)
      .def_property_readonly("inputs", &PyModel::inputs,
                             "[{'name', 'shape': [N, H, W, C]}] (None: any size)")
      .def_property_readonly("outputs", &PyModel::outputs,
                             "[{'name', 'shape'}] for the nominal input size")
      .def_property_readonly("origin", [](const PyModel& pm) { return pm.model->origin(); })
      .def_property_readonly(
          "isa", [](const PyModel& pm) { return std::string(mien::isa_name(pm.model->isa())); })
      .def_property_readonly(
          "test_tolerance", [](const PyModel& pm) { return pm.model->graph().test_tolerance; },
          "largest relative error `mien check` accepts on the test vectors")
      .def_property_readonly("parameters", [](const PyModel& pm) { return pm.model->parameters(); })
      .def("test_vectors", &PyModel::test_vectors,
           "The embedded test vectors (needs test_vectors=True): [(inputs, outputs)] as dicts of "
           "float32 NHWC arrays")
      .def(
          "session",
          [](const PyModel& pm, int threads) { return std::make_unique<PySession>(pm, threads); },
          py::arg("threads") = 1);

  py::class_<PySession>(m, "Session", "Runs a Model (one call at a time; the GIL is released).")
      .def(py::init<const PyModel&, int>(), py::arg("model"), py::arg("threads") = 1)
      .def("run", &PySession::run, py::arg("inputs"),
           "A float32 NHWC array (single input), a list or a dict by input name -> the output "
           "array (or a list / a dict by output name)");
}
