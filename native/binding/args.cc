#include "args.h"

#include <cmath>
#include <limits>

namespace acb {

// Argument errors carry Node's own codes, so JavaScript callers can branch on `code` (see src/errors.ts).
Napi::Error WithCode(Napi::Error e, const char* code) {
  e.Set("code", Napi::String::New(e.Env(), code));
  return e;
}

void ThrowType(Napi::Env env, const std::string& msg) {
  throw WithCode(Napi::TypeError::New(env, msg), kCodeInvalidArgType);
}
void ThrowRange(Napi::Env env, const std::string& msg) {
  throw WithCode(Napi::RangeError::New(env, msg), kCodeOutOfRange);
}

const char* TypeName(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "TypedArray";
  }
}

Napi::Object RequireObject(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsObject())
    ThrowType(info.Env(), std::string("Expected ") + what + " as argument " + std::to_string(i + 1));
  return info[i].As<Napi::Object>();
}

bool Has(const Napi::Object& o, const char* key) {
  if (!o.Has(key)) return false;
  const Napi::Value v = o.Get(key);
  return !v.IsUndefined() && !v.IsNull();
}

ArrayArg GetArray(const Napi::Object& o, const char* key, napi_typedarray_type type, const char* expected) {
  const Napi::Env env = o.Env();
  const Napi::Value v = o.Get(key);
  if (!v.IsTypedArray())
    ThrowType(env, std::string("Expected ") + key + " to be " + expected + " but received " +
                       (v.IsUndefined() ? "undefined" : v.IsArray() ? "an Array" : "a non-typed-array value"));
  const Napi::TypedArray ta = v.As<Napi::TypedArray>();
  if (ta.TypedArrayType() != type)
    ThrowType(env, std::string("Expected ") + key + " to be " + expected + " but received " +
                       TypeName(ta.TypedArrayType()));
  ArrayArg a;
  a.type = type;
  a.length = ta.ElementLength();
  a.data = static_cast<char*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  return a;
}

ArrayArg GetLogits(const Napi::Object& o, const char* key, ac::DType dt) {
  if (dt == ac::DType::F32) return GetArray(o, key, napi_float32_array, "a Float32Array (dtype float32)");
  return GetArray(o, key, napi_uint16_array,
                  dt == ac::DType::F16 ? "a Uint16Array of float16 bits (dtype float16)"
                                       : "a Uint16Array of bfloat16 bits (dtype bfloat16)");
}

double GetNumber(const Napi::Object& o, const char* key) {
  const Napi::Value v = o.Get(key);
  if (!v.IsNumber()) ThrowType(o.Env(), std::string("Expected ") + key + " to be a number");
  return v.As<Napi::Number>().DoubleValue();
}

int64_t GetInt(const Napi::Object& o, const char* key, int64_t lo, int64_t hi) {
  const double d = GetNumber(o, key);
  if (!std::isfinite(d) || std::floor(d) != d)
    ThrowType(o.Env(), std::string("Expected ") + key + " to be an integer but received " + std::to_string(d));
  if (d < static_cast<double>(lo) || d > static_cast<double>(hi))
    ThrowRange(o.Env(), std::string("Expected ") + key + " in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                            "] but received " + std::to_string(static_cast<long long>(d)));
  return static_cast<int64_t>(d);
}

ac::DType GetDType(const Napi::Object& o, const char* key) {
  return static_cast<ac::DType>(GetInt(o, key, 0, 2));
}

std::string GetString(const Napi::Object& o, const char* key) {
  const Napi::Value v = o.Get(key);
  if (!v.IsString()) ThrowType(o.Env(), std::string("Expected ") + key + " to be a string");
  return v.As<Napi::String>().Utf8Value();
}

ac::Params GetParams(const Napi::Object& o, size_t vocab) {
  const Napi::Env env = o.Env();
  ac::Params p;
  p.mode = static_cast<ac::Mode>(GetInt(o, "mode", 0, 1));
  const double alpha = GetNumber(o, "alpha");
  if (!(alpha >= 0.0 && alpha <= 1.0))
    ThrowRange(env, "Expected alpha in [0, 1] but received " + std::to_string(alpha));
  p.alpha = static_cast<float>(alpha);
  p.min_candidates = static_cast<int32_t>(GetInt(o, "minCandidates", 1, static_cast<int64_t>(vocab)));
  if (Has(o, "beta")) {
    const double beta = GetNumber(o, "beta");
    if (!std::isfinite(beta) || beta < 0.0 || beta > 1e6)
      ThrowRange(env, "Expected beta to be a finite number >= 0 but received " + std::to_string(beta));
    p.has_beta = true;
    p.beta = static_cast<float>(beta);
  }
  return p;
}

const ac::Ops& GetOps(const Napi::Object& o) {
  if (!Has(o, "isa")) return ac::best_ops();
  const std::string name = GetString(o, "isa");
  const ac::Ops* ops = ac::ops_by_name(name.c_str());
  if (!ops) ThrowRange(o.Env(), "Instruction set '" + name + "' is not available on this CPU or build");
  return *ops;
}

}  // namespace acb
