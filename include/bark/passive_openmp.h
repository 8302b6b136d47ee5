// BARK_PASSIVE_OPENMP(): makes idle OpenMP threads sleep instead of spinning, unless the user
// chose a policy ($OMP_WAIT_POLICY set).
//
// Why: libtorch's intra-op threads are OpenMP threads (libgomp), which by default spin for a
// while before sleeping. On a machine with other busy processes the spinning threads take the
// cores the working ones need: a one-sentence run measured 35-45x slower. Passive waiting
// costs nothing measurable on a quiet machine (docs/PERFORMANCE.md).
//
// How: libgomp reads OMP_WAIT_POLICY once, in its own constructor, before main() and before any
// constructor of a library that links it (libbark included): a library cannot change it later.
// Only an executable runs code earlier: a function in its .preinit_array. Put this macro in one
// source file of your executable (at namespace scope); bark-cli and bark-server do.
#pragma once

#include <cstdlib>

#if defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
#define BARK_PASSIVE_OPENMP()                                                                      \
  namespace {                                                                                      \
  void bark_passive_openmp_preinit(int, char**, char**) { ::setenv("OMP_WAIT_POLICY", "PASSIVE", 0); } \
  __attribute__((section(".preinit_array"), used)) void (*const bark_passive_openmp_entry)(int, char**, char**) = \
      &bark_passive_openmp_preinit;                                                                \
  }
#else
#define BARK_PASSIVE_OPENMP()
#endif
