#include "clone/resample.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

namespace bark::clone {
namespace {

constexpr int64_t kLowpassFilterWidth = 6;  // torchaudio defaults
constexpr double kRolloff = 0.99;
constexpr double kPi = 3.141592653589793;  // math.pi

// _get_sinc_resample_kernel(orig, new, gcd, 6, 0.99, "sinc_interpolation", dtype): (new, 1, K)
at::Tensor sinc_kernel(int64_t orig, int64_t new_, at::ScalarType dtype, const at::Device& device, int64_t* width) {
  const double base_freq = static_cast<double>(std::min(orig, new_)) * kRolloff;
  *width = static_cast<int64_t>(std::ceil(static_cast<double>(kLowpassFilterWidth * orig) / base_freq));
  const auto opts = at::TensorOptions().dtype(dtype).device(device);
  const at::Tensor idx = at::arange(-*width, *width + orig, opts).unsqueeze(0).unsqueeze(0) / orig;
  // transforms.Resample passes dtype=None: its arange is int64 and `/ new_freq` gives float32
  // (the default dtype) before the float64 idx promotes the sum.
  const at::Tensor steps = dtype == at::kDouble
                               ? (at::arange(0, -new_, -1, at::TensorOptions().dtype(at::kLong).device(device)) / new_)
                               : at::arange(0, -new_, -1, opts) / new_;
  at::Tensor t = steps.view({-1, 1, 1}) + idx;
  t.mul_(base_freq);
  t.clamp_(-kLowpassFilterWidth, kLowpassFilterWidth);
  const at::Tensor window = at::cos(t * kPi / kLowpassFilterWidth / 2).pow(2);
  t.mul_(kPi);
  const double scale = base_freq / static_cast<double>(orig);
  at::Tensor kernels = at::where(t == 0, at::ones({}, t.options()), t.sin() / t);
  kernels.mul_(window * scale);
  return kernels;
}

}  // namespace

at::Tensor resample(const at::Tensor& waveform, int64_t orig_rate, int64_t new_rate, KernelPrecision precision) {
  if (orig_rate <= 0 || new_rate <= 0) {
    throw std::invalid_argument("resample: sample rates must be positive, got " + std::to_string(orig_rate) +
                                " -> " + std::to_string(new_rate));
  }
  if (!waveform.is_floating_point()) throw std::invalid_argument("resample: the waveform must be floating point");
  if (orig_rate == new_rate) return waveform;
  const int64_t gcd = std::gcd(orig_rate, new_rate);
  const int64_t orig = orig_rate / gcd, new_ = new_rate / gcd;
  // A kernel of new_ * (2 * width + orig) taps: refuse rate pairs whose reduced ratio would make
  // it absurd (e.g. 44100 -> 44099) instead of allocating gigabytes.
  if (orig > 100000 || new_ > 100000 || static_cast<double>(new_) * static_cast<double>(orig) > 2e8) {
    throw std::invalid_argument("resample: the ratio " + std::to_string(orig_rate) + " -> " + std::to_string(new_rate) +
                                " Hz reduces to " + std::to_string(orig) + ":" + std::to_string(new_) +
                                ", too large a filter bank");
  }
  int64_t width = 0;
  at::Tensor kernel;
  if (precision == KernelPrecision::Float32) {
    kernel = sinc_kernel(orig, new_, waveform.scalar_type(), waveform.device(), &width);
  } else {
    // transforms.Resample: float64 kernel (its idx is float64, t promotes to it), then .to(float32)
    kernel = sinc_kernel(orig, new_, at::kDouble, waveform.device(), &width).to(waveform.scalar_type());
  }
  // _apply_sinc_resample_kernel
  const auto shape = waveform.sizes().vec();
  const int64_t length = shape.back();
  const at::Tensor flat = waveform.reshape({-1, length});
  const at::Tensor padded = at::constant_pad_nd(flat, {width, width + orig}, 0);
  const int64_t stride[1] = {orig};
  at::Tensor out = at::conv1d(padded.unsqueeze(1), kernel, {}, stride);  // (N, new_, frames)
  out = out.transpose(1, 2).reshape({flat.size(0), -1});
  const auto target = static_cast<int64_t>(std::ceil(static_cast<double>(new_) * static_cast<double>(length) /
                                                      static_cast<double>(orig)));
  out = out.slice(-1, 0, target);
  auto out_shape = shape;
  out_shape.back() = out.size(-1);
  return out.reshape(out_shape);
}

}  // namespace bark::clone
