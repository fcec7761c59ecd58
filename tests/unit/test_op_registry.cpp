// The op registry (model/op_registry.hpp) is the one list of ops: its entries are
// consistent, FORMAT.md's op table and the Python converters' op and activation lists
// name the same ops, and every op builds through it.
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "mien/mien.hpp"
#include "test_util.hpp"

namespace mien {
namespace {

// The Python side's one op table (tools/convert/mienconv/ops.py: OPS and ACTIVATIONS, a
// plain literal), printed as JSON by `python3 -m mienconv.ops`.
constexpr const char* kPythonConvertDir = MIEN_SOURCE_DIR "/tools/convert";
constexpr const char* kFormatDoc = MIEN_SOURCE_DIR "/include/mien/model/FORMAT.md";

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot read ", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The Python op table as JSON ({"ops": {name: {inputs, weights, attrs}}, "activations"}).
nlohmann::json python_op_table() {
  const std::string cmd = std::string("cd '") + kPythonConvertDir + "' && python3 -m mienconv.ops";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  REQUIRE_MESSAGE(pipe, "cannot run ", cmd);
  std::string text;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) text.append(buf, n);
  REQUIRE_MESSAGE(::pclose(pipe) == 0, "failed: ", cmd);
  return nlohmann::json::parse(text);
}

// "int64[2]" (FORMAT.md's type with its length) -> "int64[]" (value_type_name).
std::string without_length(const std::string& type) {
  const std::size_t open = type.find('[');
  return open == std::string::npos ? type : type.substr(0, open) + "[]";
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

TEST_CASE("op registry: the Python converters' op table is the same table") {
  const nlohmann::json py = python_op_table();
  std::set<std::string> py_ops;
  for (const auto& [name, op] : py.at("ops").items()) {
    py_ops.insert(name);
    CAPTURE(name);
    const OpSpec* spec = find_op_spec(name);
    REQUIRE_MESSAGE(spec, "Python lists op ", name, ", the C++ registry does not");
    CHECK(op.at("inputs").at(0).get<int>() == spec->min_inputs);
    // A file's conv2d has one input (FORMAT.md); the second the registry allows is the
    // residual the optimiser fuses in at load time, never written by a converter.
    const int file_max_inputs = spec->max_inputs - (spec->traits.fuses_residual ? 1 : 0);
    CHECK(op.at("inputs").at(1).get<int>() == file_max_inputs);
    std::set<std::string> py_weights, cpp_weights;
    for (const auto& [role, need] : op.at("weights").items()) {
      py_weights.insert(role + (need == "required" ? "!" : "?"));
    }
    for (const WeightSpec& w : spec->weights) cpp_weights.insert(w.role + (w.required ? "!" : "?"));
    CHECK(py_weights == cpp_weights);
    std::set<std::string> py_attrs, cpp_attrs;
    for (const auto& [attr, type] : op.at("attrs").items())
      py_attrs.insert(attr + ":" + without_length(type.get<std::string>()));
    for (const AttrSpec& a : spec->attrs) cpp_attrs.insert(a.name + ":" + value_type_name(a.type));
    CHECK(py_attrs == cpp_attrs);
  }
  const std::set<std::string> cpp = registry_names();
  INFO("Python OPS: ", join(py_ops));
  INFO("registry:   ", join(cpp));
  CHECK(py_ops == cpp);

  std::set<std::string> acts, py_acts;
  for (int k = 0; k <= int(ActKind::HardSwish); ++k) {
    Activation a;
    a.kind = static_cast<ActKind>(k);
    acts.insert(a.name());
  }
  for (const auto& a : py.at("activations")) py_acts.insert(a.get<std::string>());
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
    if (s.name == "qconv2d") {
      g.weights["n/weight"] = GraphBuilder::tensor({3, 3, 2, 4}, std::vector<float>(72, 3.f));
      g.weights["n/weight_scale"] = ones({4});
      n.attrs.set("input_scale", 0.01);
      n.attrs.set("input_zero_point", int64_t(0));
    }
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
