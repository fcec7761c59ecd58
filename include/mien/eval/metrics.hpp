// Classification metrics for evaluating an emotion model on a labelled set: a confusion
// matrix and the accuracy, per-class precision/recall/F1 and macro-F1 derived from it.
//
// Conventions (those of scikit-learn, so numbers can be compared with published ones):
// - rows are the true class, columns the predicted class;
// - precision of a class that was never predicted is 0, recall of a class with no true
//   samples is 0, and F1 is 0 when precision + recall is 0;
// - macro-F1 (and macro recall/precision) is the unweighted mean over the classes that have
//   test images: a class with no images would pull the mean down for nothing. Predictions
//   of such a class are still errors: they lower the recall of the classes they were made on.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mien/core/error.hpp"

namespace mien {

class ConfusionMatrix {
 public:
  ConfusionMatrix() = default;
  explicit ConfusionMatrix(std::vector<std::string> labels)
      : labels_(std::move(labels)), counts_(labels_.size() * labels_.size(), 0) {}

  const std::vector<std::string>& labels() const { return labels_; }
  int size() const { return int(labels_.size()); }

  void add(int truth, int predicted, int64_t count = 1) {
    MIEN_CHECK(truth >= 0 && truth < size() && predicted >= 0 && predicted < size(),
               "confusion matrix index (", truth, ", ", predicted, ") outside ", size(),
               " classes");
    counts_[index(truth, predicted)] += count;
  }
  // Adds another matrix over the same labels (e.g. one per worker thread).
  void merge(const ConfusionMatrix& other) {
    MIEN_CHECK(other.labels_ == labels_, "merging confusion matrices over different labels");
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  }

  int64_t at(int truth, int predicted) const { return counts_[index(truth, predicted)]; }
  int64_t total() const {
    int64_t n = 0;
    for (int64_t c : counts_) n += c;
    return n;
  }
  int64_t correct() const {
    int64_t n = 0;
    for (int k = 0; k < size(); ++k) n += at(k, k);
    return n;
  }
  // Samples whose true class is k (the class's support).
  int64_t true_count(int k) const {
    int64_t n = 0;
    for (int p = 0; p < size(); ++p) n += at(k, p);
    return n;
  }
  int64_t predicted_count(int k) const {
    int64_t n = 0;
    for (int t = 0; t < size(); ++t) n += at(t, k);
    return n;
  }

  // 0 for an empty matrix (callers report N, so 0 of 0 is not mistaken for a result).
  double accuracy() const { return ratio(correct(), total()); }
  double precision(int k) const { return ratio(at(k, k), predicted_count(k)); }
  double recall(int k) const { return ratio(at(k, k), true_count(k)); }
  double f1(int k) const {
    // 2TP / (2TP + FP + FN): equal to the harmonic mean of precision and recall, without
    // their rounding, and 0 (not NaN) when both are 0.
    const int64_t tp = at(k, k);
    return ratio(2 * tp, true_count(k) + predicted_count(k));
  }
  // A class takes part in macro averages when it has test images (is true at least once).
  bool occurs(int k) const { return true_count(k) > 0; }
  double macro_f1() const {
    return macro([&](int k) { return f1(k); });
  }
  double macro_precision() const {
    return macro([&](int k) { return precision(k); });
  }
  // Mean recall is "balanced accuracy": robust to FER-2013's 16:1 class imbalance.
  double macro_recall() const {
    return macro([&](int k) { return recall(k); });
  }

 private:
  std::size_t index(int t, int p) const { return std::size_t(t) * labels_.size() + std::size_t(p); }
  static double ratio(int64_t a, int64_t b) { return b > 0 ? double(a) / double(b) : 0.0; }
  template <typename Metric>
  double macro(Metric&& metric) const {
    double sum = 0;
    int n = 0;
    for (int k = 0; k < size(); ++k) {
      if (!occurs(k)) continue;
      sum += metric(k);
      ++n;
    }
    return n ? sum / n : 0.0;
  }

  std::vector<std::string> labels_;
  std::vector<int64_t> counts_;
};

}  // namespace mien
