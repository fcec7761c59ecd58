// The op registry (model/op_registry.hpp) is the one list of ops: its entries are
// consistent, FORMAT.md's op table and the Python converters' op and activation lists
// name the same ops, and every op builds through it.
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "mien/mien.hpp"
#include "test_util.hpp"

namespace mien {
namespace {

// Where the Python side lists the ops its GraphBuilder accepts (`OPS = {...}`) and the
// activation names (`ACTIVATIONS = {...}`). Re-point here when the converters move.
constexpr const char* kPythonOpList = MIEN_SOURCE_DIR "/tools/convert/mienfile.py";
constexpr const char* kFormatDoc = MIEN_SOURCE_DIR "/include/mien/model/FORMAT.md";

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot read ", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The quoted strings of a Python set literal `NAME = {...}` (at the start of a line).
std::set<std::string> python_set(const std::string& text, const std::string& name) {
  const std::regex start("(^|\n)" + name + R"(\s*=\s*\{)");
  std::smatch m;
  REQUIRE_MESSAGE(std::regex_search(text, m, start), name, " = {...} not found in ", kPythonOpList);
  const std::size_t open = std::size_t(m.position(0) + m.length(0));
  const std::size_t close = text.find('}', open);
  REQUIRE(close != std::string::npos);
  const std::string body = text.substr(open, close - open);
  std::set<std::string> names;
  const std::regex quoted(R"re("([^"]*)"|'([^']*)')re");
  for (auto it = std::sregex_iterator(body.begin(), body.end(), quoted);
       it != std::sregex_iterator(); ++it)
    names.insert((*it)[1].matched ? (*it)[1].str() : (*it)[2].str());
  return names;
}

std::set<std::string> registry_names() {
  std::set<std::string> names;
  for (const OpSpec& s : op_registry()) names.insert(s.name);
  return names;
}

std::string join(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += (out.empty() ? "" : ", ") + x;
  return out;
}

}  // namespace

TEST_CASE("op registry: entries are consistent") {
  std::set<std::string> seen;
  for (const OpSpec& s : op_registry()) {
    CAPTURE(s.name);
    CHECK(seen.insert(s.name).second);
    CHECK(bool(s.make));
    CHECK(s.min_inputs >= 1);
    CHECK((s.max_inputs == -1 || s.max_inputs >= s.min_inputs));
    CHECK(find_op_spec(s.name) == &s);
    std::set<std::string> attrs;
    for (const AttrSpec& a : s.attrs) {
      CAPTURE(a.name);
      CHECK(attrs.insert(a.name).second);
      CHECK(a.name != "name");
      CHECK(a.name != "op");
      CHECK(a.name != "inputs");
      CHECK(a.name != "output");
      if (a.fallback) CHECK(value_type(*a.fallback) == a.type);
    }
    // What the optimiser relies on.
    if (s.traits.folds_batch_norm) {
      CHECK(s.find_weight("weight"));
      CHECK(s.find_weight("bias"));
    }
    if (s.traits.fuses_activation) CHECK(s.find_attr("activation"));
    if (s.traits.fuses_residual) CHECK(s.max_inputs >= 2);
    if (s.traits.role == FusionRole::Activation) CHECK(s.find_attr("type"));
    if (s.traits.role == FusionRole::ResidualAdd) CHECK(s.max_inputs >= 2);
  }
  CHECK(find_op_spec("no_such_op") == nullptr);
}

TEST_CASE("op registry: the Python converters list the same ops and activations") {
  const std::string py = read_text(kPythonOpList);
  const std::set<std::string> ops = python_set(py, "OPS");
  const std::set<std::string> cpp = registry_names();
  INFO("Python OPS: ", join(ops));
  INFO("registry:   ", join(cpp));
  CHECK(ops == cpp);

  std::set<std::string> acts;
  for (int k = 0; k <= int(ActKind::HardSwish); ++k) {
    Activation a;
    a.kind = static_cast<ActKind>(k);
    acts.insert(a.name());
  }
  const std::set<std::string> py_acts = python_set(py, "ACTIVATIONS");
  INFO("Python ACTIVATIONS: ", join(py_acts));
  CHECK(py_acts == acts);
}

TEST_CASE("op registry: FORMAT.md's op table lists the same ops") {
  const std::string doc = read_text(kFormatDoc);
  // Rows of the op table: "| `conv2d` | ..." or "| `max_pool`, `avg_pool` | ...".
  std::set<std::string> ops;
  std::istringstream lines(doc);
  std::string line;
  bool in_table = false;
  while (std::getline(lines, line)) {
    if (line.rfind("| op |", 0) == 0) {
      in_table = true;
      continue;
    }
    if (!in_table) continue;
    if (line.rfind("|", 0) != 0) break;
    const std::string first = line.substr(1, line.find('|', 1) - 1);
    const std::regex code("`([a-z0-9_]+)`");
    for (auto it = std::sregex_iterator(first.begin(), first.end(), code);
         it != std::sregex_iterator(); ++it)
      ops.insert((*it)[1].str());
  }
  INFO("FORMAT.md: ", join(ops));
  CHECK(ops == registry_names());
}

TEST_CASE("op registry: every op builds, with its defaults, through make_op") {
  // One small node per op: 4x4x2 input, weights shaped as the op needs.
  auto ones = [](std::vector<int64_t> dims) {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    return GraphBuilder::tensor(dims, std::vector<float>(std::size_t(n), 0.5f));
  };
  for (const OpSpec& s : op_registry()) {
    CAPTURE(s.name);
    GraphDef g;
    NodeDef n;
    n.name = "n";
    n.op = s.name;
    n.output = "n";
    for (int i = 0; i < s.min_inputs; ++i) n.inputs.push_back("x");
    if (s.name == "concat") n.inputs = {"x", "x"};
    if (s.name == "conv2d") g.weights["n/weight"] = ones({3, 3, 2, 4});
    if (s.name == "depthwise_conv2d") g.weights["n/weight"] = ones({3, 3, 2});
    if (s.name == "dense") g.weights["n/weight"] = ones({32, 3});
    if (s.name == "mul") g.weights["n/scale"] = ones({2});
    if (s.name == "batch_norm") {
      g.weights["n/scale"] = ones({2});
      g.weights["n/shift"] = ones({2});
    }
    if (s.name == "squeeze_excite") {
      g.weights["n/w1"] = ones({2, 1});
      g.weights["n/b1"] = ones({1});
      g.weights["n/w2"] = ones({1, 2});
      g.weights["n/b2"] = ones({2});
    }
    if (s.name == "pad") n.attrs.set("pads", std::vector<int64_t>{1, 1, 1, 1, 0, 0});
    if (s.name == "reshape") n.attrs.set("shape", std::vector<int64_t>{-1, 1, 2});
    const std::unique_ptr<Op> op = make_op(g, n, Isa::Scalar);
    REQUIRE(op != nullptr);
    CHECK(std::string(op->type()).size() > 0);
    const std::vector<Shape> in(n.inputs.size(), Shape(1, 4, 4, 2));
    CHECK(op->output_shape(in).valid());
  }
}

TEST_CASE("op registry: attributes and weights outside an op's entry are refused") {
  const OpSpec& softmax = *find_op_spec("softmax");
  GraphDef g;
  NodeDef n;
  n.name = "s";
  n.op = "softmax";
  const OpContext c(softmax, g, n, Isa::Scalar);
  CHECK_THROWS_WITH_AS(c.get_int("axis"), doctest::Contains("does not declare attribute"), Error);
  CHECK_THROWS_WITH_AS(c.find_weight("weight"), doctest::Contains("does not declare weight"),
                       Error);
  // A required attribute without default that is missing names the key.
  NodeDef r;
  r.name = "r";
  r.op = "reshape";
  r.inputs = {"x"};
  r.output = "r";
  CHECK_THROWS_WITH_AS(make_op(g, r, Isa::Scalar), doctest::Contains("shape"), Error);
  // Arity comes from the entry.
  r.inputs = {"x", "x"};
  CHECK_THROWS_WITH_AS(make_op(g, r, Isa::Scalar), doctest::Contains("takes 1 input"), Error);
  NodeDef u = r;
  u.op = "frobnicate";
  CHECK_THROWS_WITH_AS(make_op(g, u, Isa::Scalar), doctest::Contains("unsupported op"), Error);
}

}  // namespace mien
