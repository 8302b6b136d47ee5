// Private: how models are filled with weights and moved between devices, whatever the file
// format. A model lists its parameters once (named_parameters(): state-dict name -> its tensor
// member); loading, device moves and the bench's random initialisation all walk that one list.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace bark::models {

// A model's parameter slots: (state-dict name, the member tensor). Before loading, a slot holds
// a tensor on the meta device: its shape, no memory.
using ParamSlots = std::vector<std::pair<std::string, at::Tensor*>>;

// Named tensors read from somewhere (a torch.save checkpoint, a safetensors file, random
// weights): what a model is filled from. `origin` names it in error messages
// ("checkpoint 'text_2.pt'").
struct TensorSource {
  std::string origin;
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  // True when the tensors were converted to a fast mode's weight formats as they were read
  // (io::read_weights with a WeightPlan): fp16 and int8 tensors are then kept as they are.
  bool converted = false;
};

// A parameter of shape `sizes` that holds no memory until loaded.
at::Tensor unloaded(at::IntArrayRef sizes);

// Fills every slot from `source` by name. A contiguous float32 source tensor becomes the
// parameter itself (no copy: the model aliases the storage read from the file); other dtypes or
// layouts are converted to float32 once, except the fp16 / int8 weights of a `converted` source. Names for which `ignore(name)` is true may be absent or extra.
// Every missing key, unexpected key and shape mismatch is reported at once, in one
// std::runtime_error naming source.origin.
void load_parameters(const ParamSlots& slots, const TensorSource& source,
                     const std::function<bool(const std::string&)>& ignore = {});

// Moves every defined slot to `device` (the one parameter walk behind each model's to()).
void move_parameters(const ParamSlots& slots, const at::Device& device);

// Sum of the slots' element counts (tied tensors counted once).
int64_t count_parameters(const ParamSlots& slots);

}  // namespace bark::models
