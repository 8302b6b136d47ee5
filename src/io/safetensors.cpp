#include "io/safetensors.h"

#include <ATen/Functions.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <utility>
#include <vector>

#include "io/bytes.h"

namespace bark::io {
namespace {

// Upstream's reader refuses headers above 100 MB (safetensors MAX_HEADER_SIZE).
constexpr uint64_t kMaxHeaderSize = 100'000'000;

struct Mapping {
  void* data = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (data != nullptr) ::munmap(data, size);
  }
};

struct DtypeInfo {
  const char* name;
  at::ScalarType type;
  uint64_t size;
};

constexpr DtypeInfo kDtypes[] = {
    {"F64", at::kDouble, 8}, {"F32", at::kFloat, 4}, {"F16", at::kHalf, 2},  {"BF16", at::kBFloat16, 2},
    {"I64", at::kLong, 8},   {"I32", at::kInt, 4},   {"I16", at::kShort, 2}, {"I8", at::kChar, 1},
    {"U8", at::kByte, 1},    {"BOOL", at::kBool, 1},
};

}  // namespace

models::TensorSource load_safetensors(const std::string& path) {
  const std::string where = "safetensors file '" + path + "'";
  const auto fail = [&](const std::string& why) { return std::runtime_error(where + ": " + why); };

  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw fail(std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw fail("not a regular file");
  }
  const auto file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < 8) {
    ::close(fd);
    throw fail("truncated (" + std::to_string(file_size) + " bytes; a safetensors file starts with an 8-byte header length)");
  }
  auto mapping = std::make_shared<Mapping>();
  void* p = ::mmap(nullptr, file_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) throw fail(std::string("cannot map: ") + std::strerror(errno));
  mapping->data = p;
  mapping->size = file_size;
  const auto* bytes = static_cast<const uint8_t*>(p);

  const uint64_t header_size = le64(bytes);
  if (header_size > kMaxHeaderSize) throw fail("header length " + std::to_string(header_size) + " exceeds 100 MB");
  if (header_size > file_size - 8) {
    throw fail("header length " + std::to_string(header_size) + " runs past the end of the file (" +
               std::to_string(file_size) + " bytes)");
  }
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(reinterpret_cast<const char*>(bytes + 8),
                                   reinterpret_cast<const char*>(bytes + 8 + header_size));
  } catch (const nlohmann::json::exception& e) {
    std::string msg = e.what();
    std::replace(msg.begin(), msg.end(), '\n', ' ');
    throw fail("header is not valid JSON (" + msg + ")");
  }
  if (!header.is_object()) throw fail("header is not a JSON object");

  const uint64_t data_start = 8 + header_size;
  const uint64_t data_size = file_size - data_start;
  models::TensorSource source;
  source.origin = where;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      if (!info.is_object()) throw fail("__metadata__ is not an object");
      continue;
    }
    const std::string t = "tensor '" + name + "': ";
    if (!info.is_object()) throw fail(t + "entry is not an object");
    const auto dt = info.find("dtype");
    const auto sh = info.find("shape");
    const auto off = info.find("data_offsets");
    if (dt == info.end() || !dt->is_string()) throw fail(t + "no string 'dtype'");
    if (sh == info.end() || !sh->is_array()) throw fail(t + "no array 'shape'");
    if (off == info.end() || !off->is_array() || off->size() != 2) throw fail(t + "'data_offsets' is not [begin, end]");
    const std::string dtype = dt->get<std::string>();
    const DtypeInfo* type = nullptr;
    for (const auto& d : kDtypes) {
      if (dtype == d.name) type = &d;
    }
    if (type == nullptr) throw fail(t + "unsupported dtype '" + dtype + "'");
    if (sh->size() > 16) throw fail(t + std::to_string(sh->size()) + " dimensions");
    std::vector<int64_t> shape;
    uint64_t numel = 1;
    for (const auto& d : *sh) {
      if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<int64_t>() >= 0)) {
        throw fail(t + "shape entries must be non-negative integers");
      }
      const uint64_t n = d.get<uint64_t>();
      if (n > (uint64_t{1} << 48) || (n != 0 && numel > std::numeric_limits<uint64_t>::max() / n / type->size)) {
        throw fail(t + "shape is impossibly large");
      }
      numel *= n;
      shape.push_back(static_cast<int64_t>(n));
    }
    for (const auto& o : *off) {
      if (!o.is_number_unsigned() && !(o.is_number_integer() && o.get<int64_t>() >= 0)) {
        throw fail(t + "data_offsets must be non-negative integers");
      }
    }
    const uint64_t begin = (*off)[0].get<uint64_t>(), end = (*off)[1].get<uint64_t>();
    if (begin > end || end > data_size) {
      throw fail(t + "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                 "] outside the data section (" + std::to_string(data_size) + " bytes; truncated file?)");
    }
    if (end - begin != numel * type->size) {
      throw fail(t + "data_offsets cover " + std::to_string(end - begin) + " bytes but " + dtype + " of this shape needs " +
                 std::to_string(numel * type->size));
    }
    ranges.emplace_back(begin, end);
    const uint8_t* data = bytes + data_start + begin;
    at::Tensor tensor;
    if (reinterpret_cast<uintptr_t>(data) % type->size != 0 || numel == 0) {
      // misaligned for its dtype (the format does not promise alignment) or empty: copied
      tensor = at::empty(shape, at::TensorOptions().dtype(type->type));
      if (numel != 0) std::memcpy(tensor.data_ptr(), data, end - begin);
    } else {
      std::shared_ptr<Mapping> keep = mapping;
      tensor = at::from_blob(const_cast<uint8_t*>(data), shape, [keep](void*) mutable { keep.reset(); },
                             at::TensorOptions().dtype(type->type));
    }
    source.tensors.emplace_back(name, std::move(tensor));
  }
  // The format forbids overlapping tensors (one byte, two tensors): an edit through one would
  // show through the other.
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first < ranges[i - 1].second) throw fail("tensors overlap in the data section");
  }
  return source;
}

}  // namespace bark::io
