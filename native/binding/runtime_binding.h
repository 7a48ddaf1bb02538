// N-API surface of the native decode runtime (native/runtime/). InitRuntime adds the rt* functions to the
// addon's exports; built without the ONNX Runtime headers (no AC_HAVE_ORT), it only sets rtAvailable = false
// and rtUnavailableReason, so the TypeScript layer can say why.
#pragma once
#include <napi.h>

namespace acb {

void InitRuntime(Napi::Env env, Napi::Object exports);

}  // namespace acb
