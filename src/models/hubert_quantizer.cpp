#include "models/hubert_quantizer.h"

#include <ATen/Functions.h>

#include <string>

namespace bark::models {

HubertQuantizer::HubertQuantizer(const QuantizerConfig& c) : config_(c) {
  TORCH_CHECK(c.version == 0 || c.version == 1, "quantizer version ", c.version);
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const int64_t in = l == 0 ? c.input_size : c.hidden_size;
    lstm_.push_back(unloaded({4 * c.hidden_size, in}));
    lstm_.push_back(unloaded({4 * c.hidden_size, c.hidden_size}));
    lstm_.push_back(unloaded({4 * c.hidden_size}));
    lstm_.push_back(unloaded({4 * c.hidden_size}));
  }
  int64_t next = c.hidden_size;
  if (c.version == 1) {
    inter_w_ = unloaded({c.intermediate_size, c.hidden_size});
    inter_b_ = unloaded({c.intermediate_size});
    next = c.intermediate_size;
  }
  fc_w_ = unloaded({c.output_size, next});
  fc_b_ = unloaded({c.output_size});
}

ParamSlots HubertQuantizer::named_parameters() {
  ParamSlots s;
  for (int64_t l = 0; l < config_.num_layers; ++l) {
    const std::string n = std::to_string(l);
    s.emplace_back("lstm.weight_ih_l" + n, &lstm_[4 * l]);
    s.emplace_back("lstm.weight_hh_l" + n, &lstm_[4 * l + 1]);
    s.emplace_back("lstm.bias_ih_l" + n, &lstm_[4 * l + 2]);
    s.emplace_back("lstm.bias_hh_l" + n, &lstm_[4 * l + 3]);
  }
  if (config_.version == 1) {
    s.emplace_back("intermediate.weight", &inter_w_);
    s.emplace_back("intermediate.bias", &inter_b_);
  }
  s.emplace_back("fc.weight", &fc_w_);
  s.emplace_back("fc.bias", &fc_b_);
  return s;
}

void HubertQuantizer::load(const TensorSource& source) { load_parameters(named_parameters(), source); }

void HubertQuantizer::to(const at::Device& device) { move_parameters(named_parameters(), device); }

at::Tensor HubertQuantizer::forward(const at::Tensor& features) const {
  TORCH_CHECK(features.dim() == 2 && features.size(1) == config_.input_size, "quantizer: features must be (T, ",
              config_.input_size, ")");
  // nn.LSTM on an unbatched (T, C) input runs it as a batch of one
  const at::Tensor x = features.unsqueeze(0);  // (1, T, C)
  const at::Tensor h0 = at::zeros({config_.num_layers, 1, config_.hidden_size}, x.options());
  auto out = at::lstm(x, {h0, h0}, lstm_, /*has_biases=*/true, config_.num_layers, /*dropout=*/0.0,
                      /*train=*/false, /*bidirectional=*/false, /*batch_first=*/true);
  at::Tensor y = std::get<0>(out).squeeze(0);  // (T, hidden)
  if (config_.version == 1) y = at::linear(y, inter_w_, inter_b_);
  y = at::linear(y, fc_w_, fc_b_);
  return at::log_softmax(y, 1);
}

at::Tensor HubertQuantizer::tokens(const at::Tensor& features) const { return at::argmax(forward(features), 1); }

}  // namespace bark::models
