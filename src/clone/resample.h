// Private: band-limited resampling, a port of torchaudio.functional.resample with its defaults
// (sinc interpolation, Hann window, lowpass_filter_width 6, rolloff 0.99). ATen only.
// torchaudio 0.13 (functional/functional.py _get_sinc_resample_kernel and
// _apply_sinc_resample_kernel), which the voice-cloning recipes use; the same ATen operations in
// the same order, so the results match torchaudio's to float rounding.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace bark::clone {

// Which of torchaudio's two entry points to reproduce. They differ only in the precision of the
// kernel: functional.resample computes it in the waveform's dtype (float32);
// transforms.Resample (dtype=None, what encodec.utils.convert_audio uses) computes it in float64
// and rounds it to float32 once.
enum class KernelPrecision { Float32, Float64 };

// waveform (..., L) float -> (..., ceil(L * new_rate / orig_rate)). Rates are positive integers
// (std::invalid_argument otherwise); equal rates return the input.
at::Tensor resample(const at::Tensor& waveform, int64_t orig_rate, int64_t new_rate,
                    KernelPrecision precision = KernelPrecision::Float32);

}  // namespace bark::clone
