// The .mien format: round trips, and hostile input (every truncation, byte flips with
// and without a repaired checksum) must give mien::Error and never a crash. CI also runs
// this file under AddressSanitizer (target mien_tests_asan).
#include <cstring>
#include <random>

#include "mien/model/format.hpp"
#include "mien/model/graph.hpp"
#include "test_util.hpp"

using namespace mien;

namespace {

MienFile sample_file() {
  MienFile f;
  f.meta.set("model.name", std::string("sample"));
  f.meta.set("an.int", int64_t(-42));
  f.meta.set("a.float", 0.125);
  f.meta.set("ints", std::vector<int64_t>{1, -2, 3});
  f.meta.set("floats", std::vector<double>{0.5, -1.5});
  f.meta.set("strings", std::vector<std::string>{"angry", "", "happy"});
  f.meta.set("graph.inputs", std::vector<std::string>{"x"});
  f.meta.set("graph.input.x.shape", std::vector<int64_t>{4, 3, 2});
  f.meta.set("graph.outputs", std::vector<std::string>{"y"});
  f.meta.set("graph.node_count", int64_t(1));
  f.meta.set("node.0.name", std::string("y"));
  f.meta.set("node.0.op", std::string("softmax"));
  f.meta.set("node.0.inputs", std::vector<std::string>{"x"});
  f.meta.set("node.0.output", std::string("y"));
  f.meta.set("node.0.axis_hint", int64_t(3));
  FileTensor a;
  a.dims = {2, 3};
  a.data = {1, 2, 3, 4, 5, 6};
  FileTensor b;
  b.dims = {5};
  b.data = {-1, 0.5f, 7, 8, 9};
  f.tensors["y/weight"] = a;
  f.tensors["y/other"] = b;
  return f;
}

bool parses(const std::vector<uint8_t>& bytes) {
  try {
    parse_mien(bytes.data(), bytes.size(), "mem");
    return true;
  } catch (const Error&) {
    return false;
  }
}

void repair_crc(std::vector<uint8_t>& bytes) {
  if (bytes.size() < kHeaderSize) return;
  const uint32_t crc = crc32(bytes.data() + 12, bytes.size() - 12);
  std::memcpy(bytes.data() + 8, &crc, 4);
}

}  // namespace

TEST_CASE("format: CRC-32 matches zlib's") {
  const char* s = "123456789";
  CHECK(crc32(reinterpret_cast<const uint8_t*>(s), 9) == 0xCBF43926u);
}

TEST_CASE("format: write/read round trip keeps every value and tensor") {
  const MienFile f = sample_file();
  const std::vector<uint8_t> bytes = serialize_mien(f);
  CHECK(bytes.size() % 64 == 0);
  const MienFile g = parse_mien(bytes.data(), bytes.size(), "mem");
  CHECK(g.meta.values() == f.meta.values());
  REQUIRE(g.tensors.size() == 2);
  CHECK(g.tensors.at("y/weight").dims == f.tensors.at("y/weight").dims);
  CHECK(g.tensors.at("y/weight").data == f.tensors.at("y/weight").data);
  CHECK(g.tensors.at("y/other").data == f.tensors.at("y/other").data);
  // Reproducible: serialising again gives the same bytes.
  CHECK(serialize_mien(g) == bytes);
}

TEST_CASE("format: graph keys round trip through GraphDef") {
  const MienFile f = sample_file();
  const GraphDef g = graph_from_file(f);
  REQUIRE(g.nodes.size() == 1);
  CHECK(g.nodes[0].op == "softmax");
  CHECK(g.nodes[0].attrs.get_int("axis_hint") == 3);
  CHECK(g.inputs[0].h == 4);
  CHECK(g.meta.get_string("model.name") == "sample");
  CHECK(!g.meta.has("graph.inputs"));
  const MienFile back = graph_to_file(g);
  CHECK(back.meta.values() == f.meta.values());
}

TEST_CASE("format: every truncated prefix is an error") {
  const std::vector<uint8_t> bytes = serialize_mien(sample_file());
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + std::ptrdiff_t(n));
    CHECK_FALSE(parses(cut));
    // Even with a header that claims the shorter size and a valid checksum.
    if (n >= kHeaderSize) {
      const uint64_t size = n;
      std::memcpy(cut.data() + 16, &size, 8);
      repair_crc(cut);
      (void)parses(cut);  // may or may not parse; must not crash
    }
  }
}

TEST_CASE("format: random byte flips are errors and never crash") {
  const std::vector<uint8_t> bytes = serialize_mien(sample_file());
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::size_t> pos(0, bytes.size() - 1);
  std::uniform_int_distribution<int> bit(0, 7);
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<uint8_t> bad = bytes;
    const int flips = 1 + trial % 4;
    for (int k = 0; k < flips; ++k) bad[pos(rng)] ^= uint8_t(1u << bit(rng));
    if (bad == bytes) continue;
    CHECK_FALSE(parses(bad));  // the checksum catches the corruption
    // With the checksum repaired, the structural checks must hold on their own.
    repair_crc(bad);
    try {
      const MienFile f = parse_mien(bad.data(), bad.size(), "mem");
      try {
        (void)graph_from_file(f);
      } catch (const Error&) {
      }
    } catch (const Error&) {
    }
  }
}

TEST_CASE("format: hostile headers with a valid checksum are rejected") {
  std::vector<uint8_t> bytes = serialize_mien(sample_file());
  SUBCASE("huge metadata count") {
    const uint32_t n = 0xFFFFFFFFu;
    std::memcpy(bytes.data() + 32, &n, 4);
  }
  SUBCASE("huge tensor count") {
    const uint32_t n = 0x7FFFFFFFu;
    std::memcpy(bytes.data() + 36, &n, 4);
  }
  SUBCASE("data offset past the end") {
    const uint64_t off = bytes.size() + 64;
    std::memcpy(bytes.data() + 24, &off, 8);
  }
  SUBCASE("wrong version") {
    const uint32_t v = 99;
    std::memcpy(bytes.data() + 4, &v, 4);
  }
  repair_crc(bytes);
  CHECK_THROWS_AS(parse_mien(bytes.data(), bytes.size(), "mem"), Error);
}

TEST_CASE("format: errors name the file") {
  try {
    read_mien("/nonexistent/model.mien");
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("/nonexistent/model.mien") != std::string::npos);
  }
}

TEST_CASE("format: graph validation catches undefined inputs and missing outputs") {
  MienFile f = sample_file();
  f.meta.set("node.0.inputs", std::vector<std::string>{"nope"});
  CHECK_THROWS_WITH_AS(graph_from_file(f), doctest::Contains("nope"), Error);
  f = sample_file();
  f.meta.set("graph.outputs", std::vector<std::string>{"missing"});
  CHECK_THROWS_AS(graph_from_file(f), Error);
  f = sample_file();
  f.meta.set("graph.node_count", int64_t(5));
  CHECK_THROWS_AS(graph_from_file(f), Error);
}

TEST_CASE("format: float16 tensors are widened to float32") {
  // Build a file by hand with one f16 tensor [3] = {1.0, -2.0, 0.5} (0x3C00, 0xC000, 0x3800).
  MienFile f;
  f.meta.set("k", int64_t(1));
  FileTensor t;
  t.dims = {3};
  t.data = {0, 0, 0};
  f.tensors["h"] = t;
  std::vector<uint8_t> bytes = serialize_mien(f);
  // Patch dtype to f16 and nbytes to 6: find the tensor record after the metadata.
  const std::size_t rec = kHeaderSize + 4 + 1 + 1 + 8;  // key "k", type, int64 value
  const std::size_t dtype_at = rec + 4 + 1;             // name "h"
  bytes[dtype_at] = uint8_t(DType::F16);
  const uint64_t nbytes = 6;
  std::memcpy(bytes.data() + dtype_at + 2 + 8 + 8, &nbytes, 8);
  uint64_t data_offset;
  std::memcpy(&data_offset, bytes.data() + 24, 8);
  const uint16_t halves[3] = {0x3C00, 0xC000, 0x3800};
  std::memcpy(bytes.data() + data_offset, halves, 6);
  repair_crc(bytes);
  const MienFile g = parse_mien(bytes.data(), bytes.size(), "mem");
  CHECK(g.tensors.at("h").data == std::vector<float>{1.0f, -2.0f, 0.5f});
}

TEST_CASE("format: views of aligned bytes are in place, of unaligned bytes copied") {
  const std::vector<uint8_t> bytes = serialize_mien(sample_file());
  AlignedBytes aligned(bytes.size());
  std::memcpy(aligned.data(), bytes.data(), bytes.size());
  const MienView v = parse_mien_view(aligned.data(), aligned.size(), "mem");
  REQUIRE(v.tensors.at("y/weight").f32_in_place() != nullptr);
  const GraphDef g = graph_from_view(v, "mem");
  CHECK(g.weights.at("y/weight").is_view());
  CHECK(g.weights.at("y/weight").values() == std::vector<float>{1, 2, 3, 4, 5, 6});

  std::vector<uint8_t> shifted(bytes.size() + 4);
  std::size_t off = 1;
  while ((reinterpret_cast<uintptr_t>(shifted.data()) + off) % alignof(float) == 0) ++off;
  std::memcpy(shifted.data() + off, bytes.data(), bytes.size());
  const MienView u = parse_mien_view(shifted.data() + off, bytes.size(), "mem");
  CHECK(u.tensors.at("y/weight").f32_in_place() == nullptr);
  const GraphDef h = graph_from_view(u, "mem");
  CHECK_FALSE(h.weights.at("y/weight").is_view());
  CHECK(h.weights.at("y/other").values() == std::vector<float>{-1, 0.5f, 7, 8, 9});
  // Copy on write: a view becomes owned values when changed.
  GraphDef w = g;
  w.weights.at("y/weight").mutable_values()[0] = 10;
  CHECK_FALSE(w.weights.at("y/weight").is_view());
  CHECK(g.weights.at("y/weight").data()[0] == 1);
}

TEST_CASE("format: read_file_aligned reads a whole file into a 64-byte aligned buffer") {
  const std::string path = "/tmp/mien_test_format_aligned.mien";
  write_mien(path, sample_file());
  const AlignedBytes b = read_file_aligned(path);
  CHECK(reinterpret_cast<uintptr_t>(b.data()) % 64 == 0);
  CHECK(std::vector<uint8_t>(b.data(), b.data() + b.size()) == read_file_bytes(path));
  std::remove(path.c_str());
  CHECK_THROWS_AS(read_file_aligned("/nonexistent/model.mien"), Error);
  CHECK_THROWS_WITH_AS(read_file_aligned("/tmp"), doctest::Contains("folder"), Error);
  CHECK(read_file_aligned("/dev/null").size() == 0);
}
