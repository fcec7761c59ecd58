// Session: runs a Model on one thread's behalf (with a thread budget for mien's pool inside
// large layers). Activation buffers are planned once per input shape: values whose lifetimes
// do not overlap share memory in one arena, and a run with the same shapes as the last
// allocates nothing.
#pragma once

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "mien/core/parallel.hpp"
#include "mien/model/model.hpp"

namespace mien {

class Session {
 public:
  explicit Session(const Model& model, int threads = 1) : model_(model) {
    MIEN_CHECK(model.loaded(), "session needs a loaded model");
    set_threads(threads);
    const std::size_t values = std::size_t(model_.value_count());
    value_shapes_.resize(values);
    value_offsets_.resize(values, kExternal);
    std::size_t max_arity = 1;
    for (const Step& st : model_.steps()) max_arity = std::max(max_arity, st.inputs.size());
    step_inputs_.resize(max_arity);
    outputs_.resize(model_.output_values().size());
  }

  void set_threads(int threads) {
    MIEN_CHECK(threads >= 1 && threads <= 1024, "thread count must be 1..1024, got ", threads);
    if (threads != threads_) planned_inputs_.clear();  // scratch may depend on threads
    threads_ = threads;
  }
  int threads() const { return threads_; }
  const Model& model() const { return model_; }

  // Runs the graph. One view per graph input, in graph order. The returned views (one per
  // graph output, in order) stay valid until the next run() on this Session.
  //
  // A batch runs image by image when no op mixes images (checked once per input shape): one
  // image's activations stay in cache where a batch's spill out of L2, and with several
  // threads whole images go to different threads instead of splitting small layers.
  //
  // Outputs holding NaN or infinity are an error (a damaged model must not print "angry
  // -nan" and exit 0): only the outputs are scanned after each run, which costs nothing next
  // to the layers; on a failure the run is repeated layer by layer to name the first layer
  // that produced a non-finite value.
  const std::vector<ConstTensorView>& run(const std::vector<ConstTensorView>& inputs) {
    const std::vector<ConstTensorView>& outs =
        split_batches_ && batch_splittable(inputs)
            ? run_per_image(inputs)
            : run_observed(inputs, [](std::size_t, auto&& step) { step(); });
    if (check_finite_)
      for (const ConstTensorView& o : outs)
        if (first_non_finite(o) >= 0) locate_non_finite(inputs);
    return outs;
  }

  // Off: non-finite outputs are returned as they are (e.g. to study a broken model).
  void set_check_finite(bool on) { check_finite_ = on; }

  // Index of the first NaN or infinity in a tensor, -1 if none.
  static int64_t first_non_finite(const ConstTensorView& t) {
    const int64_t n = t.shape.size();
    for (int64_t i = 0; i < n; ++i)
      if (!std::isfinite(t.data[i])) return i;
    return -1;
  }

  // Per-image execution of batches (default on). Why, at batch 8, 1 thread, AVX-512
  // (compare.sh CPU ms for the whole batch at once vs 8 x batch 1): blazeface 45.9 vs
  // 8 x 3.8, gender 2.40 vs 8 x 0.20, emotion 7.37 vs 8 x 0.86.
  void set_split_batches(bool on) { split_batches_ = on; }

  // As run(), but each step executes inside wrap(step_index, step), where step() runs the
  // op: a profiler times it, a debugger can look at outputs. wrap must call step() once.
  template <typename Wrap>
  const std::vector<ConstTensorView>& run_observed(const std::vector<ConstTensorView>& inputs,
                                                   Wrap&& wrap) {
    MIEN_CHECK(inputs.size() == model_.input_values().size(), "model takes ",
               model_.input_values().size(), " input(s), got ", inputs.size());
    bool same = planned_inputs_.size() == inputs.size();
    for (std::size_t i = 0; same && i < inputs.size(); ++i)
      same = planned_inputs_[i] == inputs[i].shape;
    if (!same) plan(inputs);
    for (std::size_t i = 0; i < inputs.size(); ++i)
      MIEN_CHECK(inputs[i].data != nullptr, "input ", i, " has no data");

    RunContext ctx;
    ctx.threads = threads_;
    ctx.scratch = scratch_.data();
    ctx.scratch_size = scratch_.size();
    const auto& steps = model_.steps();
    for (std::size_t s = 0; s < steps.size(); ++s) {
      const Step& st = steps[s];
      for (std::size_t k = 0; k < st.inputs.size(); ++k)
        step_inputs_[k] = value_view(st.inputs[k], inputs);
      TensorView out{value_shapes_[std::size_t(st.output)],
                     arena_.data() + value_offsets_[std::size_t(st.output)]};
      wrap(s, [&] { st.op->run(step_inputs_.data(), out, ctx); });
    }
    for (std::size_t i = 0; i < outputs_.size(); ++i)
      outputs_[i] = value_view(model_.output_values()[i], inputs);
    return outputs_;
  }

  // Single-input convenience: returns the first output.
  ConstTensorView run(ConstTensorView input) {
    single_input_.assign(1, input);
    return run(single_input_).front();
  }

  const std::vector<ConstTensorView>& outputs() const { return outputs_; }

  // Input k of the step being run, valid inside run_observed's wrap (e.g. to calibrate a
  // quantization on what each layer reads: model/quantize.hpp).
  const ConstTensorView& step_input(std::size_t k) const { return step_inputs_.at(k); }
  ConstTensorView output(const std::string& name) const {
    const auto& ids = model_.output_values();
    for (std::size_t i = 0; i < ids.size(); ++i)
      if (model_.value_name(ids[i]) == name) return outputs_[i];
    throw_error("model has no output named '", name, "'");
  }

  // Shape of every value in the current plan (empty before the first run).
  const std::vector<Shape>& value_shapes() const { return value_shapes_; }

  // Floats held by the activation arena and the scratch area (for tests and `mien info`).
  std::size_t arena_floats() const { return arena_.size(); }
  std::size_t scratch_floats() const { return scratch_.size(); }

 private:
  // True if every value of the graph keeps the inputs' batch size n > 1 (no op mixes
  // images), so that the batch can run image by image. Cached per input shapes.
  bool batch_splittable(const std::vector<ConstTensorView>& inputs) {
    if (inputs.empty() || inputs[0].shape.n <= 1) return false;
    const int n = inputs[0].shape.n;
    bool same = split_checked_.size() == inputs.size();
    for (std::size_t i = 0; same && i < inputs.size(); ++i)
      same = split_checked_[i] == inputs[i].shape;
    if (same) return split_ok_;
    split_checked_.clear();
    for (const auto& in : inputs) split_checked_.push_back(in.shape);
    split_ok_ = false;
    for (const auto& in : inputs)
      if (in.shape.n != n) return false;
    const std::vector<Shape> shapes = model_.infer_shapes(split_checked_);
    for (const Shape& sh : shapes)
      if (sh.n != n) return false;
    const auto& outs = model_.output_values();
    split_out_.resize(outs.size());
    split_out_shapes_.resize(outs.size());
    for (std::size_t o = 0; o < outs.size(); ++o) {
      split_out_shapes_[o] = shapes[std::size_t(outs[o])];
      split_out_[o].resize(std::size_t(split_out_shapes_[o].size()));
    }
    split_ok_ = true;
    return true;
  }

  // Each image runs on a single-threaded Session of its own; with several threads, images
  // are spread over them (image b on worker b % workers), so every image takes the same
  // path at any thread count and results do not depend on it.
  const std::vector<ConstTensorView>& run_per_image(const std::vector<ConstTensorView>& inputs) {
    const int n = inputs[0].shape.n;
    const int workers = std::max(1, std::min(threads_, n));
    while (int(per_image_.size()) < workers) {
      per_image_.push_back(std::make_unique<Session>(model_, 1));
      per_image_.back()->split_batches_ = false;
      per_image_.back()->check_finite_ = false;  // checked once on the whole batch
      split_slices_.emplace_back(inputs.size());
    }
    for (std::size_t k = 0; k < inputs.size(); ++k)
      MIEN_CHECK(inputs[k].data != nullptr, "input ", k, " has no data");
    auto image = [&](int w, int b) {
      std::vector<ConstTensorView>& slices = split_slices_[std::size_t(w)];
      slices.resize(inputs.size());
      for (std::size_t k = 0; k < inputs.size(); ++k) {
        Shape one = inputs[k].shape;
        one.n = 1;
        slices[k] = ConstTensorView{one, inputs[k].data + std::size_t(b) * one.size()};
      }
      const std::vector<ConstTensorView>& outs = per_image_[std::size_t(w)]->run(slices);
      for (std::size_t o = 0; o < outs.size(); ++o) {
        const std::size_t count = std::size_t(outs[o].shape.size());
        std::copy(outs[o].data, outs[o].data + count,
                  split_out_[o].data() + std::size_t(b) * count);
      }
    };
    if (workers == 1) {
      for (int b = 0; b < n; ++b) image(0, b);
    } else {
      parallel_for(workers, workers, [&](int64_t w0, int64_t w1) {
        for (int64_t w = w0; w < w1; ++w)
          for (int b = int(w); b < n; b += workers) image(int(w), b);
      });
    }
    for (std::size_t o = 0; o < outputs_.size(); ++o)
      outputs_[o] = ConstTensorView{split_out_shapes_[o], split_out_[o].data()};
    return outputs_;
  }

  // Throws an Error naming the model file and the first input or layer whose values are
  // not finite (reruns the graph one layer at a time; only called after a failed check).
  [[noreturn]] void locate_non_finite(const std::vector<ConstTensorView>& inputs) {
    auto fail = [&](const std::string& what, const std::string& node, const ConstTensorView& t,
                    int64_t at) {
      Error e(what + " holds " + (std::isnan(t.data[at]) ? "NaN" : "an infinite value") +
              " (value " + std::to_string(at) + " of " + t.shape.str() + ")");
      if (!node.empty()) e.set_node(node);
      e.set_file(model_.origin());
      throw e;
    };
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const int64_t at = first_non_finite(inputs[i]);
      if (at >= 0)
        fail("input '" + model_.value_name(model_.input_values()[i]) + "'", "", inputs[i], at);
    }
    const auto& steps = model_.steps();
    // Per image and whole batch compute the same values; the whole-batch path lets each
    // layer's output be looked at right after it runs.
    run_observed(inputs, [&](std::size_t s, auto&& step) {
      step();
      const ConstTensorView out = value_view(steps[s].output, inputs);
      const int64_t at = first_non_finite(out);
      if (at >= 0)
        fail("the output of this " + std::string(steps[s].op->type()) + " layer", steps[s].name,
             out, at);
    });
    Error e("a model output holds NaN or infinity, but no layer produced one when rerun");
    e.set_file(model_.origin());
    throw e;
  }

  static constexpr std::size_t kExternal = ~std::size_t(0);
  static constexpr std::size_t kSlotAlign = 16;  // floats: keeps every value 64-byte aligned

  ConstTensorView value_view(int v, const std::vector<ConstTensorView>& inputs) const {
    const std::size_t off = value_offsets_[std::size_t(v)];
    if (off == kExternal) {
      const auto& in = model_.input_values();
      const std::size_t i = std::size_t(std::find(in.begin(), in.end(), v) - in.begin());
      return inputs[i];
    }
    return ConstTensorView{value_shapes_[std::size_t(v)], arena_.data() + off};
  }

  // Liveness-based arena plan: a value lives from the step that writes it to the last step
  // that reads it (graph outputs live to the end). Freed blocks are reused best-fit.
  void plan(const std::vector<ConstTensorView>& inputs) {
    std::vector<Shape> in_shapes;
    for (const auto& v : inputs) in_shapes.push_back(v.shape);
    value_shapes_ = model_.infer_shapes(in_shapes);

    const auto& steps = model_.steps();
    const int n_steps = int(steps.size());
    std::vector<int> last_use(value_shapes_.size(), -1);
    for (int s = 0; s < n_steps; ++s)
      for (int v : steps[std::size_t(s)].inputs) last_use[std::size_t(v)] = s;
    for (int v : model_.output_values()) last_use[std::size_t(v)] = n_steps;

    struct Block {
      std::size_t offset, size;
    };
    std::vector<Block> free_blocks;
    std::size_t top = 0;
    std::fill(value_offsets_.begin(), value_offsets_.end(), kExternal);
    std::size_t scratch = 0;
    std::vector<Shape> step_shapes;
    for (int s = 0; s < n_steps; ++s) {
      const Step& st = steps[std::size_t(s)];
      step_shapes.clear();
      for (int v : st.inputs) step_shapes.push_back(value_shapes_[std::size_t(v)]);
      scratch = std::max(scratch, st.op->scratch_floats(step_shapes, threads_));

      const std::size_t need =
          (std::size_t(value_shapes_[std::size_t(st.output)].size()) + kSlotAlign - 1) /
          kSlotAlign * kSlotAlign;
      auto best = free_blocks.end();
      for (auto it = free_blocks.begin(); it != free_blocks.end(); ++it)
        if (it->size >= need && (best == free_blocks.end() || it->size < best->size)) best = it;
      std::size_t offset;
      if (best != free_blocks.end()) {
        offset = best->offset;
        best->offset += need;
        best->size -= need;
        if (best->size == 0) free_blocks.erase(best);
      } else {
        offset = top;
        top += need;
      }
      value_offsets_[std::size_t(st.output)] = offset;

      // Release inputs read for the last time here (after the output is placed, so that an
      // op never writes over what it reads). Graph inputs are the caller's memory.
      for (int v : st.inputs) {
        if (last_use[std::size_t(v)] != s || value_offsets_[std::size_t(v)] == kExternal) continue;
        const std::size_t size =
            (std::size_t(value_shapes_[std::size_t(v)].size()) + kSlotAlign - 1) / kSlotAlign *
            kSlotAlign;
        release(free_blocks, value_offsets_[std::size_t(v)], size);
        last_use[std::size_t(v)] = -2;  // released (an op may read one value twice)
      }
    }
    arena_.resize(std::max<std::size_t>(top, 1));
    scratch_.resize(std::max<std::size_t>(scratch, 1));
    planned_inputs_ = in_shapes;
  }

  template <typename Blocks>
  static void release(Blocks& blocks, std::size_t offset, std::size_t size) {
    blocks.push_back({offset, size});
    std::sort(blocks.begin(), blocks.end(),
              [](const auto& a, const auto& b) { return a.offset < b.offset; });
    Blocks merged;
    for (const auto& b : blocks) {
      if (!merged.empty() && merged.back().offset + merged.back().size == b.offset)
        merged.back().size += b.size;
      else
        merged.push_back(b);
    }
    blocks.swap(merged);
  }

  Model model_;
  int threads_ = 0;
  std::vector<Shape> planned_inputs_;
  std::vector<Shape> value_shapes_;
  std::vector<std::size_t> value_offsets_;
  AlignedBuffer arena_, scratch_;
  std::vector<ConstTensorView> step_inputs_, outputs_, single_input_;
  // Per-image execution of batches.
  bool split_batches_ = true, split_ok_ = false;
  bool check_finite_ = true;
  std::vector<Shape> split_checked_, split_out_shapes_;
  std::vector<AlignedBuffer> split_out_;
  std::vector<std::vector<ConstTensorView>> split_slices_;  // per worker
  std::vector<std::unique_ptr<Session>> per_image_;         // per worker
};

}  // namespace mien
