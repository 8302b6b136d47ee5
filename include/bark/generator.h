// bark::Generator: a random number generator that calls draw from, like torch's generator.
#pragma once

#include <cstdint>
#include <memory>

#include "bark/export.h"

namespace bark {

class GeneratorImpl;

// A seeded sampling generator (torch's CPU mt19937 generator, seeded exactly like
// torch.manual_seed(seed)). A copy is a handle to the same state, like a torch.Generator
// object: calls that share one draw from it in turn and advance it. So
//
//   torch.manual_seed(s); semantic = text_to_semantic(text); audio = semantic_to_waveform(semantic)
//
// in upstream Bark gives the same tokens as
//
//   bark::Generator g(s);  opts.generator = g;
//   auto semantic = pipe.text_to_semantic(text, opts);
//   auto audio = pipe.semantic_to_waveform(semantic, opts);
//
// Thread safety: each draw locks the generator, so sharing one between concurrent calls is safe,
// but which call gets which numbers then depends on timing; give each concurrent call its own
// Generator (or seed) for reproducible results.
class BARK_API Generator {
 public:
  explicit Generator(uint64_t seed);
  // Copies share the state (there are no moves: a moved-from Generator would have none).
  // (shared_ptr erases its deleter: these need no definition of GeneratorImpl)
  ~Generator() = default;
  Generator(const Generator&) = default;
  Generator& operator=(const Generator&) = default;

  // The seed it was created (or last re-seeded) with.
  uint64_t seed() const;
  // Re-seeds in place (torch.manual_seed on this generator): every copy sees the new state.
  void manual_seed(uint64_t seed);

  // Internal: the shared state (used by the library).
  GeneratorImpl& impl() const { return *impl_; }

 private:
  std::shared_ptr<GeneratorImpl> impl_;
};

}  // namespace bark
