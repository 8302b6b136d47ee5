// Private: what may leave the public API. Every public entry point runs its body through
// guarded(): torch's c10::Error and std::bad_alloc become one-line std::runtime_errors naming
// the call; everything else (the library's own errors, bark::Cancelled, whatever a progress
// callback threw) passes unchanged.
#pragma once

#include <c10/util/Exception.h>

#include <exception>
#include <new>
#include <stdexcept>
#include <string>

namespace bark::engine {

// The first line of a torch error, without the C++ backtrace torch appends.
inline std::string first_line(const std::string& what) {
  std::string line = what.substr(0, what.find('\n'));
  return line.empty() ? "tensor operation failed" : line;
}

template <typename F>
auto guarded(const char* call, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const c10::Error& e) {
    throw std::runtime_error(std::string(call) + ": " + first_line(e.what_without_backtrace()));
  } catch (const std::bad_alloc&) {
    throw std::runtime_error(std::string(call) + ": out of memory");
  }
}

// The same conversion for an exception kept for later (a batched request's error).
inline std::exception_ptr public_error(const char* call, std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const c10::Error& x) {
    return std::make_exception_ptr(std::runtime_error(std::string(call) + ": " + first_line(x.what_without_backtrace())));
  } catch (const std::bad_alloc&) {
    return std::make_exception_ptr(std::runtime_error(std::string(call) + ": out of memory"));
  } catch (...) {
    return e;
  }
}

}  // namespace bark::engine
