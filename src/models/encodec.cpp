#include "models/encodec.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

namespace bark::models {
namespace {

const at::Tensor* find(const TensorSource& source, const std::string& name) {
  for (const auto& [k, t] : source.tensors) {
    if (k == name) return &t;
  }
  return nullptr;
}

// encodec modules/conv.py get_extra_padding_for_conv1d (same float arithmetic as Python)
int64_t extra_padding_for_conv1d(int64_t length, int64_t kernel_size, int64_t stride, int64_t padding_total) {
  const double n_frames = static_cast<double>(length - kernel_size + padding_total) / static_cast<double>(stride) + 1;
  const int64_t ideal_length =
      (static_cast<int64_t>(std::ceil(n_frames)) - 1) * stride + (kernel_size - padding_total);
  return ideal_length - length;
}

// encodec pad1d: reflect padding that also works when the input is shorter than the padding.
at::Tensor pad1d_reflect(at::Tensor x, int64_t left, int64_t right) {
  const int64_t length = x.size(-1);
  const int64_t max_pad = std::max(left, right);
  int64_t extra = 0;
  if (length <= max_pad) {
    extra = max_pad - length + 1;
    x = at::constant_pad_nd(x, {0, extra}, 0);
  }
  at::Tensor padded = at::reflection_pad1d(x, {left, right});
  return padded.slice(-1, 0, padded.size(-1) - extra);
}

SConv make_conv(int64_t in, int64_t out, int64_t k, int64_t stride = 1, int64_t dilation = 1) {
  SConv c;
  c.weight_v = unloaded({out, in, k});
  c.weight_g = unloaded({out, 1, 1});
  c.bias = unloaded({out});
  c.stride = stride;
  c.dilation = dilation;
  return c;
}

SConv make_convtr(int64_t in, int64_t out, int64_t k, int64_t stride) {
  SConv c;
  c.weight_v = unloaded({in, out, k});
  c.weight_g = unloaded({in, 1, 1});
  c.bias = unloaded({out});
  c.stride = stride;
  c.transposed = true;
  return c;
}

void add_conv(ParamSlots& slots, SConv& c, const std::string& prefix) {
  const std::string inner = c.transposed ? "convtr.convtr." : "conv.conv.";
  slots.emplace_back(prefix + inner + "weight_g", &c.weight_g);
  slots.emplace_back(prefix + inner + "weight_v", &c.weight_v);
  slots.emplace_back(prefix + inner + "bias", &c.bias);
}

std::vector<at::Tensor> make_lstm(int64_t dim, int64_t layers) {
  std::vector<at::Tensor> p;
  for (int64_t l = 0; l < layers; ++l) {
    p.push_back(unloaded({4 * dim, dim}));
    p.push_back(unloaded({4 * dim, dim}));
    p.push_back(unloaded({4 * dim}));
    p.push_back(unloaded({4 * dim}));
  }
  return p;
}

void add_lstm(ParamSlots& slots, std::vector<at::Tensor>& p, const std::string& prefix) {
  for (size_t l = 0; l < p.size() / 4; ++l) {
    const std::string s = std::to_string(l);
    slots.emplace_back(prefix + "lstm.weight_ih_l" + s, &p[4 * l]);
    slots.emplace_back(prefix + "lstm.weight_hh_l" + s, &p[4 * l + 1]);
    slots.emplace_back(prefix + "lstm.bias_ih_l" + s, &p[4 * l + 2]);
    slots.emplace_back(prefix + "lstm.bias_hh_l" + s, &p[4 * l + 3]);
  }
}

ResBlock make_resblock(int64_t dim, const EncodecConfig& c, int64_t j) {
  ResBlock r;
  const int64_t hidden = dim / c.compress;
  r.dilation = static_cast<int64_t>(std::pow(c.dilation_base, j));
  r.conv1 = make_conv(dim, hidden, c.residual_kernel_size, 1, r.dilation);
  r.conv2 = make_conv(hidden, dim, 1);
  r.shortcut = make_conv(dim, dim, 1);
  return r;
}

void add_resblock(ParamSlots& slots, ResBlock& r, const std::string& prefix) {
  add_conv(slots, r.conv1, prefix + "block.1.");
  add_conv(slots, r.conv2, prefix + "block.3.");
  add_conv(slots, r.shortcut, prefix + "shortcut.");
}

void finalize(SConv& c) { c.weight = at::_weight_norm(c.weight_v, c.weight_g, 0); }

}  // namespace

int64_t EncodecConfig::hop_length() const {
  int64_t h = 1;
  for (auto r : ratios) h *= r;
  return h;
}

EncodecConfig infer_encodec_config(const TensorSource& state) {
  EncodecConfig c;
  const std::string& origin = state.origin;
  const auto need = [&](const std::string& name, int64_t dim) -> const at::Tensor& {
    const at::Tensor* t = find(state, name);
    if (t == nullptr) {
      throw std::runtime_error(origin + ": missing key '" + name +
                               "' (expected encodec_24khz-d7cc33bc.th, the 24 kHz EnCodec state dict)");
    }
    if (t->dim() != dim) {
      throw std::runtime_error(origin + ": '" + name + "' has " + std::to_string(t->dim()) +
                               " dimensions, expected " + std::to_string(dim));
    }
    return *t;
  };
  const int64_t mult = int64_t{1} << c.ratios.size();
  const at::Tensor& first = need("decoder.model.0.conv.conv.weight_v", 3);  // (mult * n_filters, dimension, 7)
  if (first.size(0) % mult != 0) {
    throw std::runtime_error(origin + ": first decoder conv has " +
                             std::to_string(first.size(0)) + " channels, not a multiple of " + std::to_string(mult));
  }
  c.n_filters = first.size(0) / mult;
  c.dimension = first.size(1);
  c.lstm_layers = 0;
  while (find(state, "decoder.model.1.lstm.weight_ih_l" + std::to_string(c.lstm_layers)) != nullptr) ++c.lstm_layers;
  c.n_q = 0;
  while (find(state, "quantizer.vq.layers." + std::to_string(c.n_q) + "._codebook.embed") != nullptr) ++c.n_q;
  if (c.n_q == 0) need("quantizer.vq.layers.0._codebook.embed", 2);
  c.bins = need("quantizer.vq.layers.0._codebook.embed", 2).size(0);
  c.has_encoder = find(state, "encoder.model.0.conv.conv.weight_v") != nullptr;
  if (c.n_filters <= 0 || c.n_filters > 4096 || c.dimension <= 0 || c.dimension > 4096 || c.lstm_layers > 16) {
    throw std::runtime_error(origin + ": implausible shapes");
  }
  return c;
}

Encodec::Encodec(const EncodecConfig& c) : config_(c) {
  const int64_t nf = c.n_filters;
  // decoder (SEANetDecoder)
  int64_t mult = int64_t{1} << c.ratios.size();
  dec_in_ = make_conv(c.dimension, mult * nf, c.kernel_size);
  dec_lstm_ = make_lstm(mult * nf, c.lstm_layers);
  for (int64_t ratio : c.ratios) {
    dec_up_.push_back(make_convtr(mult * nf, mult * nf / 2, ratio * 2, ratio));
    for (int64_t j = 0; j < c.n_residual_layers; ++j) dec_res_.push_back(make_resblock(mult * nf / 2, c, j));
    mult /= 2;
  }
  dec_out_ = make_conv(nf, c.channels, c.last_kernel_size);
  // encoder (SEANetEncoder), ratios reversed
  if (c.has_encoder) {
    mult = 1;
    enc_in_ = make_conv(c.channels, nf, c.kernel_size);
    for (auto it = c.ratios.rbegin(); it != c.ratios.rend(); ++it) {
      for (int64_t j = 0; j < c.n_residual_layers; ++j) enc_res_.push_back(make_resblock(mult * nf, c, j));
      enc_down_.push_back(make_conv(mult * nf, mult * nf * 2, *it * 2, *it));
      mult *= 2;
    }
    enc_lstm_ = make_lstm(mult * nf, c.lstm_layers);
    enc_out_ = make_conv(mult * nf, c.dimension, c.last_kernel_size);
  }
  for (int64_t i = 0; i < c.n_q; ++i) {
    codebooks_.push_back(unloaded({c.bins, c.dimension}));
    vq_buffers_.push_back(unloaded({1}));
    vq_buffers_.push_back(unloaded({c.bins}));
    vq_buffers_.push_back(unloaded({c.bins, c.dimension}));
  }
}

ParamSlots Encodec::named_parameters() {
  ParamSlots slots;
  // decoder.model: 0 conv, [1 lstm], then per ratio: ELU, convtr, resblocks; then ELU, conv
  int64_t i = 0;
  add_conv(slots, dec_in_, "decoder.model." + std::to_string(i++) + ".");
  if (config_.lstm_layers > 0) add_lstm(slots, dec_lstm_, "decoder.model." + std::to_string(i++) + ".");
  size_t r = 0;
  for (size_t u = 0; u < dec_up_.size(); ++u) {
    ++i;  // ELU
    add_conv(slots, dec_up_[u], "decoder.model." + std::to_string(i++) + ".");
    for (int64_t j = 0; j < config_.n_residual_layers; ++j) {
      add_resblock(slots, dec_res_[r++], "decoder.model." + std::to_string(i++) + ".");
    }
  }
  ++i;  // ELU
  add_conv(slots, dec_out_, "decoder.model." + std::to_string(i) + ".");
  if (config_.has_encoder) {
    // encoder.model: 0 conv, per ratio: resblocks, ELU, conv; [lstm]; ELU, conv
    i = 0;
    add_conv(slots, enc_in_, "encoder.model." + std::to_string(i++) + ".");
    r = 0;
    for (size_t d = 0; d < enc_down_.size(); ++d) {
      for (int64_t j = 0; j < config_.n_residual_layers; ++j) {
        add_resblock(slots, enc_res_[r++], "encoder.model." + std::to_string(i++) + ".");
      }
      ++i;  // ELU
      add_conv(slots, enc_down_[d], "encoder.model." + std::to_string(i++) + ".");
    }
    if (config_.lstm_layers > 0) add_lstm(slots, enc_lstm_, "encoder.model." + std::to_string(i++) + ".");
    ++i;  // ELU
    add_conv(slots, enc_out_, "encoder.model." + std::to_string(i) + ".");
  }
  for (size_t q = 0; q < codebooks_.size(); ++q) {
    const std::string p = "quantizer.vq.layers." + std::to_string(q) + "._codebook.";
    slots.emplace_back(p + "embed", &codebooks_[q]);
    slots.emplace_back(p + "inited", &vq_buffers_[3 * q]);
    slots.emplace_back(p + "cluster_size", &vq_buffers_[3 * q + 1]);
    slots.emplace_back(p + "embed_avg", &vq_buffers_[3 * q + 2]);
  }
  return slots;
}

void Encodec::load(const TensorSource& source) {
  load_parameters(named_parameters(), source);
  fold_weight_norm();
}

void Encodec::to(const at::Device& device) {
  move_parameters(named_parameters(), device);
  fold_weight_norm();  // on the device, as weight_norm's forward hook computes it upstream
}

void Encodec::fold_weight_norm() {
  const auto fin = [](SConv& c) { finalize(c); };
  fin(dec_in_);
  for (auto& c : dec_up_) fin(c);
  for (auto& r : dec_res_) {
    fin(r.conv1);
    fin(r.conv2);
    fin(r.shortcut);
  }
  fin(dec_out_);
  if (config_.has_encoder) {
    fin(enc_in_);
    for (auto& c : enc_down_) fin(c);
    for (auto& r : enc_res_) {
      fin(r.conv1);
      fin(r.conv2);
      fin(r.shortcut);
    }
    fin(enc_out_);
  }
}

// SConv1d.forward, causal: reflect-pad on the left by (k_eff - stride), plus the extra right
// padding that makes the last window full.
at::Tensor Encodec::sconv(const SConv& c, const at::Tensor& x) const {
  const int64_t k = (c.weight.size(2) - 1) * c.dilation + 1;
  const int64_t padding_total = k - c.stride;
  const int64_t extra = extra_padding_for_conv1d(x.size(-1), k, c.stride, padding_total);
  const at::Tensor padded = pad1d_reflect(x, padding_total, extra);
  const int64_t stride[1] = {c.stride}, padding[1] = {0}, dilation[1] = {c.dilation};
  return at::conv1d(padded, c.weight, c.bias, stride, padding, dilation);
}

// SConvTranspose1d.forward, causal with trim_right_ratio 1: trim all padding on the right.
at::Tensor Encodec::sconvtr(const SConv& c, const at::Tensor& x) const {
  const int64_t padding_total = c.weight.size(2) - c.stride;
  const int64_t stride[1] = {c.stride};
  const at::Tensor y = at::conv_transpose1d(x, c.weight, c.bias, stride);
  return y.slice(-1, 0, y.size(-1) - padding_total);
}

at::Tensor Encodec::resblock(const ResBlock& r, const at::Tensor& x) const {
  at::Tensor y = sconv(r.conv1, at::elu(x));
  y = sconv(r.conv2, at::elu(y));
  return sconv(r.shortcut, x) + y;
}

// SLSTM: (B, C, T) -> LSTM over T -> + skip -> (B, C, T)
at::Tensor Encodec::slstm(const std::vector<at::Tensor>& params, const at::Tensor& x) const {
  const at::Tensor xt = x.permute({2, 0, 1});  // (T, B, C)
  const int64_t layers = static_cast<int64_t>(params.size() / 4);
  const int64_t hidden = params[1].size(1);
  const at::Tensor h0 = at::zeros({layers, xt.size(1), hidden}, xt.options());
  const at::Tensor c0 = at::zeros({layers, xt.size(1), hidden}, xt.options());
  auto out = at::lstm(xt, {h0, c0}, params, /*has_biases=*/true, layers, /*dropout=*/0.0, /*train=*/false,
                      /*bidirectional=*/false, /*batch_first=*/false);
  at::Tensor y = std::get<0>(out) + xt;
  return y.permute({1, 2, 0});
}

at::Tensor Encodec::quantizer_decode(const at::Tensor& codes) const {
  TORCH_CHECK(codes.dim() == 3, "quantizer_decode: codes must be (n_q, B, T)");
  TORCH_CHECK(codes.size(0) <= config_.n_q, "quantizer_decode: ", codes.size(0), " codebooks but the codec has ",
              config_.n_q);
  // core_vq.py ResidualVectorQuantization.decode: sum of each layer's lookup, starting from 0.
  at::Tensor out = at::zeros({}, codebooks_[0].options());
  for (int64_t i = 0; i < codes.size(0); ++i) {
    const at::Tensor q = at::embedding(codebooks_[static_cast<size_t>(i)], codes[i]);  // (B, T, D)
    out = out + q.permute({0, 2, 1});                                                     // (B, D, T)
  }
  return out;
}

at::Tensor Encodec::decode(const at::Tensor& emb) const {
  at::Tensor x = sconv(dec_in_, emb);
  if (config_.lstm_layers > 0) x = slstm(dec_lstm_, x);
  size_t r = 0;
  for (const auto& up : dec_up_) {
    x = sconvtr(up, at::elu(x));
    for (int64_t j = 0; j < config_.n_residual_layers; ++j) x = resblock(dec_res_[r++], x);
  }
  return sconv(dec_out_, at::elu(x));
}

at::Tensor Encodec::encode(const at::Tensor& audio) const {
  TORCH_CHECK(config_.has_encoder, "this EnCodec checkpoint has no encoder weights");
  at::Tensor x = sconv(enc_in_, audio);
  size_t r = 0;
  for (const auto& down : enc_down_) {
    for (int64_t j = 0; j < config_.n_residual_layers; ++j) x = resblock(enc_res_[r++], x);
    x = sconv(down, at::elu(x));
  }
  if (config_.lstm_layers > 0) x = slstm(enc_lstm_, x);
  return sconv(enc_out_, at::elu(x));
}

at::Tensor Encodec::quantizer_encode(const at::Tensor& emb, int64_t n_q) const {
  TORCH_CHECK(n_q >= 1 && n_q <= config_.n_q, "quantizer_encode: n_q out of range");
  at::Tensor residual = emb;  // (B, D, T)
  std::vector<at::Tensor> all;
  for (int64_t i = 0; i < n_q; ++i) {
    const at::Tensor& embed = codebooks_[static_cast<size_t>(i)];  // (bins, D)
    const at::Tensor x = residual.permute({0, 2, 1});              // (B, T, D)
    const at::Tensor flat = x.reshape({-1, x.size(-1)});
    const at::Tensor et = embed.t();
    // core_vq.py EuclideanCodebook.quantize
    const at::Tensor dist =
        -(flat.pow(2).sum(1, true) - 2 * at::matmul(flat, et) + et.pow(2).sum(0, true));
    const at::Tensor ind = std::get<1>(dist.max(-1)).view({x.size(0), x.size(1)});
    const at::Tensor quantized = at::embedding(embed, ind).permute({0, 2, 1});
    residual = residual - quantized;
    all.push_back(ind);
  }
  return at::stack(all);
}

}  // namespace bark::models
