// libFuzzer target: arbitrary bytes opened as a torch.save checkpoint, through the torch-free
// half of the reader (src/io/torch_archive.cpp: zip, data.pkl, unpickler, and the checks of
// every tensor reference against its storage member). Refusals are std::runtime_error; a
// crash, an overflow (UBSan), a leak or a huge allocation is a bug.
//
//   build-fuzz/fuzz_checkpoint -dict=tests/fuzz/checkpoint.dict corpus/ tests/fuzz/checkpoint_corpus
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_memfile.h"
#include "io/torch_archive.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static bark_fuzz::MemFile file;
  file.set(data, size);
  bark_fuzz::expect_only_documented_errors([&] {
    const bark::io::TorchArchive archive = bark::io::open_torch_archive(file.path);
    // every tensor anywhere in the graph, checked as the loader checks state-dict entries
    std::vector<const bark::io::PyValue*> todo{archive.root.get()};
    size_t seen = 0;
    while (!todo.empty() && ++seen < (1u << 20)) {
      const auto* v = todo.back();
      todo.pop_back();
      if (v->kind == bark::io::PyValue::Kind::Tensor) {
        bark_fuzz::expect_only_documented_errors([&] { bark::io::check_tensor_ref(archive, *v->tensor, "t"); });
      }
      for (const auto& item : v->items) todo.push_back(item.get());
      for (const auto& [k, val] : v->entries) todo.push_back(val.get());
    }
  });
  return 0;
}
