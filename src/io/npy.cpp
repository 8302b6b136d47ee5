// .npy / .npz reading and writing; format per numpy/lib/format.py (numpy 1.24).
#include "io/npy.h"
#include "io/bytes.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>
#include <stdexcept>
#include <variant>

#include "io/atomic_file.h"
#include "io/zip.h"

namespace bark::io {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
constexpr size_t kArrayAlign = 64;             // numpy ARRAY_ALIGN
constexpr size_t kGrowthAxisMaxDigits = 21;    // numpy GROWTH_AXIS_MAX_DIGITS (>= 1.23)
constexpr size_t kMaxHeaderLen = 1 << 20;      // numpy's default max_header_size is 10'000
constexpr int kMaxNesting = 32;

// ---- dtype ---------------------------------------------------------------------------------

enum class Kind { Bool, Int, UInt, Float };

struct DType {
  Kind kind = Kind::Int;
  size_t size = 0;
  bool big_endian = false;
};

bool parse_dtype(const std::string& descr, DType* out, std::string* why) {
  size_t pos = 0;
  bool big = false;
  if (!descr.empty() && (descr[0] == '<' || descr[0] == '>' || descr[0] == '|' || descr[0] == '=')) {
    big = descr[0] == '>';
    pos = 1;
  }
  if (pos >= descr.size()) {
    *why = "empty dtype";
    return false;
  }
  const char kind = descr[pos];
  const std::string size_text = descr.substr(pos + 1);
  if (kind == 'O') {
    *why = "object arrays ('" + descr + "', pickled Python objects) are not supported; "
           "save plain numeric arrays (e.g. np.asarray(x, dtype=np.int64))";
    return false;
  }
  size_t size = 0;
  bool digits_ok = !size_text.empty() && size_text.size() <= 2 &&
                   std::all_of(size_text.begin(), size_text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits_ok) size = static_cast<size_t>(std::stoul(size_text));
  DType t;
  t.big_endian = big && size > 1;
  t.size = size;
  bool ok = digits_ok;
  switch (kind) {
    case 'b': t.kind = Kind::Bool; ok = ok && size == 1; break;
    case 'i': t.kind = Kind::Int; ok = ok && (size == 1 || size == 2 || size == 4 || size == 8); break;
    case 'u': t.kind = Kind::UInt; ok = ok && (size == 1 || size == 2 || size == 4 || size == 8); break;
    case 'f': t.kind = Kind::Float; ok = ok && (size == 4 || size == 8); break;
    default: ok = false;
  }
  if (!ok) {
    *why = "unsupported dtype '" + descr + "' (supported: bool, int8..int64, uint8..uint64, float32, float64)";
    return false;
  }
  *out = t;
  return true;
}

DType dtype_or_throw(const std::string& descr, const std::string& what) {
  DType t;
  std::string why;
  if (!parse_dtype(descr, &t, &why)) throw std::runtime_error(what + ": " + why);
  return t;
}

// ---- the header: a Python literal dict -------------------------------------------------------

struct PyValue;
using PyList = std::vector<PyValue>;
using PyDict = std::vector<std::pair<std::string, PyValue>>;
struct PyNone {};
struct PyValue {
  // list and tuple share PyList; `is_tuple` tells them apart.
  std::variant<PyNone, bool, int64_t, std::string, PyList, PyDict> v;
  bool is_tuple = false;
};

class LiteralParser {
 public:
  LiteralParser(const std::string& text, const std::string& what) : s_(text), what_(what) {}

  PyValue parse_all() {
    PyValue v = parse(0);
    skip_ws();
    if (pos_ != s_.size()) fail("unexpected text after the dict");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& msg) const {
    throw std::runtime_error(what_ + ": malformed .npy header (" + msg + " at column " + std::to_string(pos_) +
                             "): " + s_.substr(0, 200));
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool peek(char c) {
    skip_ws();
    return pos_ < s_.size() && s_[pos_] == c;
  }
  void expect(char c) {
    if (!peek(c)) fail(std::string("expected '") + c + "'");
    ++pos_;
  }

  PyValue parse(int depth) {
    if (depth > kMaxNesting) fail("nesting too deep");
    skip_ws();
    if (pos_ >= s_.size()) fail("unexpected end");
    const char c = s_[pos_];
    PyValue out;
    if (c == '{') {
      ++pos_;
      PyDict d;
      while (!peek('}')) {
        PyValue key = parse(depth + 1);
        if (!std::holds_alternative<std::string>(key.v)) fail("dict key is not a string");
        expect(':');
        d.emplace_back(std::get<std::string>(key.v), parse(depth + 1));
        if (peek(',')) {
          ++pos_;
        } else if (!peek('}')) {
          fail("expected ',' or '}'");
        }
      }
      ++pos_;
      out.v = std::move(d);
    } else if (c == '(' || c == '[') {
      const char close = c == '(' ? ')' : ']';
      ++pos_;
      PyList items;
      bool had_comma = false;
      while (!peek(close)) {
        items.push_back(parse(depth + 1));
        if (peek(',')) {
          ++pos_;
          had_comma = true;
        } else if (!peek(close)) {
          fail(std::string("expected ',' or '") + close + "'");
        }
      }
      ++pos_;
      if (c == '(' && items.size() == 1 && !had_comma) return std::move(items[0]);  // (x) is x
      out.v = std::move(items);
      out.is_tuple = c == '(';
    } else if (c == '\'' || c == '"' || ((c == 'u' || c == 'b') && pos_ + 1 < s_.size() &&
                                         (s_[pos_ + 1] == '\'' || s_[pos_ + 1] == '"'))) {
      if (c == 'u' || c == 'b') ++pos_;
      const char quote = s_[pos_++];
      std::string str;
      while (true) {
        if (pos_ >= s_.size()) fail("unterminated string");
        char ch = s_[pos_++];
        if (ch == quote) break;
        if (ch == '\\') {
          if (pos_ >= s_.size()) fail("unterminated string");
          ch = s_[pos_++];
        }
        str.push_back(ch);
      }
      out.v = std::move(str);
    } else if (c == '-' || c == '+' || (c >= '0' && c <= '9')) {
      bool negative = c == '-';
      if (c == '-' || c == '+') ++pos_;
      if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9') fail("bad number");
      uint64_t value = 0;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
        const uint64_t digit = static_cast<uint64_t>(s_[pos_] - '0');
        if (value > (static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) - digit) / 10) {
          fail("integer too large");
        }
        value = value * 10 + digit;
        ++pos_;
      }
      if (pos_ < s_.size() && (s_[pos_] == 'L' || s_[pos_] == 'l')) ++pos_;  // Python 2 long
      if (pos_ < s_.size() && (s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E')) fail("not an integer");
      out.v = negative ? -static_cast<int64_t>(value) : static_cast<int64_t>(value);
    } else {
      size_t end = pos_;
      while (end < s_.size() && std::isalnum(static_cast<unsigned char>(s_[end]))) ++end;
      const std::string word = s_.substr(pos_, end - pos_);
      if (word == "True") {
        out.v = true;
      } else if (word == "False") {
        out.v = false;
      } else if (word == "None") {
        out.v = PyNone{};
      } else {
        fail("unexpected '" + std::string(1, c) + "'");
      }
      pos_ = end;
    }
    return out;
  }

  const std::string& s_;
  const std::string& what_;
  size_t pos_ = 0;
};


std::string shape_repr(const std::vector<int64_t>& shape) {
  // Python's repr of a tuple of ints.
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

// Product of dims with overflow checks; -1 when it overflows int64 (or a dim is negative).
int64_t checked_numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return -1;
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d) return -1;
    n *= d;
  }
  return n;
}

// Calls f(c_index, stored_index) for every element in C order.
template <typename F>
void for_each_c_order(const std::vector<int64_t>& shape, bool fortran_order, int64_t numel, F&& f) {
  if (!fortran_order || shape.size() <= 1) {
    for (int64_t i = 0; i < numel; ++i) f(i, i);
    return;
  }
  if (numel == 0) return;
  const size_t nd = shape.size();
  std::vector<int64_t> stride(nd), idx(nd, 0);
  int64_t s = 1;
  for (size_t k = 0; k < nd; ++k) {  // Fortran strides: first axis fastest
    stride[k] = s;
    s *= shape[k];
  }
  int64_t src = 0;
  for (int64_t i = 0; i < numel; ++i) {
    f(i, src);
    for (size_t k = nd; k-- > 0;) {  // C odometer: last axis fastest
      if (++idx[k] < shape[k]) {
        src += stride[k];
        break;
      }
      src -= stride[k] * (shape[k] - 1);
      idx[k] = 0;
    }
  }
}

// Little-endian bits of element `i` (byte-swapped for big-endian dtypes).
inline uint64_t element_bits(const uint8_t* data, const DType& t, int64_t i) {
  const uint8_t* p = data + static_cast<size_t>(i) * t.size;
  uint64_t v = 0;
  if (t.big_endian) {
    for (size_t b = 0; b < t.size; ++b) v = (v << 8) | p[b];
  } else {
    for (size_t b = t.size; b-- > 0;) v = (v << 8) | p[b];
  }
  return v;
}

inline int64_t sign_extend(uint64_t v, size_t size) {
  if (size == 8) return static_cast<int64_t>(v);
  const unsigned shift = static_cast<unsigned>(64 - 8 * size);
  return static_cast<int64_t>(v << shift) >> shift;
}

inline double element_as_double(uint64_t bits, const DType& t) {
  switch (t.kind) {
    case Kind::Bool: return bits != 0 ? 1.0 : 0.0;
    case Kind::Int: return static_cast<double>(sign_extend(bits, t.size));
    case Kind::UInt: return static_cast<double>(bits);
    case Kind::Float:
      if (t.size == 4) {
        const uint32_t b32 = static_cast<uint32_t>(bits);
        float f;
        std::memcpy(&f, &b32, 4);
        return f;
      } else {
        double d;
        std::memcpy(&d, &bits, 8);
        return d;
      }
  }
  return 0.0;
}

void check_array(const NpyArray& a, const DType& t, const std::string& what) {
  const int64_t n = checked_numel(a.shape);
  if (n < 0) throw std::invalid_argument(what + ": invalid shape " + shape_repr(a.shape));
  if (static_cast<uint64_t>(n) > std::numeric_limits<uint64_t>::max() / t.size ||
      static_cast<uint64_t>(n) * t.size != a.data.size()) {
    throw std::invalid_argument(what + ": " + std::to_string(a.data.size()) + " data bytes do not match shape " +
                                shape_repr(a.shape) + " of dtype '" + a.descr + "'");
  }
}

template <typename T>
NpyArray make_array(const std::string& descr, const std::vector<int64_t>& shape, const std::vector<T>& values) {
  const int64_t n = checked_numel(shape);
  if (n < 0 || static_cast<uint64_t>(n) != values.size()) {
    throw std::invalid_argument("npy: " + std::to_string(values.size()) + " values do not fill shape " +
                                shape_repr(shape));
  }
  NpyArray a;
  a.descr = descr;
  a.shape = shape;
  a.fortran_order = false;
  a.data.resize(values.size() * sizeof(T));
  // Little-endian host assumed (x86-64, aarch64), as the "<" descr says.
  if (!values.empty()) std::memcpy(a.data.data(), values.data(), a.data.size());
  return a;
}

std::vector<uint8_t> read_whole_file(const std::string& path, const std::string& what) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) throw std::runtime_error(what + ": cannot open (" + std::strerror(errno) + ")");
  struct stat st {};
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    std::fclose(f);
    throw std::runtime_error(what + ": not a regular file");
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  const size_t got = bytes.empty() ? 0 : std::fread(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  if (got != bytes.size()) throw std::runtime_error(what + ": read error");
  return bytes;
}

}  // namespace

// ---- NpyArray ------------------------------------------------------------------------------

int64_t NpyArray::numel() const {
  const int64_t n = checked_numel(shape);
  if (n < 0) throw std::runtime_error("npy: invalid shape " + shape_repr(shape));
  return n;
}

size_t NpyArray::itemsize() const { return dtype_or_throw(descr, "npy").size; }

std::string NpyArray::describe() const {
  return shape_repr(shape) + " '" + descr + "' " + (fortran_order ? "Fortran order" : "C order");
}

std::vector<int64_t> NpyArray::to_int64() const {
  const DType t = dtype_or_throw(descr, "npy");
  if (t.kind == Kind::Float) {
    throw std::runtime_error("npy: array of dtype '" + descr + "' where an integer array was expected");
  }
  check_array(*this, t, "npy");
  const int64_t n = numel();
  std::vector<int64_t> out(static_cast<size_t>(n));
  const uint8_t* src = data.data();
  for_each_c_order(shape, fortran_order, n, [&](int64_t i, int64_t s) {
    const uint64_t bits = element_bits(src, t, s);
    int64_t v;
    if (t.kind == Kind::Int) {
      v = sign_extend(bits, t.size);
    } else if (t.kind == Kind::Bool) {
      v = bits != 0 ? 1 : 0;
    } else {
      if (bits > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        throw std::runtime_error("npy: uint64 value " + std::to_string(bits) + " does not fit in int64");
      }
      v = static_cast<int64_t>(bits);
    }
    out[static_cast<size_t>(i)] = v;
  });
  return out;
}

std::vector<double> NpyArray::to_float64() const {
  const DType t = dtype_or_throw(descr, "npy");
  check_array(*this, t, "npy");
  const int64_t n = numel();
  std::vector<double> out(static_cast<size_t>(n));
  const uint8_t* src = data.data();
  for_each_c_order(shape, fortran_order, n, [&](int64_t i, int64_t s) {
    out[static_cast<size_t>(i)] = element_as_double(element_bits(src, t, s), t);
  });
  return out;
}

std::vector<float> NpyArray::to_float32() const {
  const DType t = dtype_or_throw(descr, "npy");
  check_array(*this, t, "npy");
  const int64_t n = numel();
  std::vector<float> out(static_cast<size_t>(n));
  const uint8_t* src = data.data();
  for_each_c_order(shape, fortran_order, n, [&](int64_t i, int64_t s) {
    const uint64_t bits = element_bits(src, t, s);
    float v;
    if (t.kind == Kind::Float && t.size == 4) {
      const uint32_t b32 = static_cast<uint32_t>(bits);
      std::memcpy(&v, &b32, 4);
    } else if (t.kind == Kind::Int) {
      v = static_cast<float>(sign_extend(bits, t.size));  // direct int64 -> float rounding
    } else if (t.kind == Kind::UInt) {
      v = static_cast<float>(bits);
    } else {
      v = static_cast<float>(element_as_double(bits, t));
    }
    out[static_cast<size_t>(i)] = v;
  });
  return out;
}

// ---- .npy ----------------------------------------------------------------------------------

NpyHeader parse_npy_header(const uint8_t* data, size_t size, const std::string& what) {
  struct {
    const uint8_t* p;
    size_t n;
    size_t size() const { return n; }
    bool empty() const { return n == 0; }
    const uint8_t& operator[](size_t i) const { return p[i]; }
  } const bytes{data, size};
  if (bytes.size() < kMagicLen + 2 || std::memcmp(data, kMagic, kMagicLen) != 0) {
    if (bytes.empty() || (bytes.size() < kMagicLen + 2 &&
                          std::memcmp(data, kMagic, std::min(bytes.size(), kMagicLen)) == 0)) {
      throw std::runtime_error(what + ": truncated .npy data (" + std::to_string(bytes.size()) + " bytes)");
    }
    throw std::runtime_error(what + ": not a .npy array (bad magic; expected \"\\x93NUMPY\")");
  }
  const int major = bytes[6];
  const int minor = bytes[7];
  size_t header_start;
  uint64_t header_len;
  if (major == 1 && minor == 0) {
    if (bytes.size() < 10) throw std::runtime_error(what + ": truncated .npy header");
    header_len = le16(&bytes[8]);
    header_start = 10;
  } else if ((major == 2 || major == 3) && minor == 0) {
    if (bytes.size() < 12) throw std::runtime_error(what + ": truncated .npy header");
    header_len = le32(&bytes[8]);
    header_start = 12;
  } else {
    throw std::runtime_error(what + ": unsupported .npy format version " + std::to_string(major) + "." +
                             std::to_string(minor) + " (supported: 1.0, 2.0, 3.0)");
  }
  if (header_len > kMaxHeaderLen) {
    throw std::runtime_error(what + ": .npy header of " + std::to_string(header_len) + " bytes is implausibly large");
  }
  if (header_len > bytes.size() - header_start) {
    throw std::runtime_error(what + ": truncated .npy header (" + std::to_string(header_len) + " bytes declared, " +
                             std::to_string(bytes.size() - header_start) + " present)");
  }
  // Version 1/2 headers are latin-1, version 3 UTF-8; the keys and values we accept are ASCII.
  const std::string header(reinterpret_cast<const char*>(&bytes[header_start]), static_cast<size_t>(header_len));
  const PyValue root = LiteralParser(header, what).parse_all();
  const auto* dict = std::get_if<PyDict>(&root.v);
  if (dict == nullptr) throw std::runtime_error(what + ": .npy header is not a dict: " + header.substr(0, 200));

  NpyHeader a;
  std::set<std::string> seen;
  for (const auto& [key, value] : *dict) {
    seen.insert(key);
    if (key == "descr") {
      if (std::holds_alternative<PyList>(value.v)) {
        throw std::runtime_error(what + ": structured dtypes (record arrays) are not supported");
      }
      const auto* s = std::get_if<std::string>(&value.v);
      if (s == nullptr) throw std::runtime_error(what + ": .npy header 'descr' is not a string");
      a.descr = *s;
    } else if (key == "fortran_order") {
      const auto* b = std::get_if<bool>(&value.v);
      if (b == nullptr) throw std::runtime_error(what + ": .npy header 'fortran_order' is not True/False");
      a.fortran_order = *b;
    } else if (key == "shape") {
      const auto* items = std::get_if<PyList>(&value.v);
      if (items == nullptr || !value.is_tuple) {
        throw std::runtime_error(what + ": .npy header 'shape' is not a tuple");
      }
      for (const PyValue& item : *items) {
        const auto* d = std::get_if<int64_t>(&item.v);
        if (d == nullptr || *d < 0) {
          throw std::runtime_error(what + ": .npy header 'shape' must hold non-negative integers");
        }
        a.shape.push_back(*d);
      }
    } else {
      throw std::runtime_error(what + ": unexpected key '" + key + "' in .npy header");
    }
  }
  for (const char* key : {"descr", "fortran_order", "shape"}) {
    if (seen.count(key) == 0) throw std::runtime_error(what + ": .npy header has no '" + key + "'");
  }
  const DType t = dtype_or_throw(a.descr, what);
  const int64_t n = checked_numel(a.shape);
  if (n < 0 || static_cast<uint64_t>(n) > std::numeric_limits<uint64_t>::max() / t.size) {
    throw std::runtime_error(what + ": shape " + shape_repr(a.shape) + " overflows");
  }
  a.data_offset = header_start + header_len;
  a.data_bytes = static_cast<uint64_t>(n) * t.size;
  return a;
}

NpyArray parse_npy(const std::vector<uint8_t>& bytes, const std::string& what) {
  const NpyHeader h = parse_npy_header(bytes.data(), bytes.size(), what);
  const uint64_t present = bytes.size() - h.data_offset;
  if (h.data_bytes != present) {
    throw std::runtime_error(what + ": shape " + shape_repr(h.shape) + " of dtype '" + h.descr + "' needs " +
                             std::to_string(h.data_bytes) + " data bytes, but " + std::to_string(present) +
                             (h.data_bytes > present ? " are present (truncated?)" : " are present (trailing data?)"));
  }
  NpyArray a;
  a.descr = h.descr;
  a.shape = h.shape;
  a.fortran_order = h.fortran_order;
  a.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(h.data_offset), bytes.end());
  return a;
}

std::vector<uint8_t> serialize_npy(const NpyArray& a) {
  DType t;
  std::string why;
  if (!parse_dtype(a.descr, &t, &why)) throw std::invalid_argument("npy: " + why);
  check_array(a, t, "npy");
  // numpy's _write_array_header: sorted keys, repr values, growth padding, 64-byte alignment.
  std::string header = "{'descr': '" + a.descr + "', 'fortran_order': " + (a.fortran_order ? "True" : "False") +
                       ", 'shape': " + shape_repr(a.shape) + ", }";
  if (!a.shape.empty()) {
    const size_t digits = std::to_string(a.shape[a.fortran_order ? a.shape.size() - 1 : 0]).size();
    if (digits < kGrowthAxisMaxDigits) header.append(kGrowthAxisMaxDigits - digits, ' ');
  }
  // Version 1.0 unless the header length does not fit its 16-bit field (numpy then uses 2.0).
  const size_t hlen = header.size() + 1;
  auto padded_len = [&](size_t len_bytes) {
    return hlen + kArrayAlign - ((kMagicLen + 2 + len_bytes + hlen) % kArrayAlign);
  };
  auto wrap = [&](int major, size_t len_bytes) {
    const size_t total = padded_len(len_bytes);
    const size_t padlen = total - hlen;
    std::vector<uint8_t> out(kMagic, kMagic + kMagicLen);
    out.push_back(static_cast<uint8_t>(major));
    out.push_back(0);
    for (size_t i = 0; i < len_bytes; ++i) out.push_back(static_cast<uint8_t>(total >> (8 * i)));
    out.insert(out.end(), header.begin(), header.end());
    out.insert(out.end(), padlen, ' ');
    out.push_back('\n');
    return out;
  };
  std::vector<uint8_t> out = padded_len(2) <= 0xFFFF ? wrap(1, 2) : wrap(2, 4);
  out.insert(out.end(), a.data.begin(), a.data.end());
  return out;
}

NpyArray read_npy(const std::string& path) {
  const std::string what = "npy '" + path + "'";
  return parse_npy(read_whole_file(path, what), what);
}

// ---- .npz ----------------------------------------------------------------------------------

NpyArray read_npz_member(const ZipReader& zip, const ZipEntry& entry, uint64_t max_data_bytes) {
  const std::string what = "npz '" + zip.path() + "' member '" + entry.name + "'";
  // The header first (inflating only its bytes), then the data, bounded by what the header declares.
  std::vector<uint8_t> head(static_cast<size_t>(std::min<uint64_t>(entry.uncompressed_size, kMaxHeaderLen + 12)));
  zip.read_range(entry, 0, head.data(), head.size());
  const NpyHeader h = parse_npy_header(head.data(), head.size(), what);
  if (h.data_bytes > max_data_bytes) {
    throw std::runtime_error(what + ": shape " + shape_repr(h.shape) + " of dtype '" + h.descr + "' is " +
                             std::to_string(h.data_bytes) + " bytes, more than the " + std::to_string(max_data_bytes) +
                             " allowed for it");
  }
  if (entry.uncompressed_size != h.data_offset + h.data_bytes) {
    const uint64_t present = entry.uncompressed_size - h.data_offset;
    throw std::runtime_error(what + ": shape " + shape_repr(h.shape) + " of dtype '" + h.descr + "' needs " +
                             std::to_string(h.data_bytes) + " data bytes, but " + std::to_string(present) +
                             (h.data_bytes > present ? " are present (truncated?)" : " are present (trailing data?)"));
  }
  return parse_npy(zip.read(entry, h.data_offset + h.data_bytes), what);
}

std::map<std::string, NpyArray> read_npz(const std::string& path) {
  ZipReader zip(path);
  std::map<std::string, NpyArray> out;
  static const std::string kSuffix = ".npy";
  for (const ZipEntry& e : zip.entries()) {
    if (e.name.size() <= kSuffix.size() || e.name.compare(e.name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
      continue;
    }
    const std::string key = e.name.substr(0, e.name.size() - kSuffix.size());
    if (zip.find(e.name) != &e) continue;  // duplicate name: the last one wins, as in zipfile
    out[key] = read_npz_member(zip, e, UINT64_MAX);
  }
  return out;
}

namespace {
std::vector<std::vector<uint8_t>> npz_members(const std::string& path,
                                              const std::vector<std::pair<std::string, NpyArray>>& arrays) {
  std::set<std::string> keys;
  std::vector<std::vector<uint8_t>> members;
  members.reserve(arrays.size());
  for (const auto& [key, array] : arrays) {
    if (key.empty()) throw std::invalid_argument("npz '" + path + "': empty array name");
    if (!keys.insert(key).second) throw std::invalid_argument("npz '" + path + "': duplicate array name '" + key + "'");
    try {
      members.push_back(serialize_npy(array));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("npz '" + path + "': array '" + key + "': " + e.what());
    }
  }
  return members;
}
}  // namespace

void write_npz(const std::string& path, const std::vector<std::pair<std::string, NpyArray>>& arrays) {
  const auto members = npz_members(path, arrays);
  AtomicFile file(path);
  ZipWriter zip(file.temp_path());
  for (size_t i = 0; i < arrays.size(); ++i) zip.add(arrays[i].first + ".npy", members[i]);
  zip.finish();
  file.commit();
}

void write_npz_to(const std::string& path, const std::vector<std::pair<std::string, NpyArray>>& arrays) {
  const auto members = npz_members(path, arrays);
  ZipWriter zip(path);
  for (size_t i = 0; i < arrays.size(); ++i) zip.add(arrays[i].first + ".npy", members[i]);
  zip.finish();
}

NpyArray make_int64(const std::vector<int64_t>& shape, const std::vector<int64_t>& values) {
  return make_array("<i8", shape, values);
}
NpyArray make_int32(const std::vector<int64_t>& shape, const std::vector<int32_t>& values) {
  return make_array("<i4", shape, values);
}
NpyArray make_float32(const std::vector<int64_t>& shape, const std::vector<float>& values) {
  return make_array("<f4", shape, values);
}

}  // namespace bark::io
