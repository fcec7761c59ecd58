// Results as files (include/mien/io/, include/mien/eval/report.hpp): numbers print as the
// CLI always printed them (printf %g / %f), strings are always valid JSON, keys keep the
// documented order, CSV fields are quoted when needed.
#include <cstdio>
#include <string>

#include "mien/eval/report.hpp"
#include "mien/io/csv.hpp"
#include "mien/io/json.hpp"
#include "test_util.hpp"

using namespace mien;

namespace {
std::string printf_g(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}
}  // namespace

TEST_CASE("json_number prints what %g printed; json_fixed what %f printed") {
  for (int digits : {4, 6, 7})
    for (double v : {0.0, 1.0, 3.0, 0.5, 0.931234567, 1e-05, 1.5e-07, 0.000123456, 123.4567, -2.25,
                     639.99999, 0.99999999, 47.123456789, 1e-30})
      CHECK(json_text(json_number(v, digits)) == printf_g(v, digits));
  CHECK(json_text(json_number(std::nan(""))) == "null");
  CHECK(json_text(json_number(1.0 / 0.0)) == "null");
  CHECK(json_text(json_fixed(15.0, 1)) == "15.0");
  CHECK(json_text(json_fixed(0.0, 1)) == "0.0");
  CHECK(json_text(json_fixed(15.26, 1)) == "15.3");
  CHECK(json_text(json_fixed(1234.5, 1)) == "1234.5");
}

TEST_CASE("json_text: keys in insertion order, bytes that are not UTF-8 become \\ufffd") {
  Json j;
  j["file"] = std::string(
      "a\xff"
      "b\".jpg");
  j["width"] = 3;
  j["a"] = {json_number(1.5), json_number(2)};
  CHECK(json_text(j) == "{\"file\":\"a\\ufffdb\\\".jpg\",\"width\":3,\"a\":[1.5,2]}");
  CHECK(json_text(Json("tab\tnew\nline")) == "\"tab\\tnew\\nline\"");
}

TEST_CASE("csv_field quotes commas, quotes and line breaks only") {
  CHECK(csv_field("plain.jpg") == "plain.jpg");
  CHECK(csv_field("a,b") == "\"a,b\"");
  CHECK(csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(csv_field("two\nlines") == "\"two\nlines\"");
}

TEST_CASE("eval_json: the documented keys, in order, with the counts") {
  Dataset ds;
  ds.path = "set.csv";
  ds.format = "csv";
  ds.samples.resize(3);
  EvalResult r;
  r.labels = {"happy", "sad"};
  r.confusion = ConfusionMatrix(r.labels);
  r.confusion.add(0, 0, 2);
  r.no_face = 1;
  const Json j = eval_json(ds, r, "m.mien", false, 1.25);
  std::string keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys += it.key() + " ";
  CHECK(keys ==
        "dataset format model tta images attempted evaluated correct accuracy "
        "accuracy_evaluated macro_f1 macro_precision macro_recall detected left_out labels "
        "per_class confusion seconds ");
  CHECK(j["attempted"] == 3);
  CHECK(j["correct"] == 2);
  CHECK(json_text(j["accuracy"]) == printf_g(2.0 / 3.0, 6));
  CHECK(json_text(j["confusion"]) == "[[2,0],[0,0]]");
  CHECK(json_text(j["seconds"]) == "1.25");
}
