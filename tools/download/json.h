// A small JSON reader, enough for assets/models.json: objects, arrays, strings (with \u
// escapes), numbers, true/false/null. Errors are std::runtime_error with the byte offset.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bark::tools {

class Json {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };

  static Json parse(std::string_view text, const std::string& origin);

  Type type() const { return type_; }
  bool is_object() const { return type_ == Type::Object; }
  bool is_array() const { return type_ == Type::Array; }

  // Typed accessors; throw std::runtime_error naming `what` on a type mismatch.
  const std::string& as_string(const std::string& what) const;
  double as_number(const std::string& what) const;
  int64_t as_int(const std::string& what) const;
  bool as_bool(const std::string& what) const;
  const std::vector<Json>& as_array(const std::string& what) const;

  // Object member or nullptr.
  const Json* find(const std::string& key) const;
  const std::map<std::string, Json>& members() const { return object_; }

 private:
  friend class JsonParser;
  Type type_ = Type::Null;
  bool bool_ = false;
  double number_ = 0.0;
  std::string string_;
  std::vector<Json> array_;
  std::map<std::string, Json> object_;
};

}  // namespace bark::tools
