#include "io/torch_archive.h"

#include <stdexcept>

namespace bark::io {
namespace {

// a * b and a + b without signed overflow; false when the result does not fit.
bool mul_ok(int64_t a, int64_t b, int64_t* out) { return !__builtin_mul_overflow(a, b, out); }
bool add_ok(int64_t a, int64_t b, int64_t* out) { return !__builtin_add_overflow(a, b, out); }

}  // namespace

TorchArchive open_torch_archive(const std::string& path) {
  TorchArchive a;
  try {
    a.zip = std::make_unique<ZipReader>(path);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string(e.what()) +
                             " (expected a PyTorch checkpoint: a torch.save zip archive)");
  }
  const ZipEntry* pkl = nullptr;
  for (const auto& e : a.zip->entries()) {
    const std::string suffix = "data.pkl";
    if (e.name.size() >= suffix.size() && e.name.compare(e.name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
        e.name.find('/') == e.name.size() - suffix.size() - 1) {
      pkl = &e;
      break;
    }
  }
  if (pkl == nullptr) {
    throw std::runtime_error("checkpoint '" + path +
                             "': no <name>/data.pkl member (not a torch.save archive; legacy "
                             "non-zip torch files are not supported, re-save with torch >= 1.6)");
  }
  a.prefix = pkl->name.substr(0, pkl->name.size() - std::string("data.pkl").size());
  if (const ZipEntry* bo = a.zip->find(a.prefix + "byteorder")) {
    const auto data = a.zip->read(*bo, 16);
    if (std::string(data.begin(), data.end()) != "little") {
      throw std::runtime_error("checkpoint '" + path + "': big-endian checkpoints are not supported");
    }
  }
  const auto bytes = a.zip->read(*pkl, kMaxPickleBytes);  // the declared size is checked first
  a.root = unpickle(bytes.data(), bytes.size(), "checkpoint '" + path + "'");
  return a;
}

void check_tensor_ref(const TorchArchive& archive, const TensorRef& ref, const std::string& name) {
  const auto fail = [&](const std::string& why) {
    return std::runtime_error("checkpoint '" + archive.zip->path() + "': tensor '" + name + "': " + why);
  };
  if (ref.sizes.size() != ref.strides.size()) throw fail("sizes and strides differ in length");
  if (ref.storage_offset < 0) throw fail("negative storage offset");
  int64_t last = ref.storage_offset;  // highest element index touched
  int64_t numel = 1;
  bool empty = false;
  for (size_t d = 0; d < ref.sizes.size(); ++d) {
    if (ref.sizes[d] < 0 || ref.strides[d] < 0) throw fail("negative size or stride");
    if (ref.sizes[d] == 0) empty = true;
  }
  for (size_t d = 0; d < ref.sizes.size() && !empty; ++d) {
    int64_t reach = 0;
    if (!mul_ok(ref.sizes[d] - 1, ref.strides[d], &reach) || !add_ok(last, reach, &last) ||
        !mul_ok(numel, ref.sizes[d], &numel)) {
      throw fail("sizes and strides overflow 64 bits");
    }
  }
  const StorageRef& st = ref.storage;
  if (st.numel < 0) throw fail("negative storage size");
  if (!empty && last >= st.numel) {
    throw fail("view reaches element " + std::to_string(last) + " of a storage of " + std::to_string(st.numel));
  }
  if (!empty && numel > st.numel) {
    throw fail("a view of " + std::to_string(numel) + " elements over a storage of " + std::to_string(st.numel) +
               " (an expanded view, not a weight)");
  }
  const ZipEntry* entry = archive.zip->find(archive.prefix + "data/" + st.key);
  if (entry == nullptr) {
    throw fail("its storage member '" + archive.prefix + "data/" + st.key + "' is missing (file truncated or corrupt)");
  }
  int64_t nbytes = 0;
  if (!mul_ok(st.numel, static_cast<int64_t>(element_size(st.dtype)), &nbytes)) {
    throw fail("storage " + st.key + " of " + std::to_string(st.numel) + " " + dtype_name(st.dtype) +
               " values is larger than any file");
  }
  if (entry->uncompressed_size != static_cast<uint64_t>(nbytes)) {
    throw std::runtime_error("checkpoint '" + archive.zip->path() + "': storage " + st.key + " should hold " +
                             std::to_string(st.numel) + " " + dtype_name(st.dtype) + " values (" +
                             std::to_string(nbytes) + " bytes) but its member has " +
                             std::to_string(entry->uncompressed_size) + " bytes (file truncated or corrupt)");
  }
}

}  // namespace bark::io
