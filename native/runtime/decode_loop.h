// The fused decode loop: the prefill and then step after step of one sequence in a single call on one worker
// thread, each step ending in the fused selection (contrast or plain, then the chain's argmax or draw) whose
// tokens are fed back as the next inputs. It is the step-by-step fused path of src/decoding/loop.ts run without
// returning to JavaScript between steps; the binding hands every step's tokens to JavaScript through a queue that
// never makes this thread wait (docs/architecture.md, "The fused step").
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "runtime.h"

namespace acr {

struct LoopSettings {
  bool plain = false;        // no contrast: the expert's own log-softmax (else the dense contrast of `params`)
  ac::Params params;         // the contrast (unless plain)
  bool sparse = false;       // the amateur is the exit's hidden state times `head` (else the exit's logits)
  SparseHead head;
  SampleOptions sample;      // the chain's sampling (disabled: argmax)
  int max_steps = 1;         // selections in all, the prefill's included (generation's maxNewTokens)
  std::vector<int32_t> eos;  // a row that selects one of these has finished
  int32_t filler = 0;        // the token a finished row is fed, as the step-by-step path feeds it
};

// One selection: per row the token, its log-probability and the head size; valid during the callback only.
struct LoopStep {
  int step = 0;  // 0: the prefill's selection
  int rows = 0;
  const int32_t* tokens = nullptr;
  const float* logprobs = nullptr;
  const int32_t* head = nullptr;
  double step_ms = 0, run_ms = 0;
};

// JavaScript thread, after the prefill was staged: refuses settings the loop could not run to the end (a token
// id outside the vocabulary, a context too short for `max_steps`, a contrast without exit logits).
void CheckLoop(const Sequence& seq, const LoopSettings& s, int longest_prompt);

// Worker thread: runs the staged prefill and selects, then steps until every row has selected an eos token,
// `max_steps` selections were made, or `stop` is set (read before each step). `emit` is called after every
// selection and must not block. Returns the number of selections made.
int RunLoop(Sequence& seq, const LoopSettings& s, const std::atomic<bool>& stop, const std::function<void(const LoopStep&)>& emit);

}  // namespace acr
