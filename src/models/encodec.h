// Private: EnCodec 24 kHz (facebookresearch/encodec): SEANet encoder/decoder and residual VQ.
// ATen only. Widths, LSTM depth and codebook count are inferred from the state dict's shapes;
// ratios, kernel sizes and causal reflect padding are those of encodec_model_24khz.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "models/parameters.h"

namespace bark::models {

struct EncodecConfig {
  int64_t channels = 1;
  int64_t dimension = 128;
  int64_t n_filters = 32;
  int64_t n_residual_layers = 1;
  std::vector<int64_t> ratios = {8, 5, 4, 2};  // decoder order; the encoder uses them reversed
  int64_t kernel_size = 7, last_kernel_size = 7, residual_kernel_size = 3;
  int64_t dilation_base = 2, compress = 2;
  int64_t lstm_layers = 2;
  int64_t n_q = 32, bins = 1024;
  bool has_encoder = true;
  int64_t hop_length() const;
};

// Infers the config from tensor shapes of an encodec_24khz state dict.
EncodecConfig infer_encodec_config(const TensorSource& state);

// SConv1d / SConvTranspose1d with weight norm folded in at load time.
struct SConv {
  at::Tensor weight_g, weight_v, bias;
  at::Tensor weight;  // _weight_norm(v, g, 0), computed by finalize()
  int64_t stride = 1, dilation = 1;
  bool transposed = false;
};

struct ResBlock {
  SConv conv1, conv2, shortcut;  // block.1, block.3, shortcut
  int64_t dilation = 1;
};

class Encodec {
 public:
  explicit Encodec(const EncodecConfig& config);
  const EncodecConfig& config() const { return config_; }
  ParamSlots named_parameters();
  void load(const TensorSource& source);
  // Moves the weights to `device` (and folds the weight norm there).
  void to(const at::Device& device);
  at::Device device() const { return dec_out_.bias.device(); }

  // codes: (n_q, B, T) int64 -> quantizer.decode -> (B, dimension, T)
  at::Tensor quantizer_decode(const at::Tensor& codes) const;
  // emb (B, dimension, T) -> audio (B, channels, T * hop)
  at::Tensor decode(const at::Tensor& emb) const;
  // audio (B, channels, L) -> emb (B, dimension, ceil(L / hop))
  at::Tensor encode(const at::Tensor& audio) const;
  // emb -> codes (n_q, B, T) with the first n_q codebooks
  at::Tensor quantizer_encode(const at::Tensor& emb, int64_t n_q) const;

 private:
  at::Tensor sconv(const SConv& c, const at::Tensor& x) const;
  at::Tensor sconvtr(const SConv& c, const at::Tensor& x) const;
  at::Tensor resblock(const ResBlock& r, const at::Tensor& x) const;
  at::Tensor slstm(const std::vector<at::Tensor>& params, const at::Tensor& x) const;
  void fold_weight_norm();

  EncodecConfig config_;
  // decoder.model.*
  SConv dec_in_;
  std::vector<at::Tensor> dec_lstm_;  // w_ih, w_hh, b_ih, b_hh per layer
  std::vector<SConv> dec_up_;
  std::vector<ResBlock> dec_res_;     // n_residual_layers per ratio
  SConv dec_out_;
  // encoder.model.*
  SConv enc_in_;
  std::vector<ResBlock> enc_res_;
  std::vector<SConv> enc_down_;
  std::vector<at::Tensor> enc_lstm_;
  SConv enc_out_;
  std::vector<at::Tensor> codebooks_;  // quantizer.vq.layers.i._codebook.embed (bins, dim)
  std::vector<at::Tensor> vq_buffers_; // inited, cluster_size, embed_avg: loaded, unused
};

}  // namespace bark::models
