// Private: a safe, restricted unpickler for torch.save archives (data.pkl).
//
// Python's pickle can call any importable function; torch.load(weights_only=False) does. This
// one only builds plain values (None, bool, int, float, str, bytes, tuple, list, dict) and a
// short allow-list of globals that torch checkpoints and Bark's files use:
//   torch._utils._rebuild_tensor_v2 / _rebuild_parameter -> TensorRef (no data read here)
//   torch.<Dtype>Storage (persistent ids)                 -> storage descriptors
//   collections.OrderedDict                               -> Dict
//   numpy.core.multiarray.scalar + numpy.dtype            -> Int / Float (e.g. best_val_loss)
//   _codecs.encode(str, "latin1")                         -> Bytes (how protocol 2 stores bytes)
// Every other global is refused with an error naming it. Torch-free.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace bark::io {

// Element types of torch storages, named as in torch ("FloatStorage" -> Float32).
enum class StorageDType { Float32, Float64, Float16, BFloat16, Int64, Int32, Int16, Int8, UInt8, Bool };
size_t element_size(StorageDType dtype);
const char* dtype_name(StorageDType dtype);

struct StorageRef {
  std::string key;        // member "<archive>/data/<key>"
  StorageDType dtype = StorageDType::Float32;
  int64_t numel = 0;      // elements in the storage
  std::string location;   // e.g. "cpu", "cuda:0"
};

struct TensorRef {
  StorageRef storage;
  int64_t storage_offset = 0;  // in elements
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;
};

struct PyValue;
using PyValuePtr = std::shared_ptr<PyValue>;

struct PyValue {
  enum class Kind { None, Bool, Int, Float, String, Bytes, Tuple, List, Dict, Global, Tensor, Storage, DType };
  Kind kind = Kind::None;
  bool b = false;
  int64_t i = 0;
  double f = 0.0;
  std::string s;                                     // String, Bytes, Global ("module.name"), DType ("f8")
  std::vector<PyValuePtr> items;                     // Tuple, List
  std::vector<std::pair<PyValuePtr, PyValuePtr>> entries;  // Dict, in insertion order
  std::shared_ptr<TensorRef> tensor;                 // Tensor
  std::shared_ptr<StorageRef> storage;               // Storage

  PyValue() = default;
  PyValue(const PyValue&) = delete;
  PyValue& operator=(const PyValue&) = delete;
  ~PyValue();

  bool is_number() const { return kind == Kind::Int || kind == Kind::Float || kind == Kind::Bool; }
  double as_double() const;             // Int, Float, Bool; throws otherwise
  int64_t as_int() const;               // Int, Bool (and integral Float); throws otherwise
  // Dict lookup by string key; nullptr when absent (or when this is not a Dict).
  const PyValue* get(const std::string& key) const;
  std::string type_name() const;
};

// Unpickles `data`. `what` names the source in error messages (e.g. "checkpoint 'text.pt'").
// Throws std::runtime_error on malformed input, unsupported opcodes or refused globals.
// Bounded: nesting, memo size and container sizes are limited by the input size.
PyValuePtr unpickle(const uint8_t* data, size_t size, const std::string& what);

}  // namespace bark::io
