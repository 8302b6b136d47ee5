// Private: UTF-8 decoding and encoding through utf8proc, for every place that needs it
// (the tokenizer, normalize_whitespace, the pickle reader's latin-1 strings).
#pragma once

#include <utf8proc.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace bark::text {

// Length (1-4) of the well-formed UTF-8 sequence at s[i], with its code point in `cp`; 0 if the
// sequence is ill-formed or cut short. utf8proc_iterate follows Unicode Table 3-7 (no overlongs,
// no surrogates, nothing above U+10FFFF), as Python's strict decoder does. Needs i < s.size().
inline size_t decode_utf8_at(std::string_view s, size_t i, char32_t& cp) {
  // ASCII inline: a library call for every byte made bench_tokenizer 10% slower still.
  if (static_cast<unsigned char>(s[i]) < 0x80) {
    cp = static_cast<unsigned char>(s[i]);
    return 1;
  }
  utf8proc_int32_t c = -1;
  const utf8proc_ssize_t n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + i),
                                              static_cast<utf8proc_ssize_t>(s.size() - i), &c);
  if (n <= 0) return 0;
  cp = static_cast<char32_t>(c);
  return static_cast<size_t>(n);
}

// Appends `cp` (a Unicode scalar value) to `out` as UTF-8.
inline void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {  // inline, as in decode_utf8_at
    out += static_cast<char>(cp);
    return;
  }
  utf8proc_uint8_t buf[4];
  const utf8proc_ssize_t n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(cp), buf);
  out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

}  // namespace bark::text
