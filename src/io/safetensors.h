// Private: reading Hugging Face .safetensors files (https://github.com/huggingface/safetensors,
// "Format"): an 8-byte little-endian header length N, N bytes of JSON
// {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}, then the data.
// The file is memory-mapped (private, copy-on-write) and the float32 tensors alias the mapping.
// Every field is validated before a tensor is made: a malformed or hostile file is refused with
// a one-line std::runtime_error naming the file, never a crash or an absurd allocation.
#pragma once

#include <string>

#include "models/parameters.h"

namespace bark::io {

// All tensors of the file, sorted by name. Supported dtypes: F64 F32 F16 BF16 I64 I32 I16 I8
// U8 BOOL. The mapping stays alive as long as any returned tensor does.
models::TensorSource load_safetensors(const std::string& path);

}  // namespace bark::io
