// BARK_API marks the public API. libbark.so is built with hidden visibility, so only what is
// marked here is exported (types whose typeinfo crosses the boundary, like bark::Cancelled,
// must be marked too, or catch clauses in the application would not match them).
#pragma once

#if defined(BARK_STATIC_DEFINE)
#define BARK_API
#elif defined(_WIN32)
#if defined(BARK_BUILDING_LIBRARY)
#define BARK_API __declspec(dllexport)
#else
#define BARK_API __declspec(dllimport)
#endif
#else
#define BARK_API __attribute__((visibility("default")))
#endif
