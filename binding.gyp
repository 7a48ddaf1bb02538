# node-gyp build of the CPU addon (CMakeLists.txt with cmake-js is the primary build; this one exists for
# toolchains built around node-gyp; it leaves out the native decode runtime, which needs ONNX Runtime's headers,
# and builds its stub instead). SIMD files are separate static libraries so that each gets its own
# instruction-set flags; the code picks one at run time. CUDA is built only by CMake.
{
  "variables": {
    "ac_x86%": "<!(node -p \"['x64','ia32'].includes(process.arch) ? 1 : 0\")",
    "ac_napi_dir%": "<!(node -p \"require('path').dirname(require.resolve('node-addon-api/package.json'))\")"
  },
  "target_defaults": {
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++14", "-std=gnu++1y"],
    "cflags_cc": ["-std=c++17", "-fexceptions", "-O3"],
    "xcode_settings": {"GCC_ENABLE_CPP_EXCEPTIONS": "YES", "CLANG_CXX_LANGUAGE_STANDARD": "c++17"},
    "msvs_settings": {"VCCLCompilerTool": {"ExceptionHandling": 1, "AdditionalOptions": ["/std:c++17"]}},
    "include_dirs": ["native/kernels"],
    "conditions": [["ac_x86==1", {"defines": ["AC_HAVE_X86=1"]}],
                   ["target_arch=='arm64'", {"defines": ["AC_HAVE_NEON=1"]}]]
  },
  "targets": [
    {
      "target_name": "ac_avx2",
      "type": "static_library",
      "sources": ["native/kernels/ops_avx2.cc", "native/kernels/dola_avx2.cc", "native/kernels/q8_head_avx2.cc", "native/kernels/head_i8_avx2.cc"],
      "cflags": ["-mavx2", "-mfma", "-mf16c"],
      "xcode_settings": {"OTHER_CFLAGS": ["-mavx2", "-mfma", "-mf16c"]}
    },
    {
      "target_name": "ac_avx512",
      "type": "static_library",
      "sources": ["native/kernels/ops_avx512.cc", "native/kernels/dola_avx512.cc", "native/kernels/q8_head_avx512.cc"],
      "cflags": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx2", "-mfma", "-mf16c"],
      "xcode_settings": {"OTHER_CFLAGS": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx2", "-mfma", "-mf16c"]}
    },
    {
      "target_name": "ac_avx512vnni",
      "type": "static_library",
      "sources": ["native/kernels/head_i8_avx512vnni.cc"],
      "cflags": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512vnni", "-mavx2", "-mfma", "-mf16c"],
      "xcode_settings": {"OTHER_CFLAGS": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512vnni", "-mavx2", "-mfma", "-mf16c"]}
    },
    {
      "target_name": "autocontrast",
      "dependencies": ["ac_avx2", "ac_avx512", "ac_avx512vnni"],
      "sources": [
        "native/kernels/contrast.cc",
        "native/kernels/dispatch.cc",
        "native/kernels/dola.cc",
        "native/kernels/head_i8.cc",
        "native/kernels/ops_scalar.cc",
        "native/kernels/ops_neon.cc",
        "native/kernels/parallel.cc",
        "native/kernels/q8_head.cc",
        "native/kernels/select.cc",
        "native/binding/addon.cc",
        "native/binding/args.cc",
        "native/binding/contrast_job.cc",
        "native/binding/cuda_binding.cc",
        "native/binding/cuda_loader.cc",
        "native/binding/dola_binding.cc",
        "native/binding/head_binding.cc",
        "native/binding/prepared_binding.cc",
        "native/binding/q8_head_binding.cc",
        "native/binding/runtime_binding.cc"
      ],
      "include_dirs": ["<(ac_napi_dir)"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags": ["-fvisibility=hidden"],
      "libraries": ["-lpthread", "-ldl"]
    }
  ]
}
