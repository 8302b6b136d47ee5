// Private: the torch-free half of reading a torch.save archive: the zip, its data.pkl
// unpickled by the restricted unpickler, and the checks of each tensor reference against the
// archive (sizes, strides, offsets and member sizes, in checked arithmetic). Nothing of the
// tensor data is read here; io/checkpoint.cpp reads it into torch tensors. Kept apart so the
// fuzzer (tests/fuzz/fuzz_checkpoint.cpp) and the sanitizer build need no libtorch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "io/pickle.h"
#include "io/zip.h"

namespace bark::io {

// data.pkl is KBs in the real files (text_2.pt: the model and optimizer entries); its declared
// size is checked before it is inflated.
constexpr uint64_t kMaxPickleBytes = uint64_t{64} << 20;

struct TorchArchive {
  std::unique_ptr<ZipReader> zip;
  std::string prefix;  // "<archive>/", the directory of data.pkl
  PyValuePtr root;     // the unpickled data.pkl
};

// Opens `path` as a torch.save zip archive and unpickles its data.pkl. Throws
// std::runtime_error naming the file.
TorchArchive open_torch_archive(const std::string& path);

// Checks `ref` against its storage member without reading it: sizes and strides non-negative
// and without 64-bit overflow, the view inside its storage and no larger than it (an expanded,
// stride-0 view is no weight), the member present and holding exactly numel * element size
// bytes. Throws std::runtime_error naming the file and `name`.
void check_tensor_ref(const TorchArchive& archive, const TensorRef& ref, const std::string& name);

}  // namespace bark::io
