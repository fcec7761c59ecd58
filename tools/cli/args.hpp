// A small command-line parser for the mien subcommands: options with values, flags,
// positionals, generated --help. Usage mistakes throw UsageError (exit code 2).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace mien::cli {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class ArgParser {
 public:
  ArgParser(std::string usage, std::string summary)
      : usage_(std::move(usage)), summary_(std::move(summary)) {}

  ArgParser& flag(const std::string& name, const std::string& help) {
    specs_.push_back({name, "", help, "", false});
    return *this;
  }
  ArgParser& option(const std::string& name, const std::string& metavar, const std::string& help,
                    const std::string& fallback = "") {
    specs_.push_back({name, metavar, help, fallback, true});
    return *this;
  }

  // Returns false when --help was given (help already printed). "--" ends the options:
  // every later argument is a file, even "--json" or "-h". An option's value never starts
  // with "--" (`--threads --json` is a missing value, not threads "--json"); such a value
  // can still be given as --draw=--odd-name.
  bool parse(const std::vector<std::string>& args) {
    bool options_done = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
      const std::string& a = args[i];
      if (options_done) {
        positional_.push_back(a);
        continue;
      }
      if (a == "--") {
        options_done = true;
        continue;
      }
      if (a == "--help" || a == "-h") {
        std::fputs(help().c_str(), stdout);
        return false;
      }
      // A declared one-letter option ("-o") works like a long one.
      const bool short_option = a.size() == 2 && a[0] == '-' && find(a) != nullptr;
      if ((a.size() > 2 && a.compare(0, 2, "--") == 0) || short_option) {
        std::string name = a, value;
        const std::size_t eq = a.find('=');
        if (eq != std::string::npos) {
          name = a.substr(0, eq);
          value = a.substr(eq + 1);
        }
        const Spec* s = find(name);
        if (!s) throw UsageError("unknown option '" + name + "'");
        if (s->takes_value) {
          if (eq == std::string::npos) {
            if (i + 1 >= args.size() || args[i + 1].rfind("--", 0) == 0)
              throw UsageError(name + " needs a value (" + s->metavar + ")");
            value = args[++i];
          }
          values_[name] = value;
        } else {
          if (eq != std::string::npos) throw UsageError(name + " takes no value");
          flags_.insert(name);
        }
      } else {
        positional_.push_back(a);
      }
    }
    return true;
  }

  bool has(const std::string& name) const { return flags_.count(name) || values_.count(name); }
  std::string get(const std::string& name) const {
    auto it = values_.find(name);
    if (it != values_.end()) return it->second;
    const Spec* s = find(name);
    return s ? s->fallback : "";
  }
  int get_int(const std::string& name, int lo, int hi) const {
    const std::string v = get(name);
    char* end = nullptr;
    const long x = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end || x < lo || x > hi)
      throw UsageError(name + " must be an integer from " + std::to_string(lo) + " to " +
                       std::to_string(hi) + ", not '" + v + "'");
    return int(x);
  }
  double get_double(const std::string& name, double lo, double hi) const {
    const std::string v = get(name);
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end || !(x >= lo && x <= hi))
      throw UsageError(name + " must be a number from " + std::to_string(lo) + " to " +
                       std::to_string(hi) + ", not '" + v + "'");
    return x;
  }
  const std::vector<std::string>& positional() const { return positional_; }

  std::string help() const {
    std::string s = "usage: " + usage_ + "\n\n" + summary_ + "\n";
    if (!specs_.empty()) s += "\noptions:\n";
    for (const Spec& sp : specs_) {
      std::string left = "  " + sp.name + (sp.takes_value ? " " + sp.metavar : "");
      if (left.size() < 26)
        left.resize(26, ' ');
      else
        left += "\n" + std::string(26, ' ');
      s += left + sp.help;
      if (!sp.fallback.empty()) s += " (default " + sp.fallback + ")";
      s += "\n";
    }
    s += "  -h, --help                show this help\n";
    return s;
  }

 private:
  struct Spec {
    std::string name, metavar, help, fallback;
    bool takes_value;
  };
  const Spec* find(const std::string& name) const {
    for (const Spec& s : specs_)
      if (s.name == name) return &s;
    return nullptr;
  }
  std::string usage_, summary_;
  std::vector<Spec> specs_;
  std::map<std::string, std::string> values_;
  std::set<std::string> flags_;
  std::vector<std::string> positional_;
};

}  // namespace mien::cli
