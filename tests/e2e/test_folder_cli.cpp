// Folder-scale `mien image` (issue #15 part 3): recursive discovery, --jsonl/--csv records
// with failed images in them, --shard K/N, unwritable outputs, Ctrl-C in a long run.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli_util.hpp"
#include "mien/io/csv.hpp"
#include "mien/io/json.hpp"

using mien::Json;
using mien::test::mien_cli;
using mien::test::quote;
using mien::test::read_text;
using mien::test::run_command;
using mien::test::source_path;

namespace {

bool contains(const std::string& s, const std::string& what) {
  return s.find(what) != std::string::npos;
}

void copy(const std::string& from, const std::string& to) {
  run_command("mkdir", "-p " + quote(to.substr(0, to.rfind('/'))));
  REQUIRE(run_command("cp", quote(from) + " " + quote(to)).status == 0);
}

// A dataset as users have them: images in sub-folders, a damaged one, one without faces,
// a hidden folder (skipped) and a file that is not an image.
std::string make_tree(const std::string& name) {
  const std::string dir = mien::test::temp_dir(name);
  copy(source_path("tests/data/scenes/astronaut.jpg"), dir + "/a/astronaut.jpg");
  copy(source_path("tests/data/scenes/faceapi_sample1.jpg"), dir + "/a/b/group.jpg");
  copy(source_path("tests/data/scenes/faceapi_sample5.jpg"), dir + "/top, \"odd\".jpg");
  copy(source_path("tests/data/scenes/faceapi_sample6.jpg"), dir + "/.hidden/skip.jpg");
  run_command("mkdir", "-p " + quote(dir + "/c"));
  std::mt19937 rng(3);
  std::string noise(4000, '\0');
  for (char& c : noise) c = char(rng());
  std::ofstream(dir + "/c/broken.jpg", std::ios::binary) << noise;
  std::ofstream(dir + "/c/wall.ppm", std::ios::binary) << "P6\n320 240\n255\n"
                                                       << std::string(320 * 240 * 3, '\x80');
  std::ofstream(dir + "/c/notes.txt") << "not an image\n";
  return dir;
}

std::vector<Json> read_jsonl(const std::string& text) {
  std::vector<Json> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(Json::parse(line));  // throws if cut
  return lines;
}

std::vector<std::vector<std::string>> read_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  std::string line, record;
  std::vector<std::string> fields;
  while (std::getline(in, line)) {
    record += line;
    if (!mien::detail::split_csv(record, fields)) {  // a quoted line break: read on
      record += "\n";
      continue;
    }
    rows.push_back(fields);
    record.clear();
  }
  CHECK(record.empty());
  return rows;
}

// The documented shard rule (tools/cli/shard.hpp, README), written again here so that a
// change of the algorithm, which would move images between shards of running jobs and
// break the Python tool's copy, fails this test.
int reference_shard(const std::string& key, int n) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : key) h = (h ^ c) * 1099511628211ull;
  h = (h ^ (h >> 33)) * 0xff51afd7ed558ccdull;
  h = (h ^ (h >> 33)) * 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return int(h % uint64_t(n)) + 1;
}

}  // namespace

TEST_CASE("folder cli: --recursive --jsonl --csv record every image, failures included") {
  const std::string dir = make_tree("folder_records");
  // 3 images in flight here, 1 for --json below: the same records, in the same order.
  const auto r = mien_cli("image --recursive --threads 3 --jsonl " + quote(dir + "/out.jsonl") +
                          " --csv " + quote(dir + "/out.csv") + " " + quote(dir));
  INFO(r.out);
  CHECK(r.status == 1);  // broken.jpg failed
  CHECK(contains(r.out, "broken.jpg"));
  CHECK(contains(r.out, "mien image: 5 images, 9 faces, 1 failed"));
  CHECK(!contains(r.out, "astronaut.jpg  512x512"));  // no table when the results go to files

  // JSONL: one line per image, sorted, the hidden folder and the text file skipped.
  const std::vector<Json> lines = read_jsonl(read_text(dir + "/out.jsonl"));
  REQUIRE(lines.size() == 5);
  const std::vector<std::string> expected = {dir + "/a/astronaut.jpg", dir + "/a/b/group.jpg",
                                             dir + "/c/broken.jpg", dir + "/c/wall.ppm",
                                             dir + "/top, \"odd\".jpg"};
  std::map<std::string, Json> by_file;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    CHECK(lines[i]["file"] == expected[i]);
    by_file[lines[i]["file"].get<std::string>()] = lines[i];
  }
  const Json& broken = by_file[dir + "/c/broken.jpg"];
  CHECK(broken["status"] == "error");
  CHECK(contains(broken["error"].get<std::string>(), "broken.jpg"));
  CHECK(broken.size() == 3);  // file, status, error
  CHECK(by_file[dir + "/c/wall.ppm"]["status"] == "ok");
  CHECK(by_file[dir + "/c/wall.ppm"]["faces"].empty());
  CHECK(by_file[dir + "/a/b/group.jpg"]["faces"].size() == 3);

  // Each ok record is the object of --json plus "status":"ok".
  const auto js = mien_cli("image --recursive --json " + quote(dir));
  CHECK(js.status == 1);
  std::vector<Json> objects;
  std::istringstream in(js.out);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("{", 0) == 0) objects.push_back(Json::parse(line));
  REQUIRE(objects.size() == 4);
  for (const Json& o : objects) {
    CAPTURE(o["file"]);
    Json record = by_file[o["file"].get<std::string>()];
    CHECK(record["status"] == "ok");
    record.erase("status");
    CHECK(record == o);
  }

  // CSV: a header, one row per face, one row for the image without faces and for the
  // failed one; every row as wide as the header; probabilities sum to 1.
  const auto rows = read_csv(read_text(dir + "/out.csv"));
  REQUIRE(rows.size() == 1 + 9 + 1 + 1);  // header, 1 + 3 + 5 faces, wall, broken
  const std::vector<std::string>& head = rows[0];
  std::map<std::string, std::size_t> col;
  for (std::size_t i = 0; i < head.size(); ++i) col[head[i]] = i;
  for (const char* name :
       {"file", "status", "error", "face", "x", "y", "w", "h", "score", "p_angry", "p_happy",
        "p_neutral", "emotion", "gender", "gender_score", "age"})
    CHECK_MESSAGE(col.count(name), name);
  REQUIRE(head.size() == 20);  // 7 emotions + 13 other columns
  int faces = 0, errors = 0, empty = 0;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    const auto& row = rows[i];
    CAPTURE(i);
    REQUIRE(row.size() == head.size());
    if (row[col["status"]] == "error") {
      ++errors;
      CHECK(row[col["file"]] == dir + "/c/broken.jpg");
      CHECK(contains(row[col["error"]], "broken.jpg"));
      CHECK(row[col["face"]].empty());
      continue;
    }
    CHECK(row[col["status"]] == "ok");
    CHECK(row[col["error"]].empty());
    if (row[col["face"]].empty()) {
      ++empty;
      CHECK(row[col["file"]] == dir + "/c/wall.ppm");
      CHECK(row[col["age"]].empty());
      continue;
    }
    // The default pipeline runs the age model: years, never the -1 of "not run".
    REQUIRE_FALSE(row[col["age"]].empty());
    CHECK(std::stod(row[col["age"]]) > 0.0);
    CHECK(std::stod(row[col["age"]]) < 120.0);
    ++faces;
    double sum = 0;
    for (const auto& [name, k] : col)
      if (name.rfind("p_", 0) == 0) sum += std::stod(row[k]);
    CHECK(std::fabs(sum - 1.0) < 1e-3);
    CHECK(std::stod(row[col["w"]]) > 0);
    CHECK((row[col["gender"]] == "man" || row[col["gender"]] == "woman"));
    // The same numbers as the JSONL's face.
    const Json& face = by_file[row[col["file"]]]["faces"][std::stoul(row[col["face"]])];
    CHECK(face["emotion"]["label"] == row[col["emotion"]]);
    CHECK(std::stod(row[col["x"]]) == doctest::Approx(face["box"][0].get<double>()));
    CHECK(std::stod(row[col["age"]]) == face["age"].get<double>());  // the same 1 decimal
  }
  CHECK(faces == 9);
  CHECK(errors == 1);
  CHECK(empty == 1);
  CHECK(rows[7][col["file"]] == dir + "/top, \"odd\".jpg");  // quoted, read back whole

  // "-" is standard output, then without the table.
  const auto out = mien_cli("image --fast --no-gender --csv - " + quote(dir + "/a/astronaut.jpg"));
  CHECK(out.status == 0);
  CHECK(out.out.rfind("file,status,error,face,", 0) == 0);
  CHECK(!contains(out.out, "512x512"));
}

TEST_CASE("folder cli: --shard K/N splits the images, union = all, no overlap") {
  const std::string dir = make_tree("folder_shards");
  for (int i = 0; i < 9; ++i)
    copy(source_path("tests/data/faces/astronaut.png"),
         dir + "/more/" + std::to_string(i) + "/face.png");
  const std::string common = "image --recursive --fast --no-gender --min-face 1000 ";
  const auto whole = mien_cli(common + "--jsonl " + quote(dir + "/all.jsonl") + " " + quote(dir));
  CHECK(whole.status == 1);
  std::set<std::string> all;
  for (const Json& j : read_jsonl(read_text(dir + "/all.jsonl")))
    all.insert(j["file"].get<std::string>());
  REQUIRE(all.size() == 14);
  const int n = 3;
  std::set<std::string> seen;
  std::size_t total = 0;
  for (int k = 1; k <= n; ++k) {
    CAPTURE(k);
    const std::string out = dir + "/s" + std::to_string(k) + ".jsonl";
    // The folder given another way (a trailing slash) takes the same shard.
    const auto r = mien_cli(common + "--shard " + std::to_string(k) + "/" + std::to_string(n) +
                            " --jsonl " + quote(out) + " " + quote(dir + (k == 2 ? "/" : "")));
    INFO(r.out);
    CHECK((r.status == 0 || r.status == 1));
    CHECK(contains(r.out, "(shard " + std::to_string(k) + "/3 of 14)"));
    for (const Json& j : read_jsonl(read_text(out))) {
      std::string key = j["file"].get<std::string>().substr(dir.size());
      key.erase(0, key.find_first_not_of('/'));  // "more/3/face.png"
      CHECK(seen.insert(key).second);            // disjoint
      CHECK(reference_shard(key, n) == k);
      ++total;
    }
  }
  CHECK(total == all.size());  // union = all
  for (const std::string& f : all) CHECK(seen.count(f.substr(dir.size() + 1)));
  // 1/1 is everything.
  const auto one = mien_cli(common + "--shard 1/1 --jsonl - " + quote(dir));
  std::size_t one_lines = 0;
  for (std::size_t p = one.out.find("{\"file\""); p != std::string::npos;
       p = one.out.find("{\"file\"", p + 1))
    ++one_lines;
  CHECK(one_lines == all.size());
}

TEST_CASE("folder cli: bad --shard values and output options are usage errors") {
  const std::string img = quote(source_path("tests/data/scenes/astronaut.jpg"));
  for (const char* bad : {"0/3", "4/3", "3", "1/0", "-1/3", "a/b", "1/", "/3", "1/3/4", "+1/3",
                          " 1/3", "1.0/3", "2/1", "1/99999999"}) {
    CAPTURE(bad);
    const auto r = mien_cli(std::string("image --shard=") + quote(bad) + " " + img);
    CHECK(r.status == 2);
    CHECK(contains(r.out, "--shard must be K/N"));
  }
  CHECK(mien_cli("image --shard " + img).status == 2);  // no value
  CHECK(mien_cli("image --json --jsonl - " + img).status == 2);
  CHECK(mien_cli("image --csv - --jsonl - " + img).status == 2);
  CHECK(mien_cli("image --csv /tmp/x.out --jsonl /tmp/x.out " + img).status == 2);
  CHECK(mien_cli("image --csv= " + img).status == 2);
}

TEST_CASE("folder cli: an unwritable output fails at once with a clear message") {
  const std::string img = quote(source_path("tests/data/scenes/astronaut.jpg"));
  const std::string dir = mien::test::temp_dir("folder_unwritable");
  for (const std::string& out : {dir + "/no/such/folder/r.csv", dir}) {
    CAPTURE(out);
    const auto csv = mien_cli("image --csv " + quote(out) + " " + img);
    CHECK(csv.status == 1);
    CHECK(contains(csv.out, out + ": cannot open for writing"));
    const auto jsonl = mien_cli("image --jsonl " + quote(out) + " " + img);
    CHECK(jsonl.status == 1);
    CHECK(contains(jsonl.out, "cannot open for writing"));
  }
  // A full disk mid-run: the error names the file, the exit status is 1.
  if (std::ifstream("/dev/full")) {
    const auto full = mien_cli("image --fast --csv /dev/full " + img);
    CHECK(full.status == 1);
    CHECK(contains(full.out, "/dev/full: cannot write"));
  }
}

TEST_CASE("folder cli: SIGINT finishes the image in progress, outputs stay whole, exit 130") {
  const std::string dir = mien::test::temp_dir("folder_sigint");
  for (int i = 0; i < 60; ++i)
    copy(source_path("tests/data/scenes/astronaut.jpg"),
         dir + "/in/" + std::to_string(100 + i) + ".jpg");
  // Ctrl-C as soon as the first image is written.
  const std::string j = quote(dir + "/r.jsonl"), c = quote(dir + "/r.csv");
  const std::string script = quote(MIEN_CLI_PATH) + " image --fast --threads 1 --jsonl " + j +
                             " --csv " + c + " " + quote(dir + "/in") +
                             " & pid=$!; while kill -0 $pid 2>/dev/null && ! [ -s " + j +
                             " ]; do sleep 0.05; done; kill -INT $pid; wait $pid; echo exit=$?";
  const auto r = run_command("sh", "-c " + quote(script));
  INFO(r.out);
  CHECK(contains(r.out, "exit=130"));
  CHECK(contains(r.out, "interrupted"));
  const std::string jsonl = read_text(dir + "/r.jsonl");
  REQUIRE(!jsonl.empty());
  CHECK(jsonl.back() == '\n');
  const std::vector<Json> lines = read_jsonl(jsonl);
  CHECK(lines.size() < 60);
  const auto rows = read_csv(read_text(dir + "/r.csv"));
  CHECK(rows.size() == lines.size() + 1);  // one face per image, plus the header
  for (const auto& row : rows) CHECK(row.size() == rows[0].size());
}
