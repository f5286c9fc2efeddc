// Reading the arguments of an exported function and turning C++ failures into JavaScript errors.
//
// Every entry point receives tfjs's own typed arrays: inputs are read in place and outputs are
// written in place, so no tensor memory is ever owned here. Integer parameters arrive packed in
// one Int32Array to keep the per-call cost of crossing into C++ to a handful of N-API calls.
#pragma once

#include <node_api.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace rt {

// A wrong argument from JavaScript: becomes a TypeError-like Error with code ERR_NATIVE_ARGUMENT.
struct ArgumentError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A problem the native kernel does not take on (error code ERR_NATIVE_UNSUPPORTED): the caller
// falls back to tfjs's cpu kernel.
struct Unsupported : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct F32View {
  float* data = nullptr;
  size_t length = 0;
};

class Args {
 public:
  static constexpr size_t kMaxArgs = 16;

  Args(napi_env env, napi_callback_info info) : env_(env) {
    argc_ = kMaxArgs;
    check(napi_get_cb_info(env, info, &argc_, argv_, nullptr, nullptr), "napi_get_cb_info");
  }

  napi_env env() const { return env_; }
  size_t count() const { return argc_; }

  bool isNullish(size_t i) const {
    if (i >= argc_) return true;
    napi_valuetype type;
    check(napi_typeof(env_, argv_[i], &type), "napi_typeof");
    return type == napi_null || type == napi_undefined;
  }

  F32View f32(size_t i, const char* name) const {
    F32View view;
    napi_typedarray_type type = napi_int8_array;
    void* data = nullptr;
    if (i >= argc_ || !isTypedArray(i) || !typedArrayInfo(i, &type, &view.length, &data) || type != napi_float32_array) {
      throw ArgumentError(std::string(name) + " must be a Float32Array");
    }
    view.data = static_cast<float*>(data);
    return view;
  }

  // A Float32Array or null/undefined (then data is nullptr).
  F32View optionalF32(size_t i, const char* name) const {
    if (isNullish(i)) return F32View{};
    return f32(i, name);
  }

  std::vector<int64_t> ints(size_t i, const char* name) const {
    napi_typedarray_type type = napi_int8_array;
    size_t length = 0;
    void* data = nullptr;
    if (i >= argc_ || !isTypedArray(i) || !typedArrayInfo(i, &type, &length, &data) || type != napi_int32_array) {
      throw ArgumentError(std::string(name) + " must be an Int32Array");
    }
    const int32_t* values = static_cast<const int32_t*>(data);
    return std::vector<int64_t>(values, values + length);
  }

  double number(size_t i, const char* name) const {
    double value = 0;
    if (i >= argc_ || napi_get_value_double(env_, argv_[i], &value) != napi_ok) {
      throw ArgumentError(std::string(name) + " must be a number");
    }
    return value;
  }

  int64_t integer(size_t i, const char* name) const {
    double value = number(i, name);
    if (value != static_cast<double>(static_cast<int64_t>(value))) {
      throw ArgumentError(std::string(name) + " must be an integer");
    }
    return static_cast<int64_t>(value);
  }

  napi_value result = nullptr;

  void returnNumber(double value) { check(napi_create_double(env_, value, &result), "napi_create_double"); }
  void returnString(const std::string& value) {
    check(napi_create_string_utf8(env_, value.c_str(), value.size(), &result), "napi_create_string_utf8");
  }

 private:
  bool isTypedArray(size_t i) const {
    bool is = false;
    check(napi_is_typedarray(env_, argv_[i], &is), "napi_is_typedarray");
    return is;
  }

  bool typedArrayInfo(size_t i, napi_typedarray_type* type, size_t* length, void** data) const {
    return napi_get_typedarray_info(env_, argv_[i], type, length, data, nullptr, nullptr) == napi_ok;
  }

  static void check(napi_status status, const char* what) {
    if (status != napi_ok) throw std::runtime_error(std::string(what) + " failed");
  }

  napi_env env_;
  size_t argc_;
  napi_value argv_[kMaxArgs] = {};
};

// Requires `view` to hold exactly `expected` values.
inline void requireLength(const F32View& view, size_t expected, const char* name) {
  if (view.length != expected) {
    throw ArgumentError(std::string(name) + " has " + std::to_string(view.length) + " values, expected " +
                        std::to_string(expected));
  }
}

}  // namespace rt
