#include "io/pickle.h"

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "text/utf8.h"

namespace bark::io {

size_t element_size(StorageDType dtype) {
  switch (dtype) {
    case StorageDType::Float64:
    case StorageDType::Int64: return 8;
    case StorageDType::Float32:
    case StorageDType::Int32: return 4;
    case StorageDType::Float16:
    case StorageDType::BFloat16:
    case StorageDType::Int16: return 2;
    case StorageDType::Int8:
    case StorageDType::UInt8:
    case StorageDType::Bool: return 1;
  }
  return 1;
}

const char* dtype_name(StorageDType dtype) {
  switch (dtype) {
    case StorageDType::Float32: return "float32";
    case StorageDType::Float64: return "float64";
    case StorageDType::Float16: return "float16";
    case StorageDType::BFloat16: return "bfloat16";
    case StorageDType::Int64: return "int64";
    case StorageDType::Int32: return "int32";
    case StorageDType::Int16: return "int16";
    case StorageDType::Int8: return "int8";
    case StorageDType::UInt8: return "uint8";
    case StorageDType::Bool: return "bool";
  }
  return "?";
}

double PyValue::as_double() const {
  switch (kind) {
    case Kind::Int: return static_cast<double>(i);
    case Kind::Float: return f;
    case Kind::Bool: return b ? 1.0 : 0.0;
    default: throw std::runtime_error("expected a number, got " + type_name());
  }
}

int64_t PyValue::as_int() const {
  switch (kind) {
    case Kind::Int: return i;
    case Kind::Bool: return b ? 1 : 0;
    case Kind::Float:
      if (std::isfinite(f) && std::floor(f) == f && std::fabs(f) < 9.0e15) return static_cast<int64_t>(f);
      break;
    default: break;
  }
  throw std::runtime_error("expected an integer, got " + type_name());
}

const PyValue* PyValue::get(const std::string& key) const {
  if (kind != Kind::Dict) return nullptr;
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    if (it->first && it->first->kind == Kind::String && it->first->s == key) return it->second.get();
  }
  return nullptr;
}

// Hostile pickles can nest containers a million levels deep; tear them down iteratively so that
// destruction never recurses.
PyValue::~PyValue() {
  thread_local std::vector<PyValuePtr> pending;
  thread_local bool tearing_down = false;
  for (auto& item : items) pending.push_back(std::move(item));
  for (auto& [k, v] : entries) {
    pending.push_back(std::move(k));
    pending.push_back(std::move(v));
  }
  if (tearing_down) return;
  tearing_down = true;
  while (!pending.empty()) {
    PyValuePtr next = std::move(pending.back());
    pending.pop_back();
    next.reset();  // may push its children onto `pending`
  }
  tearing_down = false;
}

std::string PyValue::type_name() const {
  switch (kind) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Global: return "global " + s;
    case Kind::Tensor: return "tensor";
    case Kind::Storage: return "storage";
    case Kind::DType: return "numpy.dtype";
  }
  return "?";
}

namespace {

PyValuePtr make(PyValue::Kind kind) {
  auto v = std::make_shared<PyValue>();
  v->kind = kind;
  return v;
}
PyValuePtr make_int(int64_t x) {
  auto v = make(PyValue::Kind::Int);
  v->i = x;
  return v;
}
PyValuePtr make_float(double x) {
  auto v = make(PyValue::Kind::Float);
  v->f = x;
  return v;
}
PyValuePtr make_bool(bool x) {
  auto v = make(PyValue::Kind::Bool);
  v->b = x;
  return v;
}
PyValuePtr make_str(std::string s, PyValue::Kind kind = PyValue::Kind::String) {
  auto v = make(kind);
  v->s = std::move(s);
  return v;
}

bool storage_dtype_from_name(const std::string& name, StorageDType* out) {
  static const std::pair<const char*, StorageDType> table[] = {
      {"torch.FloatStorage", StorageDType::Float32},   {"torch.DoubleStorage", StorageDType::Float64},
      {"torch.HalfStorage", StorageDType::Float16},    {"torch.BFloat16Storage", StorageDType::BFloat16},
      {"torch.LongStorage", StorageDType::Int64},      {"torch.IntStorage", StorageDType::Int32},
      {"torch.ShortStorage", StorageDType::Int16},     {"torch.CharStorage", StorageDType::Int8},
      {"torch.ByteStorage", StorageDType::UInt8},      {"torch.BoolStorage", StorageDType::Bool},
  };
  for (const auto& [n, d] : table) {
    if (name == n) {
      *out = d;
      return true;
    }
  }
  return false;
}

// Globals that may appear; anything else is refused.
bool is_allowed_global(const std::string& g) {
  static const char* allowed[] = {
      "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter", "collections.OrderedDict",
      "numpy.core.multiarray.scalar",    "numpy._core.multiarray.scalar",   "numpy.dtype",
      "_codecs.encode",                  "torch.FloatStorage",              "torch.DoubleStorage",
      "torch.HalfStorage",               "torch.BFloat16Storage",           "torch.LongStorage",
      "torch.IntStorage",                "torch.ShortStorage",              "torch.CharStorage",
      "torch.ByteStorage",               "torch.BoolStorage",
  };
  for (const char* a : allowed) {
    if (g == a) return true;
  }
  return false;
}

// _codecs.encode(s, "latin1"): how protocol-2 pickles carry bytes. False if `in` is not UTF-8
// or has a code point above U+00FF.
bool utf8_to_latin1(const std::string& in, std::string* out) {
  out->clear();
  char32_t cp = 0;
  for (size_t i = 0, n = 0; i < in.size(); i += n) {
    n = text::decode_utf8_at(in, i, cp);
    if (n == 0 || cp > 0xFF) return false;
    out->push_back(static_cast<char>(cp));
  }
  return true;
}

// Containers reachable from `roots` (each once), in no particular order.
std::vector<PyValue*> reachable(const std::vector<PyValue*>& roots) {
  std::vector<PyValue*> out;
  std::unordered_set<PyValue*> seen;
  std::vector<PyValue*> todo(roots.begin(), roots.end());
  while (!todo.empty()) {
    PyValue* v = todo.back();
    todo.pop_back();
    if (v == nullptr || !seen.insert(v).second) continue;
    out.push_back(v);
    for (const auto& item : v->items) todo.push_back(item.get());
    for (const auto& [k, val] : v->entries) {
      todo.push_back(k.get());
      todo.push_back(val.get());
    }
  }
  return out;
}

// True when a container reachable from `roots` contains itself (a list appended to itself via
// the memo, ...). Iterative depth-first search: a child that is still on the path is a cycle.
bool has_cycle(const std::vector<PyValue*>& roots) {
  enum State : uint8_t { OnPath, Done };
  std::unordered_map<PyValue*, State> state;
  struct Frame {
    PyValue* v;
    size_t next;  // child index: items first, then entries' keys and values
  };
  const auto child = [](PyValue* v, size_t i) -> PyValue* {
    if (i < v->items.size()) return v->items[i].get();
    i -= v->items.size();
    const auto& e = v->entries[i / 2];
    return (i % 2 == 0 ? e.first : e.second).get();
  };
  for (PyValue* root : roots) {
    if (root == nullptr || state.count(root) != 0) continue;
    std::vector<Frame> path{{root, 0}};
    state[root] = OnPath;
    while (!path.empty()) {
      Frame& f = path.back();
      if (f.next == f.v->items.size() + 2 * f.v->entries.size()) {
        state[f.v] = Done;
        path.pop_back();
        continue;
      }
      PyValue* c = child(f.v, f.next++);
      if (c == nullptr) continue;
      const auto it = state.find(c);
      if (it == state.end()) {
        state[c] = OnPath;
        path.push_back({c, 0});
      } else if (it->second == OnPath) {
        return true;
      }
    }
  }
  return false;
}

class Unpickler {
 public:
  Unpickler(const uint8_t* data, size_t size, std::string what) : p_(data), end_(data + size), what_(std::move(what)) {}
  // A reference cycle would never be freed by reference counting. Only containers that got
  // items after they were made (APPEND(S), ADDITEMS, SETITEM(S)) can close one; those the result
  // does not reach (everything after an error or a refused cycle; entries dropped from the stack
  // or the memo on the way) are emptied, which frees any cycle among them. Found by fuzz_pickle:
  // cycles dropped by POP, by an overwritten memo key and by an opcode failing after its pops.
  ~Unpickler() {
    std::unordered_set<const PyValue*> live;
    if (result_) {
      for (const PyValue* v : reachable({result_.get()})) live.insert(v);
    }
    std::vector<PyValuePtr> hold;  // released after every garbage container is emptied
    for (const auto& c : mutated_) {
      if (live.count(c.get()) != 0) continue;
      for (auto& item : c->items) hold.push_back(std::move(item));
      for (auto& [k, val] : c->entries) {
        hold.push_back(std::move(k));
        hold.push_back(std::move(val));
      }
      c->items.clear();
      c->entries.clear();
    }
  }
  Unpickler(const Unpickler&) = delete;
  Unpickler& operator=(const Unpickler&) = delete;

  PyValuePtr run() {
    while (true) {
      const uint8_t op = u8();
      if (op == '.') break;  // STOP
      step(op);
    }
    if (stack_.size() != 1 || !marks_.empty()) fail("malformed pickle: stack not balanced at STOP");
    // Nothing torch or numpy writes refers to itself; such a structure is refused.
    if (has_cycle({stack_.back().get()})) fail("refusing a structure that contains itself (a reference cycle)");
    result_ = stack_.back();
    return result_;
  }

 private:
  [[noreturn]] void fail(const std::string& msg) const {
    throw std::runtime_error(what_ + ": " + msg + " (at byte " + std::to_string(pos()) + " of data.pkl)");
  }
  size_t pos() const { return static_cast<size_t>(p_ - begin_()); }
  const uint8_t* begin_() const { return end_ - total_; }

  void need(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) fail("truncated pickle");
  }
  uint8_t u8() {
    need(1);
    return *p_++;
  }
  uint64_t le(size_t n) {
    need(n);
    uint64_t v = 0;
    for (size_t k = 0; k < n; ++k) v |= static_cast<uint64_t>(p_[k]) << (8 * k);
    p_ += n;
    return v;
  }
  std::string bytes(uint64_t n) {
    if (n > static_cast<uint64_t>(end_ - p_)) fail("truncated pickle (string of " + std::to_string(n) + " bytes)");
    std::string s(reinterpret_cast<const char*>(p_), static_cast<size_t>(n));
    p_ += n;
    return s;
  }
  std::string line() {
    const uint8_t* nl = static_cast<const uint8_t*>(std::memchr(p_, '\n', static_cast<size_t>(end_ - p_)));
    if (nl == nullptr) fail("truncated pickle (unterminated line)");
    std::string s(reinterpret_cast<const char*>(p_), static_cast<size_t>(nl - p_));
    p_ = nl + 1;
    return s;
  }

  void push(PyValuePtr v) { stack_.push_back(std::move(v)); }
  PyValuePtr pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) fail("malformed pickle: stack underflow");
    auto v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  PyValuePtr& top() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) fail("malformed pickle: stack underflow");
    return stack_.back();
  }
  std::vector<PyValuePtr> pop_mark() {
    if (marks_.empty()) fail("malformed pickle: no MARK");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<PyValuePtr> items(std::make_move_iterator(stack_.begin() + static_cast<std::ptrdiff_t>(m)),
                                  std::make_move_iterator(stack_.end()));
    stack_.resize(m);
    return items;
  }
  PyValuePtr tuple(std::vector<PyValuePtr> items) {
    auto t = make(PyValue::Kind::Tuple);
    t->items = std::move(items);
    return t;
  }
  void memo_put(uint64_t idx) {
    if (stack_.empty()) fail("malformed pickle: PUT on empty stack");
    if (idx > total_) fail("malformed pickle: memo index out of range");
    // Python's pickler stores each object under a new key. A replaced entry could be the last
    // reference to a cycle, which the destructor would then never find and free (found by
    // fuzz_pickle): refused.
    if (!memo_.emplace(idx, stack_.back()).second) {
      fail("malformed pickle: memo key " + std::to_string(idx) + " stored twice");
    }
  }
  void memo_get(uint64_t idx) {
    auto it = memo_.find(idx);
    if (it == memo_.end()) fail("malformed pickle: memo key " + std::to_string(idx) + " not found");
    push(it->second);
  }
  void note_mutated(const PyValuePtr& c) {
    if (mutated_seen_.insert(c.get()).second) mutated_.push_back(c);
  }
  void set_items(const PyValuePtr& dict, std::vector<PyValuePtr>& kv) {
    if (dict->kind != PyValue::Kind::Dict) fail("SETITEMS on a " + dict->type_name());
    if (kv.size() % 2 != 0) fail("malformed pickle: odd SETITEMS");
    note_mutated(dict);
    // Duplicate keys are kept; PyValue::get returns the last one, as a Python dict would hold.
    for (size_t k = 0; k < kv.size(); k += 2) dict->entries.emplace_back(kv[k], kv[k + 1]);
  }
  void append_items(const PyValuePtr& list, std::vector<PyValuePtr>& items) {
    if (list->kind != PyValue::Kind::List) fail("APPENDS on a " + list->type_name());
    note_mutated(list);
    for (auto& it : items) list->items.push_back(std::move(it));
  }

  PyValuePtr call(const PyValuePtr& callable, const PyValuePtr& args) {
    if (callable->kind != PyValue::Kind::Global) fail("REDUCE of a non-global " + callable->type_name());
    if (args->kind != PyValue::Kind::Tuple) fail("REDUCE arguments are not a tuple");
    const std::string& g = callable->s;
    const auto& a = args->items;
    if (g == "torch._utils._rebuild_tensor_v2") {
      if (a.size() < 4) fail("_rebuild_tensor_v2 with " + std::to_string(a.size()) + " arguments");
      if (a[0]->kind != PyValue::Kind::Storage) fail("_rebuild_tensor_v2: first argument is not a storage");
      auto t = std::make_shared<TensorRef>();
      t->storage = *a[0]->storage;
      t->storage_offset = a[1]->as_int();
      for (int which = 2; which <= 3; ++which) {
        if (a[which]->kind != PyValue::Kind::Tuple) fail("_rebuild_tensor_v2: size/stride is not a tuple");
        auto& dst = which == 2 ? t->sizes : t->strides;
        for (const auto& x : a[which]->items) dst.push_back(x->as_int());
      }
      if (t->sizes.size() != t->strides.size()) fail("_rebuild_tensor_v2: size and stride ranks differ");
      auto v = make(PyValue::Kind::Tensor);
      v->tensor = std::move(t);
      return v;
    }
    if (g == "torch._utils._rebuild_parameter") {
      if (a.empty() || a[0]->kind != PyValue::Kind::Tensor) fail("_rebuild_parameter without a tensor");
      return a[0];
    }
    if (g == "collections.OrderedDict") {
      auto d = make(PyValue::Kind::Dict);
      if (!a.empty()) {
        if (a[0]->kind != PyValue::Kind::List) fail("OrderedDict(...) argument is not a list");
        for (const auto& pair : a[0]->items) {
          if (pair->kind != PyValue::Kind::Tuple || pair->items.size() != 2) fail("OrderedDict item is not a pair");
          d->entries.emplace_back(pair->items[0], pair->items[1]);
        }
      }
      return d;
    }
    if (g == "numpy.dtype") {
      if (a.empty() || a[0]->kind != PyValue::Kind::String) fail("numpy.dtype(...) without a name");
      return make_str(a[0]->s, PyValue::Kind::DType);
    }
    if (g == "numpy.core.multiarray.scalar" || g == "numpy._core.multiarray.scalar") {
      if (a.size() != 2 || a[0]->kind != PyValue::Kind::DType || a[1]->kind != PyValue::Kind::Bytes) {
        fail("numpy scalar(...) with unexpected arguments");
      }
      return numpy_scalar(a[0]->s, a[1]->s);
    }
    if (g == "_codecs.encode") {
      if (a.size() != 2 || a[0]->kind != PyValue::Kind::String || a[1]->kind != PyValue::Kind::String ||
          (a[1]->s != "latin1" && a[1]->s != "latin-1")) {
        fail("_codecs.encode with unexpected arguments");
      }
      std::string out;
      if (!utf8_to_latin1(a[0]->s, &out)) fail("_codecs.encode: string is not latin-1");
      return make_str(std::move(out), PyValue::Kind::Bytes);
    }
    fail("refusing to call '" + g + "'");
  }

  PyValuePtr numpy_scalar(const std::string& dtype, const std::string& raw) {
    auto le_bytes = [&](size_t n) {
      if (raw.size() != n) fail("numpy scalar of dtype " + dtype + " has " + std::to_string(raw.size()) + " bytes");
      uint64_t v = 0;
      for (size_t k = 0; k < n; ++k) v |= static_cast<uint64_t>(static_cast<unsigned char>(raw[k])) << (8 * k);
      return v;
    };
    if (dtype == "f8") {
      const uint64_t bits = le_bytes(8);
      double d;
      std::memcpy(&d, &bits, 8);
      return make_float(d);
    }
    if (dtype == "f4") {
      const auto bits = static_cast<uint32_t>(le_bytes(4));
      float x;
      std::memcpy(&x, &bits, 4);
      return make_float(x);
    }
    if (dtype == "i8" || dtype == "u8") return make_int(static_cast<int64_t>(le_bytes(8)));
    if (dtype == "i4") return make_int(static_cast<int32_t>(le_bytes(4)));
    if (dtype == "u4") return make_int(static_cast<int64_t>(le_bytes(4)));
    if (dtype == "b1") return make_bool(le_bytes(1) != 0);
    fail("unsupported numpy scalar dtype '" + dtype + "'");
  }

  void global(const std::string& module, const std::string& name) {
    const std::string g = module + "." + name;
    if (!is_allowed_global(g)) {
      fail("refusing global '" + g + "': not a tensor, storage or plain value (the file may be malicious)");
    }
    push(make_str(g, PyValue::Kind::Global));
  }

  void persistent_load(const PyValuePtr& pid) {
    // ('storage', torch.FloatStorage, key, location, numel)
    if (pid->kind != PyValue::Kind::Tuple || pid->items.size() != 5 || pid->items[0]->kind != PyValue::Kind::String ||
        pid->items[0]->s != "storage") {
      fail("unsupported persistent id (expected a ('storage', ...) tuple)");
    }
    const auto& it = pid->items;
    if (it[1]->kind != PyValue::Kind::Global) fail("persistent id: storage type is not a global");
    auto st = std::make_shared<StorageRef>();
    if (!storage_dtype_from_name(it[1]->s, &st->dtype)) fail("unsupported storage type '" + it[1]->s + "'");
    if (it[2]->kind != PyValue::Kind::String) fail("persistent id: storage key is not a string");
    st->key = it[2]->s;
    if (st->key.empty() || st->key.find('/') != std::string::npos || st->key.find("..") != std::string::npos) {
      fail("persistent id: invalid storage key '" + st->key + "'");
    }
    st->location = it[3]->kind == PyValue::Kind::String ? it[3]->s : "";
    st->numel = it[4]->as_int();
    if (st->numel < 0) fail("persistent id: negative storage size");
    auto v = make(PyValue::Kind::Storage);
    v->storage = std::move(st);
    push(std::move(v));
  }

  void build() {
    auto state = pop();
    auto& obj = top();
    switch (obj->kind) {
      case PyValue::Kind::Dict:    // OrderedDict state (e.g. a state_dict's _metadata): not needed
      case PyValue::Kind::DType:   // numpy dtype state (byte order etc.); scalars are little-endian
      case PyValue::Kind::Tensor:  // tensor state from _rebuild_tensor_v2 users: not needed
        return;
      default: fail("BUILD on a " + obj->type_name());
    }
  }

  int64_t parse_text_int(const std::string& s) {
    std::string t = s;
    if (!t.empty() && t.back() == 'L') t.pop_back();
    if (t.empty()) fail("empty integer literal");
    size_t idx = 0;
    int64_t v = 0;
    try {
      v = std::stoll(t, &idx, 10);
    } catch (const std::exception&) {
      fail("bad integer literal '" + s + "'");
    }
    if (idx != t.size()) fail("bad integer literal '" + s + "'");
    return v;
  }

  void step(uint8_t op) {
    switch (op) {
      case 0x80: u8(); return;          // PROTO
      case 0x95: le(8); return;         // FRAME
      case '(': marks_.push_back(stack_.size()); return;
      case '0': pop(); return;          // POP
      case '1': pop_mark(); return;     // POP_MARK
      case '2': push(top()); return;    // DUP
      case 'N': push(make(PyValue::Kind::None)); return;
      case 0x88: push(make_bool(true)); return;
      case 0x89: push(make_bool(false)); return;
      case 'I': {
        const std::string s = line();
        if (s == "01") push(make_bool(true));
        else if (s == "00") push(make_bool(false));
        else push(make_int(parse_text_int(s)));
        return;
      }
      case 'L': push(make_int(parse_text_int(line()))); return;
      case 'J': push(make_int(static_cast<int32_t>(le(4)))); return;
      case 'K': push(make_int(static_cast<int64_t>(le(1)))); return;
      case 'M': push(make_int(static_cast<int64_t>(le(2)))); return;
      case 0x8a:
      case 0x8b: {  // LONG1, LONG4: little-endian two's complement
        const uint64_t n = op == 0x8a ? le(1) : le(4);
        if (n > 8) fail("integer too large (" + std::to_string(n) + " bytes)");
        const std::string raw = bytes(n);
        uint64_t v = 0;
        for (size_t k = 0; k < n; ++k) v |= static_cast<uint64_t>(static_cast<unsigned char>(raw[k])) << (8 * k);
        if (n > 0 && n < 8 && (static_cast<unsigned char>(raw[n - 1]) & 0x80)) v |= ~uint64_t{0} << (8 * n);
        push(make_int(static_cast<int64_t>(v)));
        return;
      }
      case 'F': {
        const std::string s = line();
        try {
          push(make_float(std::stod(s)));
        } catch (const std::exception&) {
          fail("bad float literal '" + s + "'");
        }
        return;
      }
      case 'G': {
        need(8);
        uint64_t bits = 0;
        for (int k = 0; k < 8; ++k) bits = (bits << 8) | p_[k];  // big-endian
        p_ += 8;
        double d;
        std::memcpy(&d, &bits, 8);
        push(make_float(d));
        return;
      }
      case 'X': push(make_str(bytes(le(4)))); return;
      case 0x8c: push(make_str(bytes(le(1)))); return;
      case 0x8d: push(make_str(bytes(le(8)))); return;
      case 'V': push(make_str(line())); return;
      case 'T': push(make_str(bytes(le(4)), PyValue::Kind::Bytes)); return;
      case 'U': push(make_str(bytes(le(1)), PyValue::Kind::Bytes)); return;
      case 'B': push(make_str(bytes(le(4)), PyValue::Kind::Bytes)); return;
      case 'C': push(make_str(bytes(le(1)), PyValue::Kind::Bytes)); return;
      case 0x8e:
      case 0x96: push(make_str(bytes(le(8)), PyValue::Kind::Bytes)); return;
      case ')': push(tuple({})); return;
      case 't': push(tuple(pop_mark())); return;
      case 0x85: {
        auto a = pop();
        push(tuple({a}));
        return;
      }
      case 0x86: {
        auto b = pop();
        auto a = pop();
        push(tuple({a, b}));
        return;
      }
      case 0x87: {
        auto c = pop();
        auto b = pop();
        auto a = pop();
        push(tuple({a, b, c}));
        return;
      }
      case ']': push(make(PyValue::Kind::List)); return;
      case 'l': {
        auto l = make(PyValue::Kind::List);
        l->items = pop_mark();
        push(l);
        return;
      }
      case 'a': {
        std::vector<PyValuePtr> one{pop()};
        append_items(top(), one);
        return;
      }
      case 'e': {
        auto items = pop_mark();
        append_items(top(), items);
        return;
      }
      case '}': push(make(PyValue::Kind::Dict)); return;
      case 'd': {
        auto d = make(PyValue::Kind::Dict);
        auto kv = pop_mark();
        set_items(d, kv);
        push(d);
        return;
      }
      case 's': {
        auto v = pop();
        auto k = pop();
        std::vector<PyValuePtr> kv{k, v};
        set_items(top(), kv);
        return;
      }
      case 'u': {
        auto kv = pop_mark();
        set_items(top(), kv);
        return;
      }
      case 0x8f: push(make(PyValue::Kind::List)); return;  // EMPTY_SET (kept as a list)
      case 0x90: {                                          // ADDITEMS
        auto items = pop_mark();
        append_items(top(), items);
        return;
      }
      case 0x91: {  // FROZENSET
        auto l = make(PyValue::Kind::List);
        l->items = pop_mark();
        push(l);
        return;
      }
      case 'g': memo_get(static_cast<uint64_t>(parse_text_int(line()))); return;
      case 'h': memo_get(le(1)); return;
      case 'j': memo_get(le(4)); return;
      case 'p': memo_put(static_cast<uint64_t>(parse_text_int(line()))); return;
      case 'q': memo_put(le(1)); return;
      case 'r': memo_put(le(4)); return;
      case 0x94: memo_put(memo_.size()); return;  // MEMOIZE
      case 'c': {
        const std::string module = line();
        const std::string name = line();
        global(module, name);
        return;
      }
      case 0x93: {  // STACK_GLOBAL
        auto name = pop();
        auto module = pop();
        if (module->kind != PyValue::Kind::String || name->kind != PyValue::Kind::String) {
          fail("STACK_GLOBAL with non-string names");
        }
        global(module->s, name->s);
        return;
      }
      case 'R': {
        auto args = pop();
        auto callable = pop();
        push(call(callable, args));
        return;
      }
      case 0x81: {  // NEWOBJ cls args: only for allowed globals, same as a call
        auto args = pop();
        auto cls = pop();
        push(call(cls, args));
        return;
      }
      case 'b': build(); return;
      case 'Q': persistent_load(pop()); return;
      case 'P': fail("text persistent ids are not supported");
      default: {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "0x%02x", op);
        fail(std::string("unsupported pickle opcode ") + buf);
      }
    }
  }

  const uint8_t* p_;
  const uint8_t* end_;
  size_t total_ = static_cast<size_t>(end_ - p_);
  std::string what_;
  std::vector<PyValuePtr> stack_;
  std::vector<size_t> marks_;
  std::vector<PyValuePtr> mutated_;  // containers given items after they were made (see ~Unpickler)
  std::unordered_set<const PyValue*> mutated_seen_;
  PyValuePtr result_;                // set once run() accepts the structure
  std::unordered_map<uint64_t, PyValuePtr> memo_;
};

}  // namespace

PyValuePtr unpickle(const uint8_t* data, size_t size, const std::string& what) {
  if (data == nullptr || size == 0) throw std::runtime_error(what + ": empty pickle");
  return Unpickler(data, size, what).run();
}

}  // namespace bark::io
