// Reading and writing .mien files (FORMAT.md beside this file). The reader trusts
// nothing: every count, length and offset is checked against the bytes that are there,
// so a truncated or hostile file is a mien::Error, never a crash or a huge allocation.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "mien/core/error.hpp"
#include "mien/core/tensor.hpp"
#include "mien/model/metadata.hpp"

namespace mien {

constexpr uint32_t kFormatVersion = 1;
constexpr std::size_t kHeaderSize = 64;
constexpr std::size_t kDataAlignment = 64;
constexpr std::size_t kMaxKeyLength = 4096;
constexpr int kMaxTensorRank = 8;

// I8: the int8 weights of quantized ops (qconv2d), held as float in memory like the others
// (every int8 value is exact in float) and written back as bytes.
enum class DType : uint8_t { F32 = 1, F16 = 2, I8 = 3 };

inline uint64_t dtype_size(DType t) {
  return t == DType::F32 ? 4 : t == DType::F16 ? 2 : 1;
}

// Element count and "[a,b,c]" text of a tensor shape.
inline int64_t dims_count(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}
inline std::string dims_str(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? "," : "") + std::to_string(dims[i]);
  return s + "]";
}

// A named tensor as stored in the file, always held as float32 in memory. `dtype` is how
// it is written: F32, or I8 for integer values in [-128, 127] (F16 files are read, not
// written).
struct FileTensor {
  std::vector<int64_t> dims;
  std::vector<float> data;
  DType dtype = DType::F32;

  int64_t count() const { return dims_count(dims); }
  std::string shape_str() const { return dims_str(dims); }
};

struct MienFile {
  Metadata meta;
  std::map<std::string, FileTensor> tensors;
};

// A tensor table entry pointing into the file bytes (validated, not copied).
struct TensorEntry {
  DType dtype = DType::F32;
  std::vector<int64_t> dims;
  const uint8_t* bytes = nullptr;  // nbytes of little-endian f32 / f16 values or int8
  uint64_t nbytes = 0;

  int64_t count() const { return dims_count(dims); }
  std::string shape_str() const { return dims_str(dims); }
  // The values as float32 in place, when the bytes are f32 and aligned for float (files are
  // 64-byte aligned from their start, so a buffer aligned likewise gives aligned tensors).
  const float* f32_in_place() const {
    if (dtype != DType::F32 || reinterpret_cast<uintptr_t>(bytes) % alignof(float) != 0)
      return nullptr;
    return reinterpret_cast<const float*>(bytes);
  }
};

// A parsed file whose tensors are views of the bytes given to parse_mien_view(): valid
// only as long as those bytes are.
struct MienView {
  Metadata meta;
  std::map<std::string, TensorEntry> tensors;
};

namespace detail {

inline uint32_t crc32_update(uint32_t crc, const uint8_t* data, std::size_t size) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (std::size_t i = 0; i < size; ++i) crc = table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

inline float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1F, mant = h & 0x3FF, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) {
        mant <<= 1;
        --exp;
      }
      bits = sign | (exp << 23) | ((mant & 0x3FF) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Converts an entry's values to float32 into out[0, count) (memcpy: no alignment needed).
inline void read_values(const TensorEntry& t, float* out) {
  const uint64_t count = uint64_t(t.count());
  if (t.dtype == DType::F32) {
    if (count) std::memcpy(out, t.bytes, count * 4);
    return;
  }
  if (t.dtype == DType::I8) {
    for (uint64_t k = 0; k < count; ++k) out[k] = float(int8_t(t.bytes[k]));
    return;
  }
  for (uint64_t k = 0; k < count; ++k) {
    uint16_t hbits;
    std::memcpy(&hbits, t.bytes + 2 * k, 2);
    out[k] = half_to_float(hbits);
  }
}

// Bounds-checked little-endian cursor over the file bytes.
class ByteReader {
 public:
  ByteReader(const uint8_t* data, std::size_t size, std::size_t pos)
      : data_(data), size_(size), pos_(pos) {}
  template <typename T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string read_string(const char* what, std::size_t max_len) {
    const uint32_t len = read<uint32_t>(what);
    MIEN_CHECK(len <= max_len, what, " length ", len, " exceeds the limit ", max_len);
    need(len, what);
    std::string s(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += len;
    return s;
  }
  // An element count whose elements (each at least min_bytes) must fit in what is left.
  uint32_t read_count(const char* what, std::size_t min_bytes) {
    const uint32_t n = read<uint32_t>(what);
    MIEN_CHECK(min_bytes == 0 || n <= (size_ - pos_) / min_bytes, what, " count ", n,
               " does not fit in the file");
    return n;
  }
  std::size_t pos() const { return pos_; }

 private:
  void need(std::size_t n, const char* what) const {
    MIEN_CHECK(n <= size_ - pos_, "file truncated while reading ", what, " at byte ", pos_);
  }
  const uint8_t* data_;
  std::size_t size_, pos_;
};

inline MetaValue read_value(ByteReader& r, const std::string& key) {
  const uint8_t type = r.read<uint8_t>("metadata type");
  switch (static_cast<ValueType>(type)) {
    case ValueType::Int:
      return r.read<int64_t>("int64 value");
    case ValueType::Float:
      return r.read<double>("float64 value");
    case ValueType::String:
      return r.read_string("string value", 1u << 30);
    case ValueType::IntArray: {
      std::vector<int64_t> v(r.read_count("int64 array", 8));
      for (auto& x : v) x = r.read<int64_t>("int64 array item");
      return v;
    }
    case ValueType::FloatArray: {
      std::vector<double> v(r.read_count("float64 array", 8));
      for (auto& x : v) x = r.read<double>("float64 array item");
      return v;
    }
    case ValueType::StringArray: {
      std::vector<std::string> v(r.read_count("string array", 4));
      for (auto& x : v) x = r.read_string("string array item", 1u << 30);
      return v;
    }
  }
  throw_error("metadata key '", key, "' has unknown value type ", int(type));
}

template <typename T>
void put(std::vector<uint8_t>& out, T v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}
inline void put_string(std::vector<uint8_t>& out, const std::string& s) {
  put<uint32_t>(out, uint32_t(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}
inline void put_value(std::vector<uint8_t>& out, const MetaValue& v) {
  put<uint8_t>(out, uint8_t(value_type(v)));
  switch (value_type(v)) {
    case ValueType::Int:
      put(out, std::get<int64_t>(v));
      break;
    case ValueType::Float:
      put(out, std::get<double>(v));
      break;
    case ValueType::String:
      put_string(out, std::get<std::string>(v));
      break;
    case ValueType::IntArray: {
      const auto& a = std::get<std::vector<int64_t>>(v);
      put<uint32_t>(out, uint32_t(a.size()));
      for (int64_t x : a) put(out, x);
      break;
    }
    case ValueType::FloatArray: {
      const auto& a = std::get<std::vector<double>>(v);
      put<uint32_t>(out, uint32_t(a.size()));
      for (double x : a) put(out, x);
      break;
    }
    case ValueType::StringArray: {
      const auto& a = std::get<std::vector<std::string>>(v);
      put<uint32_t>(out, uint32_t(a.size()));
      for (const auto& x : a) put_string(out, x);
      break;
    }
  }
}

inline std::size_t align_up(std::size_t n, std::size_t a) {
  return (n + a - 1) / a * a;
}

}  // namespace detail

inline uint32_t crc32(const uint8_t* data, std::size_t size) {
  return detail::crc32_update(0, data, size);
}

// Parses and validates a whole .mien file held in memory without copying tensor data: the
// entries point into `data`. `origin` names the file in error messages.
inline MienView parse_mien_view(const uint8_t* data, std::size_t size, const std::string& origin) {
  try {
    MIEN_CHECK(size >= kHeaderSize, "not a .mien file: ", size,
               " bytes is shorter than the header");
    MIEN_CHECK(std::memcmp(data, "MIEN", 4) == 0, "not a .mien file (bad magic)");
    detail::ByteReader h(data, size, 4);
    const uint32_t version = h.read<uint32_t>("version");
    MIEN_CHECK(version == kFormatVersion, "unsupported .mien format version ", version,
               " (this build reads version ", kFormatVersion, ")");
    const uint32_t stored_crc = h.read<uint32_t>("checksum");
    h.read<uint32_t>("reserved");
    const uint64_t file_size = h.read<uint64_t>("file size");
    const uint64_t data_offset = h.read<uint64_t>("data offset");
    const uint32_t meta_count = h.read<uint32_t>("metadata count");
    const uint32_t tensor_count = h.read<uint32_t>("tensor count");
    MIEN_CHECK(file_size == size, "file is ", size, " bytes but its header says ", file_size,
               " (truncated or padded)");
    MIEN_CHECK(
        data_offset >= kHeaderSize && data_offset <= size && data_offset % kDataAlignment == 0,
        "invalid data offset ", data_offset);
    const uint32_t crc = crc32(data + 12, size - 12);
    MIEN_CHECK(crc == stored_crc, "checksum mismatch (file is corrupt)");

    MienView file;
    detail::ByteReader r(data, data_offset, kHeaderSize);
    // Each entry needs at least 5 bytes of key header + 1 of type + 1 of value.
    MIEN_CHECK(meta_count <= (data_offset - kHeaderSize) / 6, "metadata count ", meta_count,
               " does not fit in the file");
    for (uint32_t i = 0; i < meta_count; ++i) {
      std::string key = r.read_string("metadata key", kMaxKeyLength);
      MIEN_CHECK(!key.empty(), "empty metadata key");
      MIEN_CHECK(!file.meta.has(key), "duplicate metadata key '", key, "'");
      file.meta.set(key, detail::read_value(r, key));
    }
    MIEN_CHECK(tensor_count <= (data_offset - r.pos()) / 22, "tensor count ", tensor_count,
               " does not fit in the file");
    struct Span {
      uint64_t begin, end;
      std::string name;
    };
    std::vector<Span> spans;
    for (uint32_t i = 0; i < tensor_count; ++i) {
      std::string name = r.read_string("tensor name", kMaxKeyLength);
      MIEN_CHECK(!name.empty(), "empty tensor name");
      MIEN_CHECK(!file.tensors.count(name), "duplicate tensor '", name, "'");
      const uint8_t dtype = r.read<uint8_t>("tensor dtype");
      MIEN_CHECK(dtype == uint8_t(DType::F32) || dtype == uint8_t(DType::F16) ||
                     dtype == uint8_t(DType::I8),
                 "tensor '", name, "' has unknown dtype ", int(dtype));
      const uint8_t ndim = r.read<uint8_t>("tensor rank");
      MIEN_CHECK(ndim <= kMaxTensorRank, "tensor '", name, "' has rank ", int(ndim));
      TensorEntry t;
      t.dtype = DType(dtype);
      uint64_t count = 1;
      for (int d = 0; d < ndim; ++d) {
        const int64_t dim = r.read<int64_t>("tensor dim");
        MIEN_CHECK(dim >= 1 && dim <= (int64_t(1) << 40), "tensor '", name, "' has dimension ",
                   dim);
        t.dims.push_back(dim);
        count *= uint64_t(dim);
        MIEN_CHECK(count <= size, "tensor '", name, "' is larger than the file");
      }
      const uint64_t offset = r.read<uint64_t>("tensor offset");
      const uint64_t nbytes = r.read<uint64_t>("tensor size");
      const uint64_t elem = dtype_size(DType(dtype));
      MIEN_CHECK(nbytes == count * elem, "tensor '", name, "' declares ", nbytes, " bytes for ",
                 count, " elements");
      MIEN_CHECK(offset % kDataAlignment == 0, "tensor '", name, "' is not 64-byte aligned");
      MIEN_CHECK(offset <= size - data_offset && nbytes <= size - data_offset - offset, "tensor '",
                 name, "' lies outside the file");
      t.bytes = data + data_offset + offset;
      t.nbytes = nbytes;
      spans.push_back({offset, offset + nbytes, name});
      file.tensors.emplace(std::move(name), std::move(t));
    }
    std::sort(spans.begin(), spans.end(),
              [](const Span& a, const Span& b) { return a.begin < b.begin; });
    for (std::size_t i = 1; i < spans.size(); ++i)
      MIEN_CHECK(spans[i].begin >= spans[i - 1].end, "tensors '", spans[i - 1].name, "' and '",
                 spans[i].name, "' overlap");
    return file;
  } catch (Error& e) {
    e.set_file(origin);
    throw;
  }
}

// Parses a whole .mien file held in memory into owned tensors (for tools and tests that
// edit files; Model::load keeps views instead).
inline MienFile parse_mien(const uint8_t* data, std::size_t size, const std::string& origin) {
  MienView view = parse_mien_view(data, size, origin);
  MienFile file;
  file.meta = std::move(view.meta);
  for (auto& kv : view.tensors) {
    FileTensor t;
    t.dims = kv.second.dims;
    t.data.resize(std::size_t(kv.second.count()));
    t.dtype = kv.second.dtype == DType::I8 ? DType::I8 : DType::F32;
    detail::read_values(kv.second, t.data.data());
    file.tensors.emplace(kv.first, std::move(t));
  }
  return file;
}

// Largest model file read (the biggest shipped model is ~60 MB).
constexpr uint64_t kMaxModelFileBytes = uint64_t(4) << 30;

// Reads a whole file. The size comes from the bytes actually read, never from a seek: on a
// folder tellg() returns LLONG_MAX (an 8 EiB allocation), on a pipe -1.
inline std::vector<uint8_t> read_file_bytes(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    throw Error(path + ": cannot open file: " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw Error(path + ": is a folder, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open file");
  std::vector<uint8_t> bytes;
  if (S_ISREG(st.st_mode)) {
    if (uint64_t(st.st_size) > kMaxModelFileBytes)
      throw Error(path + ": file too large (" + std::to_string(st.st_size) + " bytes)");
    bytes.reserve(std::size_t(st.st_size));
  }
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    bytes.insert(bytes.end(), buf, buf + in.gcount());
    if (bytes.size() > kMaxModelFileBytes) throw Error(path + ": file too large");
  }
  if (in.bad()) throw Error(path + ": read failed");
  return bytes;
}

// Bytes in one 64-byte aligned allocation, move-only: a file read into it has its f32
// tensors aligned for float, so they can be viewed in place.
class AlignedBytes {
 public:
  AlignedBytes() = default;
  explicit AlignedBytes(std::size_t size) : buffer_((size + 3) / 4), size_(size) {}
  uint8_t* data() { return reinterpret_cast<uint8_t*>(buffer_.data()); }
  const uint8_t* data() const { return reinterpret_cast<const uint8_t*>(buffer_.data()); }
  std::size_t size() const { return size_; }
  // Keeps the first n bytes (n <= size()).
  void shrink(std::size_t n) { size_ = std::min(size_, n); }

 private:
  AlignedBuffer buffer_;  // floats, 64-byte aligned (core/tensor.hpp)
  std::size_t size_ = 0;
};

// Reads a whole file once into one aligned buffer. A regular file is read straight into a
// buffer of its size (read(2), no growing); a pipe or device through read_file_bytes().
// A file that shrinks while being read yields fewer bytes, which the header's file_size
// then rejects. (Not mmap: a file truncated by another process while mapped would kill
// the reader with SIGBUS, and a truncated file must be an error, never a crash.)
inline AlignedBytes read_file_aligned(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    throw Error(path + ": cannot open file: " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw Error(path + ": is a folder, not a file");
  if (!S_ISREG(st.st_mode)) {
    const std::vector<uint8_t> v = read_file_bytes(path);
    AlignedBytes b(v.size());
    if (!v.empty()) std::memcpy(b.data(), v.data(), v.size());
    return b;
  }
  if (uint64_t(st.st_size) > kMaxModelFileBytes)
    throw Error(path + ": file too large (" + std::to_string(st.st_size) + " bytes)");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open file: " + std::strerror(errno));
  AlignedBytes b(std::size_t(st.st_size));
  std::size_t got = 0;
  while (got < b.size()) {
    const ssize_t n = ::read(fd, b.data() + got, b.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      throw Error(path + ": read failed: " + std::strerror(errno));
    }
    if (n == 0) break;
    got += std::size_t(n);
  }
  ::close(fd);
  b.shrink(got);
  return b;
}

inline MienFile read_mien(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return parse_mien(bytes.data(), bytes.size(), path);
}

// Serialises with sorted keys and tensor names (std::map order), so output is reproducible.
inline std::vector<uint8_t> serialize_mien(const MienFile& file) {
  using detail::put;
  std::vector<uint8_t> out(kHeaderSize, 0);
  for (const auto& kv : file.meta.values()) {
    MIEN_CHECK(!kv.first.empty() && kv.first.size() <= kMaxKeyLength, "invalid metadata key '",
               kv.first, "'");
    detail::put_string(out, kv.first);
    detail::put_value(out, kv.second);
  }
  uint64_t offset = 0;
  for (const auto& kv : file.tensors) {
    const FileTensor& t = kv.second;
    MIEN_CHECK(int(t.dims.size()) <= kMaxTensorRank, "tensor '", kv.first, "' rank too high");
    MIEN_CHECK(uint64_t(t.count()) == t.data.size(), "tensor '", kv.first, "' has ", t.data.size(),
               " values for shape ", t.shape_str());
    MIEN_CHECK(t.dtype == DType::F32 || t.dtype == DType::I8, "tensor '", kv.first,
               "': only f32 and i8 tensors are written");
    if (t.dtype == DType::I8)
      for (float v : t.data)
        MIEN_CHECK(v >= -128.f && v <= 127.f && v == float(int(v)), "tensor '", kv.first,
                   "' holds ", v, ", not an int8 value");
    const uint64_t nbytes = t.data.size() * dtype_size(t.dtype);
    detail::put_string(out, kv.first);
    put<uint8_t>(out, uint8_t(t.dtype));
    put<uint8_t>(out, uint8_t(t.dims.size()));
    for (int64_t d : t.dims) put<int64_t>(out, d);
    put<uint64_t>(out, offset);
    put<uint64_t>(out, nbytes);
    offset = detail::align_up(offset + nbytes, kDataAlignment);
  }
  const std::size_t data_offset = detail::align_up(out.size(), kDataAlignment);
  out.resize(data_offset + offset, 0);
  uint64_t pos = data_offset;
  for (const auto& kv : file.tensors) {
    const FileTensor& t = kv.second;
    const auto& d = t.data;
    if (t.dtype == DType::I8) {
      for (std::size_t i = 0; i < d.size(); ++i) out[pos + i] = uint8_t(int8_t(d[i]));
    } else if (!d.empty()) {
      std::memcpy(out.data() + pos, d.data(), d.size() * 4);
    }
    pos = detail::align_up(pos + d.size() * dtype_size(t.dtype), kDataAlignment);
  }
  std::memcpy(out.data(), "MIEN", 4);
  auto put_at = [&](std::size_t at, auto v) { std::memcpy(out.data() + at, &v, sizeof v); };
  put_at(4, kFormatVersion);
  put_at(16, uint64_t(out.size()));
  put_at(24, uint64_t(data_offset));
  put_at(32, uint32_t(file.meta.size()));
  put_at(36, uint32_t(file.tensors.size()));
  put_at(8, crc32(out.data() + 12, out.size() - 12));
  return out;
}

inline void write_mien(const std::string& path, const MienFile& file) {
  const std::vector<uint8_t> bytes = serialize_mien(file);
  // Write to a temporary name and rename, so a failed write never leaves half a model.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(path + ": cannot open for writing");
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    if (!out) throw Error(path + ": write failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(path + ": cannot rename temporary file");
  }
}

}  // namespace mien
