// BARK_PASSIVE_OPENMP(): makes idle OpenMP threads sleep instead of spinning, unless the user
// chose a policy ($OMP_WAIT_POLICY set).
//
// Why: libtorch's intra-op threads are OpenMP threads (libgomp), which by default spin for a
// while before sleeping. On a machine with other busy processes the spinning threads take the
// cores the working ones need: a one-sentence run measured 35-45x slower. Passive waiting
// costs nothing measurable on a quiet machine (docs/PERFORMANCE.md).
//
// How: libgomp reads OMP_WAIT_POLICY once, in its own constructor, before main() and before any
// constructor of a library that links it (libbark included): a library cannot change it later,
// and a setenv() in the executable's .preinit_array is undone when libc initialises its
// environment (glibc 2.36: measured). So the macro puts a function in .preinit_array, which runs
// before any library initialiser, that re-executes the program (its /proc/self/exe) once with
// OMP_WAIT_POLICY=PASSIVE added to its environment; at that point no library has initialised, so
// the second start costs only the dynamic loading (measured in docs/PERFORMANCE.md). Put the macro
// in one source file of your executable, at namespace scope; bark-cli and bark-bench do.
#pragma once

#if defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
#include <unistd.h>

#include <cstring>

#define BARK_PASSIVE_OPENMP()                                                                          \
  namespace {                                                                                          \
  void bark_passive_openmp_preinit(int, char** argv, char** envp) {                                    \
    size_t n = 0;                                                                                      \
    for (; envp != nullptr && envp[n] != nullptr; ++n) {                                               \
      if (std::strncmp(envp[n], "OMP_WAIT_POLICY=", 16) == 0) return; /* the user's choice */          \
    }                                                                                                  \
    static char policy[] = "OMP_WAIT_POLICY=PASSIVE";                                                  \
    char* env[4096];                                                                                   \
    if (n + 2 > sizeof(env) / sizeof(env[0])) return;                                                  \
    for (size_t i = 0; i < n; ++i) env[i] = envp[i];                                                   \
    env[n] = policy;                                                                                   \
    env[n + 1] = nullptr;                                                                              \
    /* the real path, so that the process keeps its name (ps, top) */                                 \
    static char exe[4096];                                                                             \
    const ssize_t len = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);                            \
    if (len <= 0) return;                                                                              \
    exe[len] = '\0';                                                                                   \
    ::execve(exe, argv, env); /* returns only on failure: then run as we are */                        \
  }                                                                                                    \
  __attribute__((section(".preinit_array"), used)) void (*const bark_passive_openmp_entry)(int, char**, char**) = \
      &bark_passive_openmp_preinit;                                                                    \
  }
#else
#define BARK_PASSIVE_OPENMP()
#endif
