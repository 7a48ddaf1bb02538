// Reading and validating the request object the TypeScript layer hands to the addon. Every field is checked
// here again (the TS layer checks first with friendlier context), so no JavaScript input can reach a kernel
// with a wrong size or type.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

#include "contrast.h"

namespace acb {

// The `code` of errors crossing into JavaScript (the TypeScript side names them in src/errors.ts).
inline constexpr const char* kCodeInvalidArgType = "ERR_INVALID_ARG_TYPE";
inline constexpr const char* kCodeOutOfRange = "ERR_OUT_OF_RANGE";
inline constexpr const char* kCodeInvalidState = "AC_INVALID_STATE";
inline constexpr const char* kCodeOrt = "AC_ORT";

// Sets `code` on a JavaScript error and returns it.
Napi::Error WithCode(Napi::Error e, const char* code);

// Throws a JavaScript TypeError / RangeError (as a C++ exception: the binding is built with NAPI_CPP_EXCEPTIONS).
[[noreturn]] void ThrowType(Napi::Env env, const std::string& msg);
[[noreturn]] void ThrowRange(Napi::Env env, const std::string& msg);

// A typed array argument: pointer, element count and element type.
struct ArrayArg {
  void* data = nullptr;
  size_t length = 0;
  napi_typedarray_type type = napi_float32_array;
};

Napi::Object RequireObject(const Napi::CallbackInfo& info, size_t i, const char* what);
bool Has(const Napi::Object& o, const char* key);  // present and not undefined/null

// Typed array field; `type` is the only accepted element type.
ArrayArg GetArray(const Napi::Object& o, const char* key, napi_typedarray_type type, const char* expected);
// Logit array field: Float32Array for float32, Uint16Array holding half or bfloat16 bits otherwise.
ArrayArg GetLogits(const Napi::Object& o, const char* key, ac::DType dt);

double GetNumber(const Napi::Object& o, const char* key);
// Integer field in [lo, hi].
int64_t GetInt(const Napi::Object& o, const char* key, int64_t lo, int64_t hi);
ac::DType GetDType(const Napi::Object& o, const char* key);
std::string GetString(const Napi::Object& o, const char* key);

// Reads mode/alpha/minCandidates/beta; vocab bounds minCandidates.
ac::Params GetParams(const Napi::Object& o, size_t vocab);

// The Ops named by the optional `isa` field, or the best one for this CPU.
const ac::Ops& GetOps(const Napi::Object& o);

const char* TypeName(napi_typedarray_type t);

}  // namespace acb
