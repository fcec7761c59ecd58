// `--shard K/N`: which part of a dataset this run takes, so that array jobs (Slurm, CI
// matrices) split it deterministically, each image in exactly one of the N shards.
//
// An image belongs to shard 1 + H(key) mod N, H = FNV-1a 64 of the key's bytes followed
// by MurmurHash3's 64-bit finaliser (FNV-1a alone leaves the low bits, the ones `mod N`
// reads, a function of the low bits of each byte). The key is the image's path relative
// to the folder argument it was found in, with '/' separators ("sub/a.jpg"), or the
// argument as given for a file named on the command line.
//
// Why a hash of the relative path and not every N-th file of the sorted list: an image
// keeps its shard when files are added or removed elsewhere in the dataset, or when the
// dataset is mounted at another path on another machine, so the outputs of earlier
// shards stay valid and a re-run of one shard redoes the same images. The price is
// shards that differ in size by a few sqrt(size/N) images instead of at most one.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>

#include "tools/cli/args.hpp"

namespace mien::cli {

struct Shard {
  int index = 1;  // K, 1-based (as in Playwright's --shard)
  int count = 1;  // N
};

// "K/N" with 1 <= K <= N <= 1000000; anything else is a usage error (exit 2).
inline Shard parse_shard(const std::string& text) {
  const auto bad = [&](const std::string& why) {
    return UsageError("--shard must be K/N with 1 <= K <= N (e.g. 2/8), not '" + text +
                      "': " + why);
  };
  const std::size_t slash = text.find('/');
  if (slash == std::string::npos) throw bad("no '/'");
  const auto number = [&](const std::string& s, const char* what) {
    // Digits only: strtol would also take "+3", " 3" or "3.0".
    if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos)
      throw bad(std::string(what) + " is not a whole number");
    return s.size() > 7 ? 10000000 : int(std::strtol(s.c_str(), nullptr, 10));  // > max
  };
  Shard s;
  s.index = number(text.substr(0, slash), "K");
  s.count = number(text.substr(slash + 1), "N");
  if (s.count < 1 || s.count > 1000000) throw bad("N must be from 1 to 1000000");
  if (s.index < 1 || s.index > s.count) throw bad("K must be from 1 to N");
  return s;
}

inline uint64_t shard_hash(const std::string& key) {
  uint64_t h = 14695981039346656037ull;  // FNV-1a 64
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ull;
  }
  h ^= h >> 33;  // MurmurHash3 fmix64
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

inline bool in_shard(const std::string& key, const Shard& s) {
  return s.count == 1 || int(shard_hash(key) % uint64_t(s.count)) == s.index - 1;
}

}  // namespace mien::cli
