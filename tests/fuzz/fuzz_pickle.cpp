// libFuzzer target: arbitrary bytes through the restricted unpickler (src/io/pickle.cpp), then a
// walk over whatever it built. Refusals are std::runtime_error; anything else (a crash, a leak
// of a cyclic graph, unbounded recursion or memory) is a bug.
//
//   build-fuzz/fuzz_pickle -dict=tests/fuzz/pickle.dict corpus/ tests/fuzz/pickle_corpus
#include <cstddef>
#include <cstdint>

#include "fuzz_memfile.h"
#include "io/pickle.h"

namespace {
// Touches every node (iteratively: the graph may be deep), as a caller reading it would.
size_t walk(const bark::io::PyValue& root) {
  size_t n = 0;
  std::vector<const bark::io::PyValue*> todo{&root};
  while (!todo.empty() && n < (1u << 20)) {
    const auto* v = todo.back();
    todo.pop_back();
    ++n;
    (void)v->type_name();
    if (v->is_number()) bark_fuzz::expect_only_documented_errors([&] { (void)v->as_double(); });
    for (const auto& item : v->items) todo.push_back(item.get());
    for (const auto& [k, val] : v->entries) {
      todo.push_back(k.get());
      todo.push_back(val.get());
    }
    if (v->kind == bark::io::PyValue::Kind::Dict) (void)v->get("model");
  }
  return n;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  bark_fuzz::expect_only_documented_errors([&] {
    const auto v = bark::io::unpickle(data, size, "fuzz");
    (void)walk(*v);
  });
  return 0;
}
