// The native decode runtime (see runtime.h). Every OrtStatus is checked and turned into a RuntimeError carrying
// ONNX Runtime's own message; every ORT object is released by an RAII holder, also on error paths.
#include "runtime.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <mutex>
#include <new>
#include <set>
#include <thread>
#include <utility>

#include "../binding/cuda_loader.h"
#include "../kernels/cuda_params.h"
#include "onnxruntime_c_api.h"

namespace acr {
namespace {

// ---- process-wide library state: one dlopen handle, one OrtApi table, one OrtEnv (kept for the process's
// lifetime on purpose: ORT's env owns global thread state that must outlive every session). ----
struct Global {
  std::mutex mu;
  void* handle = nullptr;
  std::string path;
  const OrtApi* api = nullptr;
  OrtEnv* env = nullptr;
  std::string version;
};
Global& G() {
  static Global* g = new Global();  // never destroyed: sessions may be released during static destruction
  return *g;
}

const OrtApi& Api() {
  const OrtApi* a = G().api;
  if (!a) throw RuntimeError(RuntimeError::kState, "ONNX Runtime is not loaded (call InitOrt first)");
  return *a;
}

void Check(OrtStatus* st, const char* what) {
  if (!st) return;
  const OrtApi& api = Api();
  std::string msg = std::string(what) + ": " + api.GetErrorMessage(st);
  api.ReleaseStatus(st);
  throw RuntimeError(RuntimeError::kOrt, "ONNX Runtime " + msg);
}

// Owns an OrtValue list; releases them all on scope exit.
struct Values {
  std::vector<OrtValue*> v;
  Values() { v.reserve(64); }
  ~Values() {
    if (G().api)
      for (OrtValue* x : v) G().api->ReleaseValue(x);
  }
  Values(const Values&) = delete;
  Values& operator=(const Values&) = delete;
};

double Ms(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

bool IsFile(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && !S_ISDIR(st.st_mode);
}

// A failing call of the autocontrast CUDA library -> RuntimeError with the library's message.
void CudaCheck(const ac::CudaApi* c, int rc, const char* what) {
  if (rc == AC_CUDA_OK) return;
  const char* m = c->last_error_message();
  const std::string msg = std::string("CUDA ") + what + ": " + (m && *m ? m : "error " + std::to_string(rc));
  throw RuntimeError(rc == AC_CUDA_ERR_OUT_OF_MEMORY || rc == AC_CUDA_ERR_INVALID_ARGUMENT ? RuntimeError::kRange
                                                                                          : RuntimeError::kState,
                     msg);
}

// The command that makes onnxruntime-node 1.30's installer (script/install.js) fetch its CUDA 12 provider.
const char* kCudaInstallHint =
    "onnxruntime-node's install script downloads it (libonnxruntime_providers_cuda.so and "
    "libonnxruntime_providers_shared.so, from the Microsoft.ML.OnnxRuntime.Gpu.Linux NuGet package) only when "
    "asked: run `ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js` from the "
    "project folder on a machine that can reach api.nuget.org (the provider also needs the CUDA 12 runtime, "
    "cuBLAS and cuDNN 9 libraries on the library path)";

}  // namespace

int CompiledApiVersion() { return ORT_API_VERSION; }

std::string CudaUnavailableReason(const std::string& cuda_dir, int device_id) {
  std::string ort_path;
  {
    std::lock_guard<std::mutex> lock(G().mu);
    ort_path = G().path;
  }
  if (ort_path.empty()) throw RuntimeError(RuntimeError::kState, "ONNX Runtime is not loaded (call InitOrt first)");
  const size_t slash = ort_path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? std::string(".") : ort_path.substr(0, slash);
  std::vector<std::string> problems;
  for (const char* lib : {"libonnxruntime_providers_cuda.so", "libonnxruntime_providers_shared.so"}) {
    const std::string p = dir + "/" + lib;
    if (!IsFile(p)) {
      problems.push_back(std::string("ONNX Runtime's CUDA provider is not installed (") + p + " not found): " +
                         kCudaInstallHint);
      break;
    }
  }
  std::string reason;
  const ac::CudaApi* c = ac::load_cuda(cuda_dir, &reason);
  if (!c) {
    problems.push_back("the autocontrast CUDA library is unavailable: " + reason);
  } else if (!c->has_runtime_entry_points()) {
    problems.push_back(c->path + " lacks the decode-loop entry points (ac_cuda_stream_create, ac_cuda_malloc, ...): "
                       "rebuild it from this version");
  } else if (device_id < 0 || device_id >= c->devices) {
    problems.push_back("CUDA device " + std::to_string(device_id) + " does not exist (" +
                       std::to_string(c->devices) + " device" + (c->devices == 1 ? "" : "s") + ")");
  }
  std::string out;
  for (const std::string& p : problems) out += (out.empty() ? "" : "; ") + p;
  return out;
}

int PhysicalCores() {
  std::ifstream f("/proc/cpuinfo");
  std::set<std::pair<std::string, std::string>> cores;
  std::string line, phys = "0";
  while (std::getline(f, line)) {
    const size_t c = line.find(':');
    if (c == std::string::npos) continue;
    std::string key = line.substr(0, c);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    const std::string val = c + 2 <= line.size() ? line.substr(c + 2) : "";
    if (key == "physical id") phys = val;
    if (key == "core id") cores.insert({phys, val});
  }
  if (!cores.empty()) return static_cast<int>(cores.size());
  const unsigned hc = std::thread::hardware_concurrency();
  return hc ? static_cast<int>(hc) : 1;
}

std::string InitOrt(const std::string& library_path) {
  Global& g = G();
  std::lock_guard<std::mutex> lock(g.mu);
  if (g.api) {
    if (library_path != g.path)
      throw RuntimeError(RuntimeError::kState, "ONNX Runtime is already loaded from " + g.path +
                                                   "; cannot load a second copy from " + library_path);
    return g.version;
  }
  void* h = dlopen(library_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* e = dlerror();
    throw RuntimeError(RuntimeError::kState, "cannot load ONNX Runtime from " + library_path + ": " + (e ? e : "?"));
  }
  using GetApiBaseFn = const OrtApiBase* (*)();
  auto get_base = reinterpret_cast<GetApiBaseFn>(dlsym(h, "OrtGetApiBase"));
  const OrtApiBase* base = get_base ? get_base() : nullptr;
  if (!base) {
    dlclose(h);
    throw RuntimeError(RuntimeError::kState, library_path + " does not export OrtGetApiBase");
  }
  const char* ver = base->GetVersionString();
  const OrtApi* api = base->GetApi(ORT_API_VERSION);
  if (!api) {
    dlclose(h);
    throw RuntimeError(RuntimeError::kState, "ONNX Runtime " + std::string(ver ? ver : "?") + " at " + library_path +
                                                 " does not provide C API version " +
                                                 std::to_string(ORT_API_VERSION) + " (it is older than the headers)");
  }
  OrtEnv* env = nullptr;
  if (OrtStatus* st = api->CreateEnv(ORT_LOGGING_LEVEL_WARNING, "autocontrast", &env)) {
    std::string msg = api->GetErrorMessage(st);
    api->ReleaseStatus(st);
    dlclose(h);
    throw RuntimeError(RuntimeError::kOrt, "ONNX Runtime CreateEnv: " + msg);
  }
  g.handle = h;
  g.path = library_path;
  g.api = api;
  g.env = env;
  g.version = ver ? ver : "";
  return g.version;
}

// ---------------------------------------------------------------------------------------------------------
struct Model::Impl {
  OrtSession* session = nullptr;
  // allowSpinning 'auto': the twin whose pool threads spin (null until the policy first wants it), and the
  // policy's shared state. `mu` guards all four.
  OrtSession* twin = nullptr;
  std::mutex mu;
  SpinHint hint;
  SpinStats stats;
  OrtMemoryInfo* cpu = nullptr;
  OrtAllocator* allocator = nullptr;  // ORT's default CPU allocator (not owned)
  // Device 'cuda': the CUDA library, the stream shared by ORT (user_compute_stream) and our kernels and copies,
  // and the memory info ("Cuda", device) of the buffers bound to the session.
  const ac::CudaApi* cuda = nullptr;
  void* stream = nullptr;
  OrtMemoryInfo* gpu = nullptr;
  int device_id = 0;
  ~Impl() {
    if (G().api) {
      if (session) G().api->ReleaseSession(session);  // before the stream it runs on
      if (twin) G().api->ReleaseSession(twin);
      if (cpu) G().api->ReleaseMemoryInfo(cpu);
      if (gpu) G().api->ReleaseMemoryInfo(gpu);
    }
    if (cuda && stream) {
      cuda->set_device(device_id);
      cuda->stream_destroy(stream);
    }
  }
};

Model::~Model() = default;

namespace {

std::vector<int64_t> Dims(const OrtApi& api, OrtTypeInfo* ti) {
  const OrtTensorTypeAndShapeInfo* tsi = nullptr;
  Check(api.CastTypeInfoToTensorInfo(ti, &tsi), "CastTypeInfoToTensorInfo");
  if (!tsi) return {};
  size_t n = 0;
  Check(api.GetDimensionsCount(tsi, &n), "GetDimensionsCount");
  std::vector<int64_t> d(n);
  if (n) Check(api.GetDimensions(tsi, d.data(), n), "GetDimensions");
  return d;
}

void CheckDims(const std::string& name, const std::vector<int64_t>& got, const std::vector<int64_t>& want) {
  // want: -1 = any. got: <= 0 = symbolic.
  bool ok = got.size() == want.size();
  for (size_t i = 0; ok && i < got.size(); ++i)
    if (want[i] >= 0 && got[i] > 0 && got[i] != want[i]) ok = false;
  if (ok) return;
  auto fmt = [](const std::vector<int64_t>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + (v[i] < 0 ? std::string("?") : std::to_string(v[i]));
    return s + "]";
  };
  throw RuntimeError(RuntimeError::kRange,
                     "graph " + name + " has shape " + fmt(got) + " but the model description expects " + fmt(want));
}

// The one place sessions are created: the model's session, and under allowSpinning 'auto' its spinning twin
// (same graph, same options but the spinning). The graph is cfg.graph_bytes when set (a derived form of the
// graph at cfg.graph_path, loaded from memory with its external data read from graph_path's folder), else the
// file at cfg.graph_path. Device 'cuda' needs im's stream and memory info set up first.
OrtSession* NewSession(const ModelConfig& cfg, int threads, bool spinning, bool stop_spinning_after_run, Model::Impl& im) {
  const OrtApi& api = Api();
  OrtSessionOptions* so = nullptr;
  Check(api.CreateSessionOptions(&so), "CreateSessionOptions");
  struct SoGuard {
    OrtSessionOptions* p;
    ~SoGuard() { G().api->ReleaseSessionOptions(p); }
  } so_guard{so};
  Check(api.SetIntraOpNumThreads(so, threads), "SetIntraOpNumThreads");
  Check(api.SetInterOpNumThreads(so, cfg.inter_op_threads > 0 ? cfg.inter_op_threads : 1), "SetInterOpNumThreads");
  GraphOptimizationLevel lvl = ORT_ENABLE_ALL;
  if (cfg.optimization_level == 0) lvl = ORT_DISABLE_ALL;
  else if (cfg.optimization_level == 1) lvl = ORT_ENABLE_BASIC;
  else if (cfg.optimization_level == 2) lvl = ORT_ENABLE_EXTENDED;
  Check(api.SetSessionGraphOptimizationLevel(so, lvl), "SetSessionGraphOptimizationLevel");
  Check(api.AddSessionConfigEntry(so, "session.intra_op.allow_spinning", spinning ? "1" : "0"), "AddSessionConfigEntry");
  // Spinning within a Run only: the pool threads stop spinning when Run returns (between steps).
  if (spinning && stop_spinning_after_run)
    Check(api.AddSessionConfigEntry(so, "session.force_spinning_stop", "1"), "AddSessionConfigEntry");
  if (im.cuda) {
    OrtCUDAProviderOptionsV2* co = nullptr;
    Check(api.CreateCUDAProviderOptions(&co), "CreateCUDAProviderOptions");
    struct CoGuard {
      OrtCUDAProviderOptionsV2* p;
      ~CoGuard() { G().api->ReleaseCUDAProviderOptions(p); }
    } co_guard{co};
    const std::string id = std::to_string(cfg.device_id);
    const char* keys[] = {"device_id", "do_copy_in_default_stream"};
    const char* vals[] = {id.c_str(), "1"};
    Check(api.UpdateCUDAProviderOptions(co, keys, vals, 2), "UpdateCUDAProviderOptions");
    // One stream for ORT's kernels and ours: the contrast reads the logits in stream order, no extra sync.
    Check(api.UpdateCUDAProviderOptionsWithValue(co, "user_compute_stream", im.stream),
          "UpdateCUDAProviderOptionsWithValue(user_compute_stream)");
    if (OrtStatus* st = api.SessionOptionsAppendExecutionProvider_CUDA_V2(so, co)) {
      const std::string msg = api.GetErrorMessage(st);
      api.ReleaseStatus(st);
      throw RuntimeError(RuntimeError::kState,
                         "ONNX Runtime could not enable its CUDA execution provider: " + msg +
                             " (libonnxruntime_providers_cuda.so needs the CUDA 12 runtime, cuBLAS and cuDNN 9 "
                             "libraries on the library path)");
    }
  }
  OrtSession* session = nullptr;
  if (cfg.graph_bytes.empty()) {
    Check(api.CreateSession(G().env, cfg.graph_path.c_str(), so, &session), "CreateSession");
  } else {
    const size_t slash = cfg.graph_path.find_last_of("/\\");
    const std::string folder = slash == std::string::npos ? "." : cfg.graph_path.substr(0, slash);
    Check(api.AddSessionConfigEntry(so, "session.model_external_initializers_file_folder_path", folder.c_str()),
          "AddSessionConfigEntry");
    Check(api.CreateSessionFromArray(G().env, cfg.graph_bytes.data(), cfg.graph_bytes.size(), so, &session),
          "CreateSessionFromArray");
  }
  return session;
}

// The session a step runs in: the model's own, or (allowSpinning 'auto') its spinning twin, created here on
// first use. Creating it takes as long as loading the model once (the first step that wants to spin waits).
OrtSession* SessionFor(const Model& m, bool spinning) {
  Model::Impl& im = *m.impl();
  if (!spinning) return im.session;
  std::lock_guard<std::mutex> lock(im.mu);
  if (!im.twin) {
    im.twin = NewSession(m.config(), m.intra_op_threads(), true, false, im);
    im.stats.twin = true;
  }
  return im.twin;
}

}  // namespace

SpinHint Model::spin_hint() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->hint;
}

void Model::RecordSpin(const SpinState& after, bool spun, bool probe) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->hint = SpinHintOf(after);
  ++impl_->stats.decode_steps;
  if (spun) ++impl_->stats.spinning_steps;
  if (probe) ++impl_->stats.probes;
}

SpinStats Model::spin_stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->stats;
}

std::shared_ptr<Model> Model::Load(const ModelConfig& cfg) {
  const OrtApi& api = Api();
  const size_t L = static_cast<size_t>(cfg.num_layers);
  if (cfg.num_layers < 1 || cfg.past_key.size() != L || cfg.past_value.size() != L || cfg.present_key.size() != L ||
      cfg.present_value.size() != L)
    throw RuntimeError(RuntimeError::kRange, "model description: expected one past/present name per layer");
  if (cfg.num_kv_heads < 1 || cfg.head_dim < 1 || cfg.vocab < 1 || cfg.hidden < 1 || cfg.context_length < 1)
    throw RuntimeError(RuntimeError::kRange, "model description: sizes must be positive");
  if (cfg.logit_positions != "all" && cfg.logit_positions != "last" && cfg.logit_positions != "input")
    throw RuntimeError(RuntimeError::kRange, "model description: logitPositions must be all, last or input");
  if (cfg.logit_positions == "input" && cfg.num_logits_to_keep.empty())
    throw RuntimeError(RuntimeError::kRange, "model description: logitPositions 'input' needs the numLogitsToKeep input name");

  std::shared_ptr<Model> m(new Model());
  m->cfg_ = cfg;
  m->impl_ = std::make_unique<Impl>();
  Impl& im = *m->impl_;
  Check(api.GetAllocatorWithDefaultOptions(&im.allocator), "GetAllocatorWithDefaultOptions");
  Check(api.CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &im.cpu), "CreateCpuMemoryInfo");

  m->threads_ = cfg.intra_op_threads > 0 ? cfg.intra_op_threads : PhysicalCores();
  if (cfg.device == "cuda") {
    const std::string why = CudaUnavailableReason(cfg.cuda_dir, cfg.device_id);
    if (!why.empty()) throw RuntimeError(RuntimeError::kState, "device 'cuda' is not available: " + why);
    im.cuda = ac::load_cuda(cfg.cuda_dir, nullptr);  // cached by the check above
    im.device_id = cfg.device_id;
    CudaCheck(im.cuda, im.cuda->stream_create(cfg.device_id, &im.stream), "stream creation");
    Check(api.CreateMemoryInfo("Cuda", OrtDeviceAllocator, cfg.device_id, OrtMemTypeDefault, &im.gpu),
          "CreateMemoryInfo(Cuda)");
    // allowSpinning 'auto' is for the CPU's pool threads: on a GPU the session's threads only launch kernels,
    // so 'auto' runs as false there (no twin).
    m->cfg_.adaptive_spinning = false;
  } else if (cfg.device != "cpu") {
    throw RuntimeError(RuntimeError::kRange, "device must be 'cpu' or 'cuda', got '" + cfg.device + "'");
  }
  const bool adaptive = m->cfg_.adaptive_spinning;
  im.session = NewSession(cfg, m->threads_, cfg.allow_spinning && !adaptive, cfg.stop_spinning_after_run, im);

  size_t nin = 0, nout = 0;
  Check(api.SessionGetInputCount(im.session, &nin), "SessionGetInputCount");
  Check(api.SessionGetOutputCount(im.session, &nout), "SessionGetOutputCount");
  auto name_of = [&](bool input, size_t i) {
    char* s = nullptr;
    Check(input ? api.SessionGetInputName(im.session, i, im.allocator, &s)
                : api.SessionGetOutputName(im.session, i, im.allocator, &s),
          input ? "SessionGetInputName" : "SessionGetOutputName");
    std::string r(s);
    Check(api.AllocatorFree(im.allocator, s), "AllocatorFree");
    return r;
  };
  for (size_t i = 0; i < nin; ++i) m->inputs_.push_back(name_of(true, i));
  for (size_t i = 0; i < nout; ++i) m->outputs_.push_back(name_of(false, i));
  auto dims_of = [&](bool input, size_t i) {
    OrtTypeInfo* ti = nullptr;
    Check(input ? api.SessionGetInputTypeInfo(im.session, i, &ti) : api.SessionGetOutputTypeInfo(im.session, i, &ti),
          "SessionGetTypeInfo");
    struct TiGuard {
      OrtTypeInfo* p;
      ~TiGuard() { G().api->ReleaseTypeInfo(p); }
    } g{ti};
    return Dims(api, ti);
  };

  // Inputs: exactly the ones this runtime feeds.
  std::vector<std::string> fed = {cfg.input_ids, cfg.attention_mask, cfg.position_ids};
  if (!cfg.num_logits_to_keep.empty()) fed.push_back(cfg.num_logits_to_keep);
  for (size_t l = 0; l < L; ++l) {
    fed.push_back(cfg.past_key[l]);
    fed.push_back(cfg.past_value[l]);
  }
  for (const std::string& n : fed)
    if (std::find(m->inputs_.begin(), m->inputs_.end(), n) == m->inputs_.end())
      throw RuntimeError(RuntimeError::kRange, cfg.graph_path + ": the graph has no input '" + n +
                                                   "' (its inputs: " + Join(m->inputs_) + ")");
  for (const std::string& n : m->inputs_)
    if (std::find(fed.begin(), fed.end(), n) == fed.end())
      throw RuntimeError(RuntimeError::kRange, cfg.graph_path + ": the graph input '" + n +
                                                   "' is not one the runtime feeds (expected " + Join(fed) + ")");
  if (const OutputHead* oh = cfg.output_head.get()) {
    const size_t V = static_cast<size_t>(cfg.vocab), H = static_cast<size_t>(cfg.hidden);
    if (cfg.device != "cpu")
      throw RuntimeError(RuntimeError::kRange, "the runtime's output head runs on the CPU only (device '" + cfg.device + "')");
    if (H % 32 != 0 || oh->codes.size() != V * H || oh->scales.size() != V * H / 32 || oh->hidden_output.empty())
      throw RuntimeError(RuntimeError::kRange, "output head: expected vocab x hidden codes and one scale per 32 of them (hidden a multiple of 32) and a hidden output name");
  }
  std::vector<std::string> need = {cfg.logits};
  if (cfg.output_head) need.push_back(cfg.output_head->hidden_output);
  for (size_t l = 0; l < L; ++l) {
    need.push_back(cfg.present_key[l]);
    need.push_back(cfg.present_value[l]);
  }
  for (const ExitConfig& e : cfg.exits) {
    if (!e.hidden.empty()) need.push_back(e.hidden);
    if (!e.logits.empty()) need.push_back(e.logits);
  }
  for (const std::string& n : need)
    if (std::find(m->outputs_.begin(), m->outputs_.end(), n) == m->outputs_.end())
      throw RuntimeError(RuntimeError::kRange, cfg.graph_path + ": the graph has no output '" + n +
                                                   "' (its outputs: " + Join(m->outputs_) + ")");
  // Static dimensions, where the graph declares them.
  const int64_t h = cfg.num_kv_heads, d = cfg.head_dim, V = cfg.vocab, H = cfg.hidden;
  for (size_t i = 0; i < nin; ++i) {
    const std::string& n = m->inputs_[i];
    const bool past = std::find(cfg.past_key.begin(), cfg.past_key.end(), n) != cfg.past_key.end() ||
                      std::find(cfg.past_value.begin(), cfg.past_value.end(), n) != cfg.past_value.end();
    if (past) CheckDims("input " + n, dims_of(true, i), {-1, h, -1, d});
    if (n == cfg.input_ids || n == cfg.position_ids || n == cfg.attention_mask)
      CheckDims("input " + n, dims_of(true, i), {-1, -1});
  }
  for (size_t i = 0; i < nout; ++i) {
    const std::string& n = m->outputs_[i];
    if (n == cfg.logits) CheckDims("output " + n, dims_of(false, i), {-1, -1, V});
    for (const ExitConfig& e : cfg.exits) {
      if (n == e.logits) CheckDims("output " + n, dims_of(false, i), {-1, -1, V});
      if (n == e.hidden) CheckDims("output " + n, dims_of(false, i), {-1, -1, H});
    }
    if (cfg.output_head && n == cfg.output_head->hidden_output) CheckDims("output " + n, dims_of(false, i), {-1, -1, H});
    const bool present = std::find(cfg.present_key.begin(), cfg.present_key.end(), n) != cfg.present_key.end() ||
                         std::find(cfg.present_value.begin(), cfg.present_value.end(), n) != cfg.present_value.end();
    if (present) CheckDims("output " + n, dims_of(false, i), {-1, h, -1, d});
  }
  return m;
}

// ---------------------------------------------------------------------------------------------------------
// Device 'cuda': every per-sequence buffer in device memory from the CUDA library (cudaMalloc on the model's
// device), freed after the model's stream has drained.
struct Sequence::Device {
  const ac::CudaApi* api = nullptr;
  void* stream = nullptr;
  int id = 0;
  std::vector<void*> kv[2];  // as Sequence::kv_
  void* logits = nullptr;       // [B x V] f32
  void* exit_logits = nullptr;  // [B x V] f32 or null (the first exit's)
  void* exit_hidden = nullptr;  // [B x H] f32 or null (the first exit's)
  std::vector<void*> exits_logits, exits_hidden;  // per bound exit (index 0 = exit_logits / exit_hidden), or null
  void* scores = nullptr;       // [B x V] f32 (contrasted log-probs) or null
  void* token = nullptr;        // [B] i32
  void* head = nullptr;         // [B] i32
  void* logprob = nullptr;      // [B] f32
  void* uniforms = nullptr;     // [B] f64: the host generator's draws of this step (sampling)
  std::vector<void*> owned;
  void* Alloc(size_t bytes) {
    void* p = nullptr;
    CudaCheck(api, api->mem_alloc(id, bytes, &p), "allocation");
    owned.push_back(p);
    return p;
  }
  ~Device() {
    api->set_device(id);
    api->stream_synchronize(stream);
    for (void* p : owned) api->mem_free(p);
  }
};

Sequence::Sequence(std::shared_ptr<Model> model, const SequenceOptions& opts) : model_(std::move(model)), opts_(opts) {
  const ModelConfig& c = model_->config();
  if (opts.batch < 1 || opts.batch > 65536)
    throw RuntimeError(RuntimeError::kRange, "batch must be an integer in [1, 65536], got " + std::to_string(opts.batch));
  if (opts.max_length < 1 || opts.max_length > c.context_length)
    throw RuntimeError(RuntimeError::kRange, "maxLength must be in [1, " + std::to_string(c.context_length) +
                                                 "] (the model's context length), got " +
                                                 std::to_string(opts.max_length));
  layers_ = c.num_layers;
  kv_heads_ = c.num_kv_heads;
  head_dim_ = c.head_dim;
  vocab_ = c.vocab;
  hidden_ = c.hidden;
  {
    std::vector<ExitRequest> wanted;
    if (opts.exit_layer >= 0) wanted.push_back({opts.exit_layer, opts.exit_logits, opts.exit_hidden});
    wanted.insert(wanted.end(), opts.exits.begin(), opts.exits.end());
    std::string have;
    for (const ExitConfig& x : c.exits) have += (have.empty() ? "" : ", ") + std::to_string(x.layer);
    for (const ExitRequest& w : wanted) {
      const ExitConfig* e = nullptr;
      for (const ExitConfig& x : c.exits)
        if (x.layer == w.layer) e = &x;
      if (!e)
        throw RuntimeError(RuntimeError::kRange, "the model has no exit at layer " + std::to_string(w.layer) +
                                                     " (exits: " + (have.empty() ? "none" : have) + ")");
      for (const ExitBuffers& b : exits_)
        if (b.layer == w.layer)
          throw RuntimeError(RuntimeError::kRange, "exit " + std::to_string(w.layer) + " is requested twice");
      ExitBuffers b;
      b.layer = w.layer;
      if (w.logits) {
        if (e->logits.empty())
          throw RuntimeError(RuntimeError::kRange, "exit " + std::to_string(w.layer) + " has no logits output");
        b.logits_name = e->logits;
      }
      if (w.hidden) {
        if (e->hidden.empty())
          throw RuntimeError(RuntimeError::kRange, "exit " + std::to_string(w.layer) + " has no hidden output");
        b.hidden_name = e->hidden;
      }
      exits_.push_back(std::move(b));
    }
    if (!exits_.empty()) {
      exit_logits_name_ = exits_[0].logits_name;
      exit_hidden_name_ = exits_[0].hidden_name;
    }
  }
  const size_t B = static_cast<size_t>(opts.batch);
  kv_capacity_ = B * kv_heads_ * static_cast<size_t>(opts.max_length) * head_dim_;
  Model::Impl& im = *model_->impl();
  if (im.cuda) {
    dev_ = std::make_unique<Device>();
    dev_->api = im.cuda;
    dev_->stream = im.stream;
    dev_->id = im.device_id;
    try {
      for (int half = 0; half < 2; ++half)
        for (int i = 0; i < 2 * layers_; ++i) dev_->kv[half].push_back(dev_->Alloc(kv_capacity_ * sizeof(float)));
      dev_->logits = dev_->Alloc(B * vocab_ * sizeof(float));
      for (const ExitBuffers& x : exits_) {
        dev_->exits_logits.push_back(x.logits_name.empty() ? nullptr : dev_->Alloc(B * vocab_ * sizeof(float)));
        dev_->exits_hidden.push_back(x.hidden_name.empty() ? nullptr : dev_->Alloc(B * hidden_ * sizeof(float)));
      }
      if (!exits_.empty()) {
        dev_->exit_logits = dev_->exits_logits[0];
        dev_->exit_hidden = dev_->exits_hidden[0];
      }
      if (dev_->exit_logits) dev_->scores = dev_->Alloc(B * vocab_ * sizeof(float));
      dev_->token = dev_->Alloc(B * sizeof(int32_t));
      dev_->head = dev_->Alloc(B * sizeof(int32_t));
      dev_->logprob = dev_->Alloc(B * sizeof(float));
      dev_->uniforms = dev_->Alloc(B * sizeof(double));
    } catch (const RuntimeError& e) {
      throw RuntimeError(e.kind, "cannot allocate the sequence's buffers on CUDA device " + std::to_string(dev_->id) +
                                     " (" + std::to_string(kv_bytes() >> 20) + " MiB of KV cache for batch " +
                                     std::to_string(B) + " x maxLength " + std::to_string(opts.max_length) +
                                     "): " + e.what());
    }
  }
  try {
    if (!dev_)
      for (int half = 0; half < 2; ++half)
        for (int i = 0; i < 2 * layers_; ++i) kv_[half].emplace_back(new float[kv_capacity_]);
    pad_.assign(B, 0);
    ids_.reserve(B * opts.max_length);
    mask_.reserve(B * opts.max_length);
    pos_.reserve(B * opts.max_length);
    logits_ = std::make_shared<std::vector<float>>(B * vocab_);
    for (ExitBuffers& x : exits_) {
      if (!x.logits_name.empty()) x.logits = std::make_shared<std::vector<float>>(B * vocab_);
      if (!x.hidden_name.empty()) x.hidden = std::make_shared<std::vector<float>>(B * hidden_);
    }
    if (!exits_.empty()) {
      exit_logits_ = exits_[0].logits;
      exit_hidden_ = exits_[0].hidden;
    }
    if (dev_ && exit_logits_) scores_ = std::make_shared<std::vector<float>>(B * vocab_);
    stats_.resize(B);
    SetUpOutputHead();
  } catch (const std::bad_alloc&) {
    throw RuntimeError(RuntimeError::kRange, "cannot allocate the KV cache: " +
                                                 std::to_string(kv_bytes() >> 20) + " MiB for batch " +
                                                 std::to_string(B) + " x maxLength " +
                                                 std::to_string(opts.max_length));
  }
  Check(Api().CreateIoBinding(model_->impl()->session, &binding_), "CreateIoBinding");
  if (model_->config().adaptive_spinning) spin_ = SpinStart(model_->spin_hint());
}

Sequence::~Sequence() {
  if (binding_ && G().api) G().api->ReleaseIoBinding(binding_);
  if (twin_binding_ && G().api) G().api->ReleaseIoBinding(twin_binding_);
}

size_t Sequence::kv_bytes() const { return kv_capacity_ * sizeof(float) * 2 * 2 * layers_; }

const std::shared_ptr<std::vector<float>>& Sequence::scores() {
  if (!scores_) scores_ = std::make_shared<std::vector<float>>(static_cast<size_t>(opts_.batch) * vocab_);
  return scores_;
}

void Sequence::StagePrefill(const std::vector<std::vector<int32_t>>& rows) {
  if (prefilled_) throw RuntimeError(RuntimeError::kState, "prefill was already called on this sequence (use step)");
  if (rows.size() != static_cast<size_t>(opts_.batch))
    throw RuntimeError(RuntimeError::kRange, "prefill expects " + std::to_string(opts_.batch) +
                                                 " prompts (the batch size), got " + std::to_string(rows.size()));
  size_t T = 0;
  for (size_t b = 0; b < rows.size(); ++b) {
    if (rows[b].empty()) throw RuntimeError(RuntimeError::kRange, "prompt " + std::to_string(b) + " is empty");
    T = std::max(T, rows[b].size());
  }
  if (T > static_cast<size_t>(opts_.max_length))
    throw RuntimeError(RuntimeError::kRange, "prompt of " + std::to_string(T) + " tokens exceeds the sequence's maxLength of " +
                                                 std::to_string(opts_.max_length));
  ids_.assign(rows.size() * T, 0);
  for (size_t b = 0; b < rows.size(); ++b) {
    const size_t pad = T - rows[b].size();
    pad_[b] = static_cast<int32_t>(pad);
    for (size_t t = 0; t < rows[b].size(); ++t) {
      const int32_t id = rows[b][t];
      if (id < 0 || id >= vocab_)
        throw RuntimeError(RuntimeError::kRange, "token id " + std::to_string(id) + " (prompt " + std::to_string(b) +
                                                     ", position " + std::to_string(t) + ") is outside [0, " +
                                                     std::to_string(vocab_) + ")");
      ids_[b * T + pad + t] = id;
    }
  }
  new_len_ = static_cast<int>(T);
  rows_ = opts_.batch;
}

void Sequence::StageStep(const int32_t* tokens, size_t count) {
  if (!prefilled_) throw RuntimeError(RuntimeError::kState, "call prefill before step");
  if (count != static_cast<size_t>(rows_))
    throw RuntimeError(RuntimeError::kRange, "step expects one token per row (" + std::to_string(rows_) +
                                                 "), got " + std::to_string(count));
  if (rows_ == 0) throw RuntimeError(RuntimeError::kState, "the sequence has no rows to step (admit one first)");
  // Shared left padding is dropped before the Run (ApplyRowChanges), so only the longest row has to fit.
  int min_pad = past_len_;
  for (int b = 0; b < rows_; ++b) min_pad = std::min(min_pad, pad_[b]);
  if (past_len_ - min_pad + 1 > opts_.max_length)
    throw RuntimeError(RuntimeError::kRange, "context length exceeded: the sequence holds " +
                                                 std::to_string(past_len_) + " tokens and its maxLength is " +
                                                 std::to_string(opts_.max_length));
  ids_.resize(count);
  for (size_t b = 0; b < count; ++b) {
    if (tokens[b] < 0 || tokens[b] >= vocab_)
      throw RuntimeError(RuntimeError::kRange, "token id " + std::to_string(tokens[b]) + " (row " +
                                                   std::to_string(b) + ") is outside [0, " + std::to_string(vocab_) + ")");
    ids_[b] = tokens[b];
  }
  new_len_ = 1;
}

void Sequence::StageReorder(const int32_t* parents, size_t count) {
  const int B = opts_.batch;
  if (count != static_cast<size_t>(B))
    throw RuntimeError(RuntimeError::kRange, "reorder expects one parent index per row (" + std::to_string(B) +
                                                 "), got " + std::to_string(count));
  for (size_t b = 0; b < count; ++b)
    if (parents[b] < 0 || parents[b] >= B)
      throw RuntimeError(RuntimeError::kRange, "parent index " + std::to_string(parents[b]) + " (row " +
                                                   std::to_string(b) + ") is outside [0, " + std::to_string(B) + ")");
  if (!prefilled_) throw RuntimeError(RuntimeError::kState, "call prefill before reorder");
  if (rows_ != B || !pending_moves_.empty())
    throw RuntimeError(RuntimeError::kState, "reorder needs every row slot in use (rows joined or left this sequence)");
  std::vector<int32_t> next(parents, parents + count);
  if (!pending_parents_.empty())  // compose: new row b continues old row pending[parents[b]]
    for (size_t b = 0; b < count; ++b) next[b] = pending_parents_[parents[b]];
  pending_parents_ = std::move(next);
}

void Sequence::ApplyReorder() {
  if (pending_parents_.empty()) return;
  std::vector<int32_t> parents;
  parents.swap(pending_parents_);
  const size_t B = static_cast<size_t>(opts_.batch);
  bool identity = true;
  for (size_t b = 0; b < B; ++b) identity = identity && parents[b] == static_cast<int32_t>(b);
  if (identity) return;
  const size_t row = static_cast<size_t>(kv_heads_) * past_len_ * head_dim_;  // layout [B, h, P, d]
  if (dev_) {  // device to device copies on the model's stream, ordered before the next Run
    for (int i = 0; i < 2 * layers_; ++i) {
      const char* src = static_cast<const char*>(dev_->kv[cur_][i]);
      char* dst = static_cast<char*>(dev_->kv[1 - cur_][i]);
      for (size_t b = 0; b < B && row; ++b)
        CudaCheck(dev_->api,
                  dev_->api->memcpy_async(dev_->stream, dst + b * row * sizeof(float),
                                          src + static_cast<size_t>(parents[b]) * row * sizeof(float),
                                          row * sizeof(float)),
                  "KV cache reorder copy");
    }
  }
  for (int i = 0; i < 2 * layers_ && !dev_; ++i) {
    const float* src = kv_[cur_][i].get();
    float* dst = kv_[1 - cur_][i].get();
    for (size_t b = 0; b < B; ++b)
      if (row) std::memcpy(dst + b * row, src + static_cast<size_t>(parents[b]) * row, row * sizeof(float));
  }
  cur_ = 1 - cur_;
  std::vector<int32_t> pad(B);
  for (size_t b = 0; b < B; ++b) pad[b] = pad_[parents[b]];
  pad_.swap(pad);
}

void Sequence::Run() {
  const auto t0 = std::chrono::steady_clock::now();
  if (new_len_ <= 0) throw RuntimeError(RuntimeError::kState, "nothing staged to run");
  const OrtApi& api = Api();
  Model::Impl& im = *model_->impl();
  const ModelConfig& c = model_->config();
  if (dev_) CudaCheck(dev_->api, dev_->api->set_device(dev_->id), "set device");
  ApplyRowChanges(new_len_);
  ApplyReorder();
  if (rows_ < 1) throw RuntimeError(RuntimeError::kState, "the sequence has no rows to run");
  const int64_t B = rows_, T = new_len_, P = past_len_, total = P + T;
  const int64_t h = kv_heads_, d = head_dim_, V = vocab_, H = hidden_;
  if (total > opts_.max_length) throw RuntimeError(RuntimeError::kRange, "context length exceeded");

  mask_.resize(static_cast<size_t>(B * total));
  pos_.resize(static_cast<size_t>(B * T));
  for (int64_t b = 0; b < B; ++b) {
    const int64_t pad = pad_[b];
    for (int64_t j = 0; j < total; ++j) mask_[b * total + j] = j >= pad ? 1 : 0;
    for (int64_t t = 0; t < T; ++t) {
      const int64_t p = P + t - pad;
      pos_[b * T + t] = p >= 0 ? p : 1;  // padded positions: any valid id (masked out), as Hugging Face does
    }
  }

  // allowSpinning 'auto': the policy picks the session (spin_policy.h); a decode step feeds one token per row.
  const bool adaptive = c.adaptive_spinning, decode = T == 1;
  const SpinMode mode = adaptive ? SpinNext(spin_, decode, static_cast<int>(B)) : (c.allow_spinning ? SpinMode::kOn : SpinMode::kOff);
  OrtSession* session = im.session;
  OrtIoBinding* binding = binding_;
  if (adaptive && mode == SpinMode::kOn) {
    session = SessionFor(*model_, true);
    if (!twin_binding_) Check(api.CreateIoBinding(session, &twin_binding_), "CreateIoBinding");
    binding = twin_binding_;
  }

  Values vals;
  // Small int64 inputs stay in host memory (ORT copies them in); the KV cache and outputs live where the
  // sequence's buffers are (host, or device memory of the CUDA execution provider).
  OrtMemoryInfo* where = dev_ ? im.gpu : im.cpu;
  auto tensor = [&](void* data, size_t bytes, std::vector<int64_t> shape, ONNXTensorElementDataType type,
                    OrtMemoryInfo* mem = nullptr) {
    OrtValue* v = nullptr;
    Check(api.CreateTensorWithDataAsOrtValue(mem ? mem : im.cpu, data, bytes, shape.data(), shape.size(), type, &v),
          "CreateTensorWithDataAsOrtValue");
    vals.v.push_back(v);
    return v;
  };
  const auto I64 = ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64, F32 = ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
  api.ClearBoundInputs(binding);
  api.ClearBoundOutputs(binding);
  Check(api.BindInput(binding, c.input_ids.c_str(), tensor(ids_.data(), B * T * 8, {B, T}, I64)), "BindInput input_ids");
  Check(api.BindInput(binding, c.attention_mask.c_str(), tensor(mask_.data(), B * total * 8, {B, total}, I64)),
        "BindInput attention_mask");
  Check(api.BindInput(binding, c.position_ids.c_str(), tensor(pos_.data(), B * T * 8, {B, T}, I64)),
        "BindInput position_ids");
  if (!c.num_logits_to_keep.empty())
    Check(api.BindInput(binding, c.num_logits_to_keep.c_str(), tensor(&keep_one_, 8, {}, I64)),
          "BindInput num_logits_to_keep");
  const size_t past_bytes = static_cast<size_t>(B * h * P * d) * 4, present_bytes = static_cast<size_t>(B * h * total * d) * 4;
  for (int l = 0; l < layers_; ++l) {
    for (int k = 0; k < 2; ++k) {
      const std::string& pn = k ? c.past_value[l] : c.past_key[l];
      const std::string& qn = k ? c.present_value[l] : c.present_key[l];
      void* past = dev_ ? dev_->kv[cur_][l * 2 + k] : static_cast<void*>(kv_[cur_][l * 2 + k].get());
      void* present = dev_ ? dev_->kv[1 - cur_][l * 2 + k] : static_cast<void*>(kv_[1 - cur_][l * 2 + k].get());
      Check(api.BindInput(binding, pn.c_str(), tensor(past, past_bytes, {B, h, P, d}, F32, where)), "BindInput past");
      Check(api.BindOutput(binding, qn.c_str(), tensor(present, present_bytes, {B, h, total, d}, F32, where)),
            "BindOutput present");
    }
  }
  // Last-position outputs go straight into our buffers when the graph produces one position; a graph that
  // produces every position (logitPositions 'all') gets ORT-allocated outputs during a multi-token prefill,
  // and we copy the last position out.
  const bool direct = c.logit_positions != "all" || T == 1;
  struct Out {
    const std::string* name;
    float* dst;
    int64_t width;
  };
  std::vector<Out> outs;
  // With the runtime's output head the graph's `logits` (zeros) stay unbound; its hidden state is read instead.
  if (c.output_head) {
    if (!head_hidden_bound_by_exit_) outs.push_back({&c.output_head->hidden_output, head_hidden_->data(), H});
  } else {
    outs.push_back({&c.logits, dev_ ? static_cast<float*>(dev_->logits) : logits_->data(), V});
  }
  for (size_t i = 0; i < exits_.size(); ++i) {  // every bound exit, each into its own buffers
    const ExitBuffers& x = exits_[i];
    if (x.logits)
      outs.push_back({&x.logits_name, dev_ ? static_cast<float*>(dev_->exits_logits[i]) : x.logits->data(), V});
    if (x.hidden)
      outs.push_back({&x.hidden_name, dev_ ? static_cast<float*>(dev_->exits_hidden[i]) : x.hidden->data(), H});
  }
  for (const Out& o : outs) {
    if (direct)
      Check(api.BindOutput(binding, o.name->c_str(), tensor(o.dst, B * o.width * 4, {B, 1, o.width}, F32, where)),
            "BindOutput");
    else
      Check(api.BindOutputToDevice(binding, o.name->c_str(), where), "BindOutputToDevice");
  }

  const auto t1 = std::chrono::steady_clock::now();
  Check(api.RunWithBinding(session, nullptr, binding), "Run");
  const auto t2 = std::chrono::steady_clock::now();

  if (!direct) {
    OrtValue** got = nullptr;
    size_t n = 0;
    Check(api.GetBoundOutputValues(binding, im.allocator, &got, &n), "GetBoundOutputValues");
    Values owned;
    for (size_t i = 0; i < n; ++i) owned.v.push_back(got[i]);
    Check(api.AllocatorFree(im.allocator, got), "AllocatorFree");
    const size_t first = n - outs.size();  // outputs come back in binding order: presents first
    for (size_t i = 0; i < outs.size(); ++i) {
      void* p = nullptr;
      Check(api.GetTensorMutableData(owned.v[first + i], &p), "GetTensorMutableData");
      const float* src = static_cast<const float*>(p);
      for (int64_t b = 0; b < B; ++b) {
        float* to = outs[i].dst + b * outs[i].width;
        const float* from = src + (b * T + T - 1) * outs[i].width;
        if (dev_)
          CudaCheck(dev_->api, dev_->api->memcpy_async(dev_->stream, to, from, outs[i].width * 4), "output copy");
        else
          std::memcpy(to, from, outs[i].width * 4);
      }
    }
    // ORT's output buffers go back to its allocator when `owned` is released: let the copies finish first.
    if (dev_) CudaCheck(dev_->api, dev_->api->stream_synchronize(dev_->stream), "output copy");
  }
  cur_ = 1 - cur_;
  past_len_ = static_cast<int>(total);
  new_len_ = 0;
  prefilled_ = true;
  const auto th = std::chrono::steady_clock::now();
  if (c.output_head) ProjectOutputHead(static_cast<int>(B));
  const auto t3 = std::chrono::steady_clock::now();
  timing_.head_ms = c.output_head ? Ms(th, t3) : 0;
  timing_.run_ms = Ms(t1, t2);
  timing_.step_ms = Ms(t0, t3);
  timing_.spinning = mode == SpinMode::kOn;
  if (adaptive) {
    const bool probe = decode && mode != spin_.mode;
    SpinObserve(spin_, mode, timing_.run_ms, static_cast<int>(B), decode);
    if (decode) model_->RecordSpin(spin_, mode == SpinMode::kOn, probe);
  }
}

void Sequence::ReadOutputs() {
  if (!dev_) return;
  const ac::CudaApi* c = dev_->api;
  CudaCheck(c, c->set_device(dev_->id), "set device");
  auto get = [&](const std::shared_ptr<std::vector<float>>& host, void* dev) {
    if (host && dev)
      CudaCheck(c, c->memcpy_async(dev_->stream, host->data(), dev, host->size() * sizeof(float)), "output copy");
  };
  get(logits_, dev_->logits);
  for (size_t i = 0; i < exits_.size(); ++i) {
    get(exits_[i].logits, dev_->exits_logits[i]);
    get(exits_[i].hidden, dev_->exits_hidden[i]);
  }
  get(scores_, dev_->scores);
  CudaCheck(c, c->stream_synchronize(dev_->stream), "output copy");
}

void Sequence::Contrast(const ac::Params& p, int32_t* token, float* logprob, int32_t* head_size,
                        const SampleOptions& sample, const SparseHead* sparse) {
  if (sparse && (!exit_hidden_ || dev_))
    throw RuntimeError(RuntimeError::kState, "a sparse amateur needs a CPU sequence created with the exit's hidden state (exit: { layer, hidden: true })");
  if (!sparse && !exit_logits_)
    throw RuntimeError(RuntimeError::kState, "stepAndContrast needs a sequence created with exit logits (exit: { layer, logits: true })");
  const size_t B = static_cast<size_t>(rows_), V = static_cast<size_t>(vocab_);
  if (dev_) {
    // Contrast (+ fused argmax, or sampling) on the model's stream, right behind ORT's kernels; only the per-row
    // token, its log-prob and the head size come back. One synchronisation (check_error) per step.
    const ac::CudaApi* c = dev_->api;
    CudaCheck(c, c->set_device(dev_->id), "set device");
    const uint32_t flags = AC_CUDA_FLAG_ASYNC | AC_CUDA_FLAG_TRUST_POINTERS;
    const ac_cuda_params cp = ac::ToCudaParams(p, flags);
    auto* scores_d = static_cast<float*>(dev_->scores);
    auto* token_d = static_cast<int32_t*>(dev_->token);
    CudaCheck(c,
              c->contrast(dev_->stream, AC_CUDA_F32, dev_->logits, dev_->exit_logits, static_cast<int64_t>(B),
                          static_cast<int64_t>(V), &cp, scores_d, static_cast<int32_t*>(dev_->head), nullptr,
                          sample.enabled ? nullptr : token_d, nullptr),
              "contrast");
    if (sample.enabled) {
      // The draws come from the host generator (one per row, as on the CPU); the device applies the draw rule.
      SeedRows(sample.seed, B);
      uniforms_.resize(B);
      for (size_t r = 0; r < B; ++r) uniforms_[r] = rng_[r].next();
      CudaCheck(c, c->memcpy_async(dev_->stream, dev_->uniforms, uniforms_.data(), B * sizeof(double)), "uniforms copy");
      ac_cuda_select_params sp{};
      sp.method = AC_CUDA_SELECT_SAMPLE;
      sp.top_k = static_cast<int32_t>(sample.select.top_k);
      sp.top_p = static_cast<float>(sample.select.top_p);
      sp.temperature = sample.select.temperature;
      sp.uniforms = static_cast<const double*>(dev_->uniforms);
      sp.flags = flags;
      CudaCheck(c, c->select(dev_->stream, scores_d, static_cast<int64_t>(B), static_cast<int64_t>(V), &sp, token_d, nullptr),
                "token sampling");
    }
    CudaCheck(c,
              c->gather_rows(dev_->stream, scores_d, static_cast<int64_t>(B), static_cast<int64_t>(V), token_d,
                             static_cast<float*>(dev_->logprob)),
              "log-prob gather");
    CudaCheck(c, c->memcpy_async(dev_->stream, token, token_d, B * sizeof(int32_t)), "token copy");
    CudaCheck(c, c->memcpy_async(dev_->stream, logprob, dev_->logprob, B * sizeof(float)), "log-prob copy");
    CudaCheck(c, c->memcpy_async(dev_->stream, head_size, dev_->head, B * sizeof(int32_t)), "head size copy");
    ac_cuda_error_info err{};
    const int rc = c->check_error(dev_->stream, &err);  // synchronises the stream
    if (rc == AC_CUDA_ERR_NONFINITE_EXPERT || rc == AC_CUDA_ERR_NONFINITE_AMATEUR)
      throw RuntimeError(RuntimeError::kRange, "non-finite model output in row " + std::to_string(err.row) + " (" +
                                                   (rc == AC_CUDA_ERR_NONFINITE_EXPERT ? "expert" : "amateur") +
                                                   " logits)");
    CudaCheck(c, rc, "contrast step");
    return;
  }
  float* out = scores()->data();
  ac::Batch b;
  b.expert = logits_->data();
  if (sparse) {
    const float* h = exit_hidden_->data();
    for (size_t i = 0; i < B * static_cast<size_t>(hidden_); ++i)
      if (!std::isfinite(h[i]))
        throw RuntimeError(RuntimeError::kRange, "non-finite model output in row " + std::to_string(i / hidden_) + " (amateur hidden state)");
    b.sparse.weight = sparse->weight;
    b.sparse.weight_dtype = sparse->dtype;
    b.sparse.bias = sparse->bias;
    b.sparse.hidden = h;
    b.sparse.d = static_cast<size_t>(hidden_);
  } else {
    b.amateur = exit_logits_->data();
  }
  b.dtype = ac::DType::F32;
  b.rows = B;
  b.vocab = V;
  b.out = out;
  b.stats = stats_.data();
  try {
    ac::contrast_batch(ac::best_ops(), b, p, 1);
  } catch (const ac::KernelError& e) {
    throw RuntimeError(RuntimeError::kRange, std::string("non-finite model output in row ") + std::to_string(e.row) +
                                                 " (" + (e.code == ac::KernelError::kNonFiniteExpert ? "expert" : "amateur") +
                                                 " logits)");
  }
  SelectRows(out, token, logprob, head_size, false, sample);
}

void Sequence::SelectPlain(int32_t* token, float* logprob, int32_t* head_size, const SampleOptions& sample) {
  if (dev_) throw RuntimeError(RuntimeError::kState, "the plain fused step runs on the CPU only");
  if (!prefilled_) throw RuntimeError(RuntimeError::kState, "call prefill before selecting");
  float* out = scores()->data();
  const size_t n = static_cast<size_t>(rows_) * static_cast<size_t>(vocab_);
  const float* in = logits_->data();
  for (size_t i = 0; i < n; ++i) {
    // The chain's contrast kernel refuses non-finite expert logits; the plain path says the same.
    if (!std::isfinite(in[i]))
      throw RuntimeError(RuntimeError::kRange, "non-finite model output in row " + std::to_string(i / vocab_) + " (expert logits)");
    out[i] = in[i];
  }
  SelectRows(out, token, logprob, head_size, true, sample);
}

void Sequence::SelectRows(float* out, int32_t* token, float* logprob, int32_t* head_size, bool plain,
                          const SampleOptions& sample) {
  const size_t B = static_cast<size_t>(rows_), V = static_cast<size_t>(vocab_);
  ac::SelectOptions so = sample.select;
  so.sample = sample.enabled;
  if (so.sample) SeedRows(sample.seed, B);
  for (size_t r = 0; r < B; ++r) {
    float* row = out + r * V;
    const int64_t t = ac::select_row(row, static_cast<int64_t>(V), so, so.sample ? &rng_[r] : nullptr, select_scratch_,
                                     select_order_);
    if (t < 0) throw RuntimeError(RuntimeError::kRange, "every token of row " + std::to_string(r) + " was filtered out");
    token[r] = static_cast<int32_t>(t);
    logprob[r] = row[t];
    head_size[r] = plain ? vocab_ : stats_[r].head_size;
  }
}

void Sequence::SeedRows(int64_t seed, size_t rows) {
  if (rng_.size() >= rows && rng_seed_ == seed) return;
  // First sampled step (or a new seed): row r draws from stream r, as the TypeScript selector's rows do.
  rng_seed_ = seed;
  rng_.resize(rows);
  for (size_t r = 0; r < rows; ++r) rng_[r] = ac::SeededRandom::make(seed, static_cast<uint32_t>(r));
}

}  // namespace acr
