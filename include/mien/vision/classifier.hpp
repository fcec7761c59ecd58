// Face classifier (emotion, gender, ...): crops each face as the model's metadata says,
// runs it through the model, and returns one probability vector per face in the model's
// own label order (model.labels). An age model (model.task "age", model.labels ["age"]) runs
// the same way: its "vector" is one value, the age in years, and the mirror view averages
// the two ages.
//
// Each face runs alone (batch 1, or 2 with its mirror image): with several threads, faces
// are spread across threads, which beats splitting the small 64x64 layers of one batch,
// and a face's scores never depend on the other faces or on the thread count. Batch 1 is
// no slower per face than a batch of 5 (its activations stay in cache).
//
// Metadata: model.labels, input.* (model_input.hpp), and the crop (face_crop.hpp):
// crop.scale (window side as a multiple of the detector box's longer side; default 1.0),
// crop.shift_y (window centre below the box centre, in box heights; default 0),
// crop.aspect (width / height; default 1), crop.align ("eyes": rotate so the eyes are
// level; default "none"), crop.fill ("edge": replicate the border where the window leaves
// the photo; default "black"). weights/README.md gives the measurements behind each value.
#pragma once

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mien/core/parallel.hpp"
#include "mien/model/session.hpp"
#include "mien/vision/detection.hpp"
#include "mien/vision/face_crop.hpp"
#include "mien/vision/image.hpp"
#include "mien/vision/model_checks.hpp"
#include "mien/vision/model_input.hpp"

namespace mien {

using Probabilities = std::vector<float>;

// What a classifier reads of a face: the crop, its mirror image, or the mean of both
// (test-time augmentation).
enum class FaceView { Plain, Mirror, Both };

inline FaceView view_of(bool flip) {
  return flip ? FaceView::Both : FaceView::Plain;
}

inline int argmax(const Probabilities& p) {
  return p.empty() ? -1 : int(std::max_element(p.begin(), p.end()) - p.begin());
}

class FaceClassifier {
 public:
  explicit FaceClassifier(Model model) : model_(model), input_(InputSpec::from_model(model)) {
    try {
      check_classifier_metadata(model);  // task, labels, crop.* (model_checks.hpp)
      const Metadata& m = model.metadata();
      labels_ = m.get_strings("model.labels");
      task_ = m.get_string("model.task", "");
      crop_.scale = float(m.get_float("crop.scale", 1.0));
      crop_.shift_y = float(m.get_float("crop.shift_y", 0.0));
      crop_.aspect = float(m.get_float("crop.aspect", 1.0));
      MIEN_CHECK(crop_.scale > 0.1f && crop_.scale < 10.f, "crop.scale ", crop_.scale,
                 " is outside 0.1..10");
      MIEN_CHECK(crop_.shift_y > -2.f && crop_.shift_y < 2.f, "crop.shift_y ", crop_.shift_y,
                 " is outside -2..2");
      MIEN_CHECK(crop_.aspect > 0.2f && crop_.aspect < 5.f, "crop.aspect ", crop_.aspect,
                 " is outside 0.2..5");
      const std::string align = m.get_string("crop.align", "none");
      MIEN_CHECK(align == "none" || align == "eyes", "crop.align '", align,
                 "' is not 'none' or 'eyes'");
      crop_.align = align == "eyes";
      crop_.fill = parse_border_fill(m.get_string("crop.fill", "black"));
      // The first output is the one read. face-api's AgeGenderNet also has its own gender
      // head as a second output (kept for the fidelity tests, ignored here); for the other
      // tasks a second output more likely means the wrong file.
      MIEN_CHECK(model.output_values().size() == 1 || task_ == "age",
                 "a classifier must have one output");
      const auto shapes = model.infer_shapes(model.nominal_input_shapes());
      const Shape out = shapes[std::size_t(model.output_values()[0])];
      MIEN_CHECK(out.h == 1 && out.w == 1 && out.c == int(labels_.size()), "model output ",
                 out.str(), " does not match its ", labels_.size(), " labels");
    } catch (Error& e) {
      e.set_file(model.origin());
      throw;
    }
  }

  const Model& model() const { return model_; }
  const InputSpec& input() const { return input_; }
  const std::vector<std::string>& labels() const { return labels_; }
  const std::string& task() const { return task_; }

  const CropGeometry& crop_geometry() const { return crop_; }
  // The window (image pixels, possibly rotated) this classifier reads for a detected face.
  CropWindow crop_window(const Detection& face) const { return mien::crop_window(face, crop_); }

  // One probability vector per face. `flip` averages with the mirrored crop (test-time
  // augmentation). `threads`: faces in parallel when there are several, else inside layers.
  std::vector<Probabilities> classify(const Image& img, const std::vector<Detection>& faces,
                                      bool flip = false, int threads = 1) const {
    std::vector<Probabilities> result(faces.size(), Probabilities(labels_.size()));
    for_each_task(int64_t(faces.size()), threads, [&](int64_t i) {
      classify_face(img, faces[std::size_t(i)], flip, threads, result[std::size_t(i)].data());
    });
    return result;
  }

  // Images that are already face crops (the whole image is the face), e.g. FER-2013.
  std::vector<Probabilities> classify_crops(const std::vector<const Image*>& crops,
                                            bool flip = false, int threads = 1) const {
    std::vector<Probabilities> result(crops.size(), Probabilities(labels_.size()));
    for_each_task(int64_t(crops.size()), threads, [&](int64_t i) {
      classify_crop(*crops[std::size_t(i)], flip, threads, result[std::size_t(i)].data());
    });
    return result;
  }

  // One face: writes labels().size() probabilities to `out`. Thread-safe; allocates
  // nothing once this thread count has been used as often concurrently before.
  void classify_face(const Image& img, const Detection& face, bool flip, int threads,
                     float* out) const {
    classify_face(img, face, view_of(flip), threads, out);
  }
  void classify_face(const Image& img, const Detection& face, FaceView view, int threads,
                     float* out) const {
    const CropWindow win = crop_window(face);
    run_one(
        [&](float* dst) {
          warp_crop_to_tensor(img, win, input_.width, input_.height, input_.color,
                              input_.scale.data(), input_.offset.data(), crop_.fill, dst);
        },
        view, threads, out);
  }
  void classify_crop(const Image& crop, bool flip, int threads, float* out) const {
    classify_crop(crop, view_of(flip), threads, out);
  }
  void classify_crop(const Image& crop, FaceView view, int threads, float* out) const {
    run_one(
        [&](float* dst) {
          crop_resize_to_tensor(crop, 0.f, 0.f, float(crop.width), float(crop.height), input_.width,
                                input_.height, input_.color, input_.scale.data(),
                                input_.offset.data(), dst);
        },
        view, threads, out);
  }

  // Runs task(i) for i in [0, tasks): across threads when there are enough tasks to keep
  // them all busy (each task's layers then run on its own thread), else one task after
  // the other with the threads inside the layers. Each thread takes the next task when it
  // finishes one (tasks cost very different amounts: emotion vs gender), in index order,
  // so put the costly ones first.
  template <typename Task>
  static void for_each_task(int64_t tasks, int threads, Task&& task) {
    if (tasks < 2 * int64_t(threads)) {
      for (int64_t i = 0; i < tasks; ++i) task(i);
      return;
    }
    run_tasks(tasks, threads, std::forward<Task>(task));
  }

 private:
  std::size_t per_face() const {
    return std::size_t(input_.height) * input_.width * input_.channels();
  }

  // What one face needs: a Session planned for batch 1 (or 2 with the mirror) and its input.
  struct Worker {
    Worker(const Model& model, std::size_t floats) : session(model, 1), input(floats) {}
    Session session;
    std::vector<float> input;
    std::thread::id user;  // the thread that ran it last
  };

  // fill(dst) writes the face's input tensor; runs it, its mirror, or both (averaged).
  template <typename Fill>
  void run_one(Fill&& fill, FaceView view, int threads, float* out) const {
    std::unique_ptr<Worker> w = lease();
    struct Return {
      const FaceClassifier* self;
      std::unique_ptr<Worker>& w;
      ~Return() { self->give_back(std::move(w)); }
    } give_back_on_exit{this, w};
    const int h = input_.height, wd = input_.width, c = input_.channels();
    // Both: [face, mirror]; Mirror: the face goes to the second slot, its mirror to the first.
    float* face = w->input.data();
    float* src = view == FaceView::Mirror ? face + per_face() : face;
    fill(src);
    if (view != FaceView::Plain) {
      float* mirror = view == FaceView::Mirror ? face : face + per_face();
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < wd; ++x)
          std::copy_n(src + (std::size_t(y) * wd + x) * c, c,
                      mirror + (std::size_t(y) * wd + (wd - 1 - x)) * c);
    }
    const bool both = view == FaceView::Both;
    w->session.set_threads(threads);
    const ConstTensorView y = w->session.run(ConstTensorView(Shape(both ? 2 : 1, h, wd, c), face));
    const std::size_t k = labels_.size();
    for (std::size_t j = 0; j < k; ++j)
      out[j] = both ? 0.5f * (y.data[j] + y.data[k + j]) : y.data[j];
  }

  // Prefers the worker this thread used last: its arena is still in this core's cache
  // (handing workers around between threads made 5 faces at 2 threads ~10% slower).
  std::unique_ptr<Worker> lease() const {
    const std::thread::id me = std::this_thread::get_id();
    {
      std::lock_guard<std::mutex> lock(workers_mutex_);
      if (!workers_.empty()) {
        auto it = std::find_if(workers_.rbegin(), workers_.rend(),
                               [&](const std::unique_ptr<Worker>& w) { return w->user == me; });
        std::unique_ptr<Worker>& pick = it != workers_.rend() ? *it : workers_.back();
        std::unique_ptr<Worker> w = std::move(pick);
        pick = std::move(workers_.back());
        workers_.pop_back();
        return w;
      }
    }
    return std::make_unique<Worker>(model_, 2 * per_face());
  }
  void give_back(std::unique_ptr<Worker> w) const {
    if (!w) return;
    w->user = std::this_thread::get_id();
    std::lock_guard<std::mutex> lock(workers_mutex_);
    workers_.push_back(std::move(w));
  }

  Model model_;
  mutable std::mutex workers_mutex_;
  mutable std::vector<std::unique_ptr<Worker>> workers_;  // idle per-face workers
  InputSpec input_;
  std::vector<std::string> labels_;
  std::string task_;
  CropGeometry crop_;
};

}  // namespace mien
