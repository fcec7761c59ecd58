// `mien eval` building blocks: metrics on hand-made confusion matrices, the dataset
// readers on tiny datasets written here, and an evaluation run on synthetic crops.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "mien/eval/evaluate.hpp"
#include "mien/eval/metrics.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
using namespace mien;

namespace {

// A fresh folder under the temp dir, removed when the test ends.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name) {
    path = fs::temp_directory_path() / ("mien_eval_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& rel) const { return (path / rel).string(); }
};

void write_file(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// A small gray-ish image that differs per seed (the values do not matter, only that it
// decodes).
void write_image(const std::string& path, int size, int seed) {
  fs::create_directories(fs::path(path).parent_path());
  Image img(size, size);
  std::mt19937 rng{unsigned(seed)};
  for (uint8_t& v : img.rgb) v = uint8_t(rng() % 256);
  save_image(img, path);
}

std::string pixels(int seed, int n = 2304) {
  std::string s;
  for (int i = 0; i < n; ++i) s += (i ? " " : "") + std::to_string((i * 7 + seed * 13) % 256);
  return s;
}

using mien::test::error_of;

DatasetOptions with_format(DatasetFormat f) {
  DatasetOptions o;
  o.format = f;
  return o;
}

using mien::test::contains;

int64_t skipped(const Dataset& ds, const std::string& reason) {
  for (const auto& s : ds.skipped)
    if (s.first == reason) return s.second;
  return 0;
}

std::vector<std::string> labels_of(const Dataset& ds) {
  std::vector<std::string> v;
  for (const auto& s : ds.samples) v.push_back(s.label);
  return v;
}

}  // namespace

TEST_CASE("metrics: precision, recall, F1 and macro-F1 of a hand-made confusion matrix") {
  //          predicted a  b  c  d
  // true a             5  1  0  0
  // true b             2  3  1  0
  // c is predicted once but never true; d never occurs at all.
  ConfusionMatrix cm({"a", "b", "c", "d"});
  cm.add(0, 0, 5);
  cm.add(0, 1);
  cm.add(1, 0, 2);
  cm.add(1, 1, 3);
  cm.add(1, 2);
  CHECK(cm.total() == 12);
  CHECK(cm.correct() == 8);
  CHECK(cm.accuracy() == doctest::Approx(8.0 / 12));
  CHECK(cm.true_count(0) == 6);
  CHECK(cm.predicted_count(0) == 7);
  CHECK(cm.precision(0) == doctest::Approx(5.0 / 7));
  CHECK(cm.recall(0) == doctest::Approx(5.0 / 6));
  CHECK(cm.f1(0) == doctest::Approx(10.0 / 13));  // harmonic mean of 5/7 and 5/6
  CHECK(cm.precision(1) == doctest::Approx(0.75));
  CHECK(cm.recall(1) == doctest::Approx(0.5));
  CHECK(cm.f1(1) == doctest::Approx(0.6));
  // Predicted but never true: precision 0, recall 0 (no NaN). It has no test images, so
  // macro averages leave it out (its wrong prediction already lowers b's recall).
  CHECK(cm.precision(2) == 0.0);
  CHECK(cm.recall(2) == 0.0);
  CHECK(cm.f1(2) == 0.0);
  CHECK_FALSE(cm.occurs(2));
  CHECK_FALSE(cm.occurs(3));
  CHECK(cm.macro_f1() == doctest::Approx((10.0 / 13 + 0.6) / 2));
  CHECK(cm.macro_recall() == doctest::Approx((5.0 / 6 + 0.5) / 2));
  CHECK(cm.macro_precision() == doctest::Approx((5.0 / 7 + 0.75) / 2));

  SUBCASE("a perfect classifier") {
    ConfusionMatrix p({"x", "y"});
    p.add(0, 0, 3);
    p.add(1, 1, 4);
    CHECK(p.accuracy() == 1.0);
    CHECK(p.macro_f1() == 1.0);
  }
  SUBCASE("empty matrix and bad indices") {
    ConfusionMatrix e({"x", "y"});
    CHECK(e.accuracy() == 0.0);
    CHECK(e.macro_f1() == 0.0);
    CHECK_THROWS_AS(e.add(2, 0), Error);
    CHECK_THROWS_AS(e.add(0, -1), Error);
  }
  SUBCASE("merge adds counts; different labels are an error") {
    ConfusionMatrix m({"a", "b", "c", "d"});
    m.add(2, 2, 4);
    m.merge(cm);
    CHECK(m.total() == 16);
    CHECK(m.at(2, 2) == 4);
    CHECK(m.at(0, 0) == 5);
    CHECK_THROWS_AS(m.merge(ConfusionMatrix({"a"})), Error);
  }
}

TEST_CASE("FER+ plurality rule: most votes wins; ties, unknown and not-a-face are left out") {
  // Order: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF
  auto plurality = [](const int64_t(&v)[10]) { return ferplus_label(v, FerPlusRule::Plurality); };
  CHECK(plurality({4, 0, 0, 1, 3, 2, 0, 0, 0, 0}).label == "neutral");
  CHECK(plurality({0, 10, 0, 0, 0, 0, 0, 0, 0, 0}).label == "happy");
  CHECK(plurality({0, 0, 0, 0, 6, 0, 1, 0, 3, 0}).label == "angry");
  CHECK(plurality({0, 0, 0, 0, 2, 1, 0, 7, 0, 0}).label == "contempt");
  CHECK(plurality({5, 5, 0, 0, 0, 0, 0, 0, 0, 0}).excluded == "FER+ top votes tied");
  CHECK(plurality({3, 0, 0, 0, 0, 0, 0, 0, 4, 3}).excluded == "FER+ top vote 'unknown'");
  CHECK(plurality({0, 0, 0, 0, 0, 0, 0, 0, 0, 10}).excluded == "FER+ top vote 'not a face'");
  CHECK(plurality({0, 0, 0, 0, 0, 0, 0, 0, 0, 0}).excluded == "FER+ row without votes");
  // A tie below the top does not matter.
  CHECK(plurality({6, 2, 2, 0, 0, 0, 0, 0, 0, 0}).label == "neutral");
}

TEST_CASE("FER+ majority rule (FERPlus's): single votes dropped, the top needs more than half") {
  auto majority = [](const int64_t(&v)[10]) { return ferplus_label(v, FerPlusRule::Majority); };
  // 4 of 9 remaining votes (the single sadness vote dropped): no majority.
  CHECK(majority({4, 0, 0, 1, 3, 2, 0, 0, 0, 0}).excluded ==
        "FER+ no majority (top emotion has at most half of the votes)");
  // 6 of 9 after dropping the single fear vote: anger.
  CHECK(majority({0, 0, 0, 0, 6, 0, 1, 0, 3, 0}).label == "angry");
  // 5 of 10 is exactly half: not more than half.
  CHECK(!majority({5, 3, 2, 0, 0, 0, 0, 0, 0, 0}).excluded.empty());
  CHECK(majority({5, 2, 2, 0, 0, 0, 0, 0, 0, 0}).label == "neutral");
  // Single votes only: nothing is left.
  CHECK(majority({1, 1, 1, 0, 0, 0, 0, 0, 0, 0}).excluded ==
        "FER+ row without a vote of 2 or more");
  CHECK(majority({0, 0, 0, 0, 0, 0, 0, 0, 8, 2}).excluded == "FER+ top vote 'unknown'");
  CHECK(parse_ferplus_rule("plurality") == FerPlusRule::Plurality);
  CHECK_THROWS_AS(parse_ferplus_rule("most"), Error);
}

TEST_CASE("dataset: folder per class, names matched case-insensitively with synonyms") {
  TempDir d("folders");
  write_image(d / "Angry/a1.png", 8, 1);
  write_image(d / "Angry/a2.jpg", 8, 2);
  write_image(d / "HAPPINESS/h1.png", 8, 3);
  write_image(d / "fearful/subject7/f1.png", 8, 4);  // nested folders are searched
  write_image(d / "Contempt/c1.png", 8, 5);          // read; the evaluator leaves it out
  write_file(d / "Angry/notes.txt", "not an image");
  write_file(d / "Angry/.hidden.png", "hidden");
  write_image(d / ".cache/x.png", 8, 6);
  write_file(d / "README.md", "top-level files are ignored");

  const Dataset ds = read_dataset(d.path.string());
  CHECK(ds.format == "folder per class");
  REQUIRE(ds.samples.size() == 5);
  CHECK(labels_of(ds) == std::vector<std::string>{"angry", "angry", "contempt", "happy", "fear"});
  CHECK(ds.samples[0].path == d / "Angry/a1.png");
  CHECK(ds.samples[0].name == ds.samples[0].path);
  CHECK(load_labelled_image(ds.samples[0]).width == 8);

  SUBCASE("--usage and --images do not apply") {
    DatasetOptions o;
    o.usage = "PublicTest";
    CHECK(contains(error_of([&] { read_dataset(d.path.string(), o); }), "no Usage"));
  }
  SUBCASE("a folder without class folders or label files") {
    TempDir e("unknown_layout");
    fs::create_directories(e.path / "train");
    const std::string msg = error_of([&] { read_dataset(e.path.string()); });
    CHECK(contains(msg, "unknown dataset layout"));
    CHECK(contains(msg, "train"));
  }
  SUBCASE("class folders without images: empty dataset") {
    TempDir e("empty_classes");
    fs::create_directories(e.path / "happy");
    CHECK(contains(error_of([&] { read_dataset(e.path.string()); }), "empty dataset"));
  }
}

TEST_CASE("dataset: FER-2013 CSV with a Usage filter; malformed rows name their line") {
  TempDir d("fer2013");
  // The icml_face_data.csv header has spaces after the commas and another column order.
  const std::string csv = d / "fer2013.csv";
  write_file(csv, "emotion, Usage, pixels\r\n" + ("3,Training,\"" + pixels(1) + "\"\r\n") +
                      ("0,PublicTest," + pixels(2) + "\r\n") + "\r\n" +  // blank line skipped
                      ("6,PrivateTest," + pixels(3) + "\r\n") +
                      ("5,PublicTest," + pixels(4) + "\r\n"));
  const Dataset all = read_dataset(csv);
  CHECK(all.format == "FER-2013 CSV");
  CHECK(labels_of(all) == std::vector<std::string>{"happy", "angry", "neutral", "surprise"});
  CHECK(all.samples[1].name == "fer2013.csv:3");
  CHECK(all.samples[2].name == "fer2013.csv:5");
  const Image img = load_labelled_image(all.samples[1]);
  CHECK(img.width == 48);
  CHECK(img.height == 48);
  CHECK(img.rgb[3] == (7 + 2 * 13) % 256);  // pixel 1, gray replicated
  CHECK(img.rgb[4] == img.rgb[3]);

  DatasetOptions o;
  o.usage = "publictest";  // case-insensitive
  CHECK(labels_of(read_dataset(csv, o)) == std::vector<std::string>{"angry", "surprise"});
  o.usage = "Validation";
  const std::string none = error_of([&] { read_dataset(csv, o); });
  CHECK(contains(none, "no rows with Usage 'Validation'"));
  CHECK(contains(none, "Training, PublicTest, PrivateTest"));
  // The folder holding fer2013.csv is recognised too.
  CHECK(read_dataset(d.path.string()).samples.size() == 4);

  auto fails = [&](const std::string& row, int line, const std::string& what) {
    const std::string bad = d / "bad.csv";
    write_file(bad, "emotion,pixels,Usage\n3," + pixels(1) + ",Training\n" + row + "\n");
    const std::string msg = error_of([&] { read_dataset(bad); });
    CHECK_MESSAGE(contains(msg, "bad.csv:" + std::to_string(line)), msg);
    CHECK_MESSAGE(contains(msg, what), msg);
  };
  fails("7," + pixels(1) + ",Training", 3, "not a FER-2013 class");
  fails("x," + pixels(1) + ",Training", 3, "not a FER-2013 class");
  fails("2," + pixels(1, 2300) + ",Training", 3, "2300 values");
  fails("2," + pixels(1, 2303) + " 256,Training", 3, "above 255");
  fails("2," + pixels(1, 2303) + " 1x,Training", 3, "not an integer");
  fails("2", 3, "fields");
  fails("2,\"" + pixels(1) + ",Training", 3, "unterminated quote");

  write_file(d / "nocols.csv", "label,data\n1,2\n");
  CHECK(contains(
      error_of([&] { read_dataset(d / "nocols.csv", with_format(DatasetFormat::Fer2013)); }),
      "needs the columns emotion and pixels"));
  write_file(d / "nousage.csv", "emotion,pixels\n1," + pixels(1) + "\n");
  CHECK(read_dataset(d / "nousage.csv").samples.size() == 1);
  o.usage = "Training";
  CHECK(contains(error_of([&] { read_dataset(d / "nousage.csv", o); }), "no Usage column"));
}

TEST_CASE("dataset: FER+ fer2013new.csv and label.csv (plurality rule)") {
  TempDir d("ferplus");
  DatasetOptions o;
  o.ferplus_rule = FerPlusRule::Plurality;
  fs::create_directories(d.path / "FER2013Valid");
  const std::string header =
      "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,"
      "fear,contempt,unknown,NF\n";
  write_file(d / "fer2013new.csv",
             header +
                 "Training,fer0000000.png,4,0,0,1,3,2,0,0,0,0\n"       // neutral
                 "Training,,0,0,0,0,0,0,0,0,0,10\n"                    // not a face, no image
                 "PublicTest,fer0028638.png,0,10,0,0,0,0,0,0,0,0\n"    // happy
                 "PublicTest,fer0028639.png,5,5,0,0,0,0,0,0,0,0\n"     // tie
                 "PublicTest,fer0028640.png,0,0,0,0,2,1,0,7,0,0\n"     // contempt
                 "PublicTest,fer0028641.png,1,0,0,0,0,0,0,0,8,1\n"     // unknown
                 "PrivateTest,fer0032220.png,0,0,0,0,9,0,1,0,0,0\n");  // angry
  const Dataset all = read_dataset(d / "fer2013new.csv", o);
  CHECK(all.format == "FER+ (fer2013new.csv)");
  CHECK(labels_of(all) == std::vector<std::string>{"neutral", "happy", "contempt", "angry"});
  CHECK(skipped(all, "FER+ top votes tied") == 1);
  CHECK(skipped(all, "FER+ top vote 'unknown'") == 1);
  CHECK(skipped(all, "FER+ top vote 'not a face'") == 1);
  CHECK(all.skipped_total() == 3);
  // PublicTest images live in FER2013Valid when that folder exists (generate_training_data.py).
  CHECK(all.samples[1].path == d / "FER2013Valid/fer0028638.png");
  CHECK(all.samples[0].path == d / "fer0000000.png");

  o.usage = "PublicTest";
  const Dataset pub = read_dataset(d / "fer2013new.csv", o);
  CHECK(labels_of(pub) == std::vector<std::string>{"happy", "contempt"});
  CHECK(pub.skipped_total() == 2);
  o.usage = "";
  o.images_dir = d / "elsewhere";
  CHECK(read_dataset(d / "fer2013new.csv", o).samples[0].path == d / "elsewhere/fer0000000.png");

  SUBCASE("label.csv: with and without the face box, images beside it") {
    write_file(d / "FER2013Test/label.csv",
               "fer0032220.png,\"(0, 0, 48, 48)\",0,0,0,0,2,1,0,7,0,0\n"
               "fer0032222.png,\"(0, 0, 48, 48)\",3,0,0,5,0,0,0,0,2,0\n"
               "fer0032276.png,\"(0, 0, 48, 48)\",0,5,5,0,0,0,0,0,0,0\n");
    o.images_dir = "";
    const Dataset ds = read_dataset(d / "FER2013Test", o);  // the folder finds its label.csv
    CHECK(ds.format == "FER+ label.csv");
    CHECK(labels_of(ds) == std::vector<std::string>{"contempt", "sad"});
    CHECK(skipped(ds, "FER+ top votes tied") == 1);
    CHECK(ds.samples[1].path == d / "FER2013Test/fer0032222.png");
    write_file(d / "plain/label.csv", "a.png,0,0,10,0,0,0,0,0,0,0\n");
    CHECK(labels_of(read_dataset(d / "plain/label.csv", o)) ==
          std::vector<std::string>{"surprise"});
    o.usage = "Training";
    CHECK(contains(error_of([&] { read_dataset(d / "plain/label.csv", o); }), "no Usage column"));
  }
  SUBCASE("the default rule is FERPlus's majority") {
    const Dataset maj = read_dataset(d / "fer2013new.csv");
    // neutral: 4 of the 9 votes left after dropping the single sadness vote, no majority.
    CHECK(labels_of(maj) == std::vector<std::string>{"happy", "contempt", "angry"});
    CHECK(skipped(maj, "FER+ no majority (top emotion has at most half of the votes)") == 1);
  }
  SUBCASE("malformed vote counts name their line") {
    write_file(d / "bad.csv", header + "Training,a.png,4,0,0,1,3,2,0,0,0,0\n" +
                                  "Training,b.png,4,0,x,1,3,2,0,0,0,0\n");
    const std::string msg = error_of([&] { read_dataset(d / "bad.csv"); });
    CHECK_MESSAGE(contains(msg, "bad.csv:3"), msg);
    CHECK_MESSAGE(contains(msg, "surprise"), msg);
    write_file(d / "short.csv", header + "Training,a.png,4,0,0\n");
    CHECK(contains(error_of([&] { read_dataset(d / "short.csv"); }), "short.csv:2"));
  }
  SUBCASE("every row left out: empty dataset, with the reasons") {
    write_file(d / "ties.csv", header + "Training,a.png,5,5,0,0,0,0,0,0,0,0\n");
    const std::string msg = error_of([&] { read_dataset(d / "ties.csv", o); });
    CHECK(contains(msg, "empty dataset"));
    CHECK(contains(msg, "1 FER+ top votes tied"));
  }
}

TEST_CASE("dataset: CSV of image,label; paths relative to the CSV") {
  TempDir d("imagecsv");
  write_file(d / "list.csv",
             "image,label\nimgs/a.png,Happiness\n/abs/b.jpg,SAD\n\"c, d.png\",fearful\n");
  const Dataset ds = read_dataset(d / "list.csv");
  CHECK(ds.format == "image,label CSV");
  CHECK(labels_of(ds) == std::vector<std::string>{"happy", "sad", "fear"});
  CHECK(ds.samples[0].path == d / "imgs/a.png");
  CHECK(ds.samples[1].path == "/abs/b.jpg");
  CHECK(ds.samples[2].path == d / "c, d.png");
  // No header; a header with extra columns.
  write_file(d / "plain.csv", "x.png,angry\n");
  CHECK(labels_of(read_dataset(d / "plain.csv")) == std::vector<std::string>{"angry"});
  write_file(d / "wide.csv", "id,image,emotion,notes\n1,x.png,neutral,ok\n");
  CHECK(labels_of(read_dataset(d / "wide.csv", with_format(DatasetFormat::ImageLabelCsv))) ==
        std::vector<std::string>{"neutral"});

  write_file(d / "bad.csv", "image,label\na.png,happy\nb.png\n");
  const std::string msg =
      error_of([&] { read_dataset(d / "bad.csv", with_format(DatasetFormat::ImageLabelCsv)); });
  CHECK_MESSAGE(contains(msg, "bad.csv:3"), msg);
  write_file(d / "nolabel.csv", "a.png,happy\nb.png,\n");
  CHECK(contains(error_of([&] { read_dataset(d / "nolabel.csv"); }), "nolabel.csv:2: empty label"));
  write_file(d / "odd.csv", "a,b,c,d,e\n");
  CHECK(contains(error_of([&] { read_dataset(d / "odd.csv"); }), "unknown dataset format"));
  write_file(d / "empty.csv", "");
  CHECK(contains(error_of([&] { read_dataset(d / "empty.csv"); }), "empty"));
  CHECK(contains(error_of([&] { read_dataset(d / "missing.csv"); }), "no such file"));
}

#ifdef MIEN_HAS_DEFAULT_MODELS
TEST_CASE("evaluate: synthetic crops are counted right (accuracy values are meaningless)") {
  TempDir d("evaluate");
  int id = 0;
  for (const char* cls : {"angry", "Happy", "neutral"})
    for (int i = 0; i < 4; ++i)
      write_image(d / (std::string(cls) + "/" + std::to_string(i) + ".png"), 48, ++id);
  write_image(d / "contempt/c.png", 48, ++id);       // a label the model lacks
  write_file(d / "angry/broken.jpg", "not a jpeg");  // unreadable: counted
  write_image(d / "neutral/photo.png", 160, ++id);   // > 96 px: through the detector
  const Dataset ds = read_dataset(d.path.string());
  REQUIRE(ds.samples.size() == 15);

  const Pipeline pipeline = Pipeline::with_default_models();
  EvalOptions opt;
  opt.crops = CropsMode::Auto;  // the small images are crops, the photo is not
  opt.threads = 2;
  opt.batch = 3;  // several chunks, a partial last one
  // Called from the workers (one at a time): record, check afterwards on this thread.
  std::vector<std::pair<std::size_t, std::size_t>> calls;
  const EvalResult r = evaluate(pipeline, ds, opt, [&](std::size_t done, std::size_t total) {
    calls.push_back({done, total});
  });
  REQUIRE(calls.size() == 6);  // 5 chunks; the photo is reported on its own
  for (std::size_t i = 0; i < calls.size(); ++i) {
    CHECK(calls[i].second == 15);
    if (i) CHECK(calls[i].first > calls[i - 1].first);
  }
  CHECK(calls.back().first == 15);
  CHECK(r.labels == fer_labels());  // reported in FER order
  CHECK(r.unreadable == 1);
  CHECK(r.detected == 1);
  REQUIRE(r.unpredictable.size() == 1);
  CHECK(r.unpredictable[0] == std::pair<std::string, int64_t>{"contempt", 1});
  // 12 crops always count; the random-noise photo counts only if a face was "found".
  CHECK(r.confusion.total() == 12 + (1 - r.no_face));
  CHECK(r.confusion.true_count(0) == 4);  // angry: broken.jpg left out
  CHECK(r.confusion.true_count(3) == 4);  // happy
  REQUIRE(r.samples.size() == ds.samples.size());
  for (std::size_t i = 0; i < ds.samples.size(); ++i) {
    const SampleResult& s = r.samples[i];
    if (s.status != SampleStatus::Ok) continue;
    CHECK(s.scores.size() == 7);
    CHECK(s.predicted == argmax(s.scores));
    double sum = 0;
    for (float p : s.scores) sum += p;
    CHECK(sum == doctest::Approx(1.0).epsilon(1e-3));
  }

  SUBCASE("one thread, --crops and flip TTA give the same counts") {
    EvalOptions o1;
    o1.crops = CropsMode::All;
    o1.pipeline.flip_tta = true;
    const EvalResult r1 = evaluate(pipeline, ds, o1);
    CHECK(r1.detected == 0);
    CHECK(r1.confusion.total() == 13);
  }
  SUBCASE("same scores whatever the threads and batch") {
    EvalOptions o1;
    o1.crops = CropsMode::Auto;
    o1.batch = 64;
    const EvalResult r1 = evaluate(pipeline, ds, o1);
    for (std::size_t i = 0; i < ds.samples.size(); ++i) {
      REQUIRE(r1.samples[i].scores.size() == r.samples[i].scores.size());
      for (std::size_t k = 0; k < r.samples[i].scores.size(); ++k)
        CHECK(r1.samples[i].scores[k] == doctest::Approx(r.samples[i].scores[k]).epsilon(1e-4));
    }
  }
  SUBCASE("inline FER-2013 pixels") {
    write_file(d / "fer.csv", "emotion,pixels,Usage\n0," + pixels(1) + ",PublicTest\n3," +
                                  pixels(2) + ",PublicTest\n");
    const EvalResult rf = evaluate(pipeline, read_dataset(d / "fer.csv"), EvalOptions{});
    CHECK(rf.confusion.total() == 2);
  }
  SUBCASE("nothing readable, or no label the model predicts: errors") {
    TempDir e("evaluate_bad");
    write_file(e / "happy/a.jpg", "junk");
    write_file(e / "happy/b.png", "junk");
    CHECK(contains(error_of([&] { evaluate(pipeline, read_dataset(e.path.string()), {}); }),
                   "none of the 2 images could be read"));
    TempDir c("evaluate_contempt");
    write_image(c / "contempt/a.png", 48, 1);
    CHECK(contains(error_of([&] { evaluate(pipeline, read_dataset(c.path.string()), {}); }),
                   "no image has a label the model predicts"));
  }
}
#endif

#if defined(MIEN_CLI_PATH)
TEST_CASE("mien eval: the command line on synthetic crops") {
  const std::string cli = MIEN_CLI_PATH;
  if (cli.empty() || !fs::exists(cli)) {  // the CLI is not part of this build
    MESSAGE("skipped: the mien CLI was not built");
    return;
  }
  TempDir d("eval_cli");
  for (const char* cls : {"sad", "surprise"})
    for (int i = 0; i < 3; ++i)
      write_image(d / (std::string(cls) + "/" + std::to_string(i) + ".png"), 48, i);
  auto run = [&](const std::string& args, std::string& out) {
    FILE* p = popen(("'" + cli + "' eval " + args + " 2>&1").c_str(), "r");
    REQUIRE(p);
    char buf[4096];
    std::size_t n;
    out.clear();
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  };
  std::string out;
  CHECK(run("'" + d.path.string() + "' --crops auto --json --threads 2 --predictions '" +
                (d / "p.csv") + "' --confusion '" + (d / "cm.png") + "'",
            out) == 0);
  CHECK_MESSAGE(contains(out, "\"evaluated\":6"), out);
  // Small images are crops only when asked: by default they go through the detector, and
  // a photo without a face counts as a wrong answer in the headline accuracy. Here no face
  // is found at all: the report is printed, and with nothing evaluated the exit is 1.
  CHECK(run("'" + d.path.string() + "' --json", out) == 1);
  CHECK_MESSAGE(contains(out, "\"attempted\":6,\"evaluated\":0"), out);
  CHECK_MESSAGE(contains(out, "\"no_face\":6"), out);
  CHECK_MESSAGE(contains(out, "\"accuracy\":0,"), out);
  CHECK(run("'" + d.path.string() + "'", out) == 1);
  CHECK_MESSAGE(contains(out, "6 without a detected face and 0 unreadable count as wrong"), out);
  CHECK_MESSAGE(contains(out, "if they are face crops, use --crops"), out);
  // --crops alone still means every image; --fast is the single model.
  CHECK(run("'" + d.path.string() + "' --crops --fast --json", out) == 0);
  CHECK_MESSAGE(contains(out, "\"evaluated\":6"), out);
  CHECK_MESSAGE(contains(out, "--fast"), out);
  CHECK(run("'" + d.path.string() + "' --crops sometimes", out) == 2);
  CHECK(run("'" + d.path.string() + "' --ferplus-rule most", out) == 2);
  CHECK(run("'" + d.path.string() + "' --fast --emotion x.mien", out) == 2);
  CHECK(run("'" + d.path.string() + "' --emotion-weights 0.5,0.5", out) == 2);
  CHECK(load_image(d / "cm.png").width > 300);
  std::ifstream pred(d / "p.csv");
  std::string line;
  int lines = 0;
  while (std::getline(pred, line)) ++lines;
  CHECK(lines == 7);
  CHECK(run("", out) == 2);
  CHECK(run("'" + d.path.string() + "' --format nope", out) == 2);
  CHECK(run("'" + (d / "missing") + "'", out) == 1);
  CHECK(contains(out, "no such file"));
}
#endif
