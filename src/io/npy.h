// Private: numpy .npy / .npz files (format versions 1.0, 2.0, 3.0; numpy.lib.format).
//
//   auto arrays = bark::io::read_npz("en_speaker_6.npz");          // keys without ".npy"
//   std::vector<int64_t> coarse = arrays.at("coarse_prompt").to_int64();  // C order
//
// Supported dtypes: bool |b1, integers |i1 |u1 <i2 <u2 <i4 <u4 <i8 <u8, floats <f4 <f8, in any
// byte order ('<', '>', '|', '='; big-endian data is byte-swapped by the to_* conversions).
// Object ('|O', pickled), string, structured and other dtypes are refused with a clear error.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace bark::io {

class ZipReader;
struct ZipEntry;

struct NpyArray {
  std::string descr;            // numpy dtype string as in the header, e.g. "<i8", "|b1"
  std::vector<int64_t> shape;   // () for a scalar
  bool fortran_order = false;   // element order of `data`
  std::vector<uint8_t> data;    // raw element bytes, in stored (C or Fortran) order and byte order

  int64_t numel() const;        // product of shape (1 for a scalar)
  size_t itemsize() const;      // bytes per element of descr
  int64_t ndim() const { return static_cast<int64_t>(shape.size()); }
  // "(2, 3) <i8 C" style summary for error messages.
  std::string describe() const;

  // Values in C (row-major) order. to_int64: integer or bool dtypes only (a <u8 value above
  // INT64_MAX throws). to_float32 / to_float64: float, integer and bool dtypes.
  // Throw std::runtime_error naming the dtype when it does not convert.
  std::vector<int64_t> to_int64() const;
  std::vector<float> to_float32() const;
  std::vector<double> to_float64() const;
};

// Parses one .npy file held in memory. `what_for_errors` (e.g. "npz 'x.npz' member 'a.npy'")
// starts every error message. Throws std::runtime_error on anything malformed; never allocates
// more than `bytes` holds.
NpyArray parse_npy(const std::vector<uint8_t>& bytes, const std::string& what_for_errors);

// The header of a .npy: `data`/`size` may be only a prefix of the file, as long as it holds the
// whole header. Throws std::runtime_error as parse_npy does (shape overflow included).
struct NpyHeader {
  std::string descr;
  std::vector<int64_t> shape;
  bool fortran_order = false;
  uint64_t data_offset = 0;  // where the elements start
  uint64_t data_bytes = 0;   // numel * itemsize
};
NpyHeader parse_npy_header(const uint8_t* data, size_t size, const std::string& what_for_errors);

// Serializes as np.save does (version 1.0, or 2.0 when the header needs it; 64-byte aligned
// header with numpy's growth padding), so the output is byte-identical to np.save's.
// Throws std::invalid_argument when descr is unsupported or data does not match the shape.
std::vector<uint8_t> serialize_npy(const NpyArray& array);

// Reads every ".npy" member of an .npz (stored or deflated, as np.savez / np.savez_compressed
// write). Keys are the member names without the ".npy" suffix; other members are ignored.
// Throws std::runtime_error naming the file and the member.
std::map<std::string, NpyArray> read_npz(const std::string& path);

// One ".npy" member of an open .npz: its header is read first (only its bytes are inflated), and
// a member whose header declares more than `max_data_bytes` of elements, or whose size does not
// match its header, is refused before its data is inflated.
NpyArray read_npz_member(const ZipReader& zip, const ZipEntry& entry, uint64_t max_data_bytes);

// Reads a .npy file. Throws std::runtime_error naming the file.
NpyArray read_npy(const std::string& path);

// Writes an uncompressed .npz as np.savez does (members "<key>.npy", in the given order).
// Written to a temporary file and renamed on success. Throws std::invalid_argument for
// empty/duplicate keys or invalid arrays, std::runtime_error on I/O errors.
// Writes straight to `path`, no temporary file (for memory files: /proc/self/fd/N).
void write_npz_to(const std::string& path, const std::vector<std::pair<std::string, NpyArray>>& arrays);
void write_npz(const std::string& path, const std::vector<std::pair<std::string, NpyArray>>& arrays);

// Builds C-order arrays. Throw std::invalid_argument when values.size() != product(shape).
NpyArray make_int64(const std::vector<int64_t>& shape, const std::vector<int64_t>& values);
NpyArray make_int32(const std::vector<int64_t>& shape, const std::vector<int32_t>& values);
NpyArray make_float32(const std::vector<int64_t>& shape, const std::vector<float>& values);

}  // namespace bark::io
