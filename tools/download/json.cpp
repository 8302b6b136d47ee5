#include "json.h"

#include <cmath>
#include <cstdlib>
#include <stdexcept>

#include "text/utf8.h"

namespace bark::tools {

class JsonParser {
 public:
  JsonParser(std::string_view text, const std::string& origin) : text_(text), origin_(origin) {}

  Json parse_document() {
    Json value = parse_value(0);
    skip_space();
    if (pos_ != text_.size()) fail("trailing characters after the JSON value");
    return value;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error(origin_ + ": invalid JSON at byte " + std::to_string(pos_) + ": " + what);
  }

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  char peek() {
    skip_space();
    if (pos_ >= text_.size()) fail("unexpected end of input");
    return text_[pos_];
  }

  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }

  bool consume_literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Json parse_value(int depth) {
    if (depth > 64) fail("nesting too deep");
    Json value;
    const char c = peek();
    if (c == '{') {
      value.type_ = Json::Type::Object;
      ++pos_;
      if (peek() == '}') {
        ++pos_;
        return value;
      }
      while (true) {
        if (peek() != '"') fail("expected a string key");
        std::string key = parse_string();
        expect(':');
        value.object_[key] = parse_value(depth + 1);
        if (peek() == ',') {
          ++pos_;
          continue;
        }
        expect('}');
        return value;
      }
    }
    if (c == '[') {
      value.type_ = Json::Type::Array;
      ++pos_;
      if (peek() == ']') {
        ++pos_;
        return value;
      }
      while (true) {
        value.array_.push_back(parse_value(depth + 1));
        if (peek() == ',') {
          ++pos_;
          continue;
        }
        expect(']');
        return value;
      }
    }
    if (c == '"') {
      value.type_ = Json::Type::String;
      value.string_ = parse_string();
      return value;
    }
    if (consume_literal("true")) {
      value.type_ = Json::Type::Bool;
      value.bool_ = true;
      return value;
    }
    if (consume_literal("false")) {
      value.type_ = Json::Type::Bool;
      return value;
    }
    if (consume_literal("null")) return value;
    if (c == '-' || (c >= '0' && c <= '9')) {
      const size_t start = pos_;
      while (pos_ < text_.size() && std::string_view("+-.eE0123456789").find(text_[pos_]) != std::string_view::npos) ++pos_;
      const std::string number(text_.substr(start, pos_ - start));
      char* end = nullptr;
      value.type_ = Json::Type::Number;
      value.number_ = std::strtod(number.c_str(), &end);
      if (end != number.c_str() + number.size()) fail("malformed number '" + number + "'");
      return value;
    }
    fail(std::string("unexpected character '") + c + "'");
  }

  unsigned parse_hex4() {
    if (pos_ + 4 > text_.size()) fail("truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = text_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9') v |= static_cast<unsigned>(h - '0');
      else if (h >= 'a' && h <= 'f') v |= static_cast<unsigned>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') v |= static_cast<unsigned>(h - 'A' + 10);
      else fail("bad hex digit in \\u escape");
    }
    return v;
  }

  std::string parse_string() {
    expect('"');
    std::string out;
    while (true) {
      if (pos_ >= text_.size()) fail("unterminated string");
      const char c = text_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= text_.size()) fail("unterminated escape");
      const char e = text_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp = parse_hex4();
          if (cp >= 0xD800 && cp < 0xDC00) {  // surrogate pair
            if (!consume_literal("\\u")) fail("lone high surrogate");
            const unsigned low = parse_hex4();
            if (low < 0xDC00 || low >= 0xE000) fail("bad low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            fail("lone low surrogate");
          }
          bark::text::append_utf8(out, static_cast<char32_t>(cp));
          break;
        }
        default: fail(std::string("bad escape '\\") + e + "'");
      }
    }
  }

  std::string_view text_;
  std::string origin_;
  size_t pos_ = 0;
};

Json Json::parse(std::string_view text, const std::string& origin) { return JsonParser(text, origin).parse_document(); }

namespace {
[[noreturn]] void type_error(const std::string& what, const char* expected) {
  throw std::runtime_error(what + ": expected " + expected);
}
}  // namespace

const std::string& Json::as_string(const std::string& what) const {
  if (type_ != Type::String) type_error(what, "a string");
  return string_;
}

double Json::as_number(const std::string& what) const {
  if (type_ != Type::Number) type_error(what, "a number");
  return number_;
}

int64_t Json::as_int(const std::string& what) const {
  const double v = as_number(what);
  if (v != std::floor(v) || std::fabs(v) > 9.0e15) type_error(what, "an integer");
  return static_cast<int64_t>(v);
}

bool Json::as_bool(const std::string& what) const {
  if (type_ != Type::Bool) type_error(what, "true or false");
  return bool_;
}

const std::vector<Json>& Json::as_array(const std::string& what) const {
  if (type_ != Type::Array) type_error(what, "an array");
  return array_;
}

const Json* Json::find(const std::string& key) const {
  if (type_ != Type::Object) return nullptr;
  auto it = object_.find(key);
  return it == object_.end() ? nullptr : &it->second;
}

}  // namespace bark::tools
