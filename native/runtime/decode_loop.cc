// The fused decode loop (see decode_loop.h).
#include "decode_loop.h"

#include <algorithm>
#include <string>

namespace acr {

void CheckLoop(const Sequence& seq, const LoopSettings& s, int longest_prompt) {
  const int V = seq.vocab();
  if (s.max_steps < 1) throw RuntimeError(RuntimeError::kRange, "maxSteps must be >= 1, got " + std::to_string(s.max_steps));
  // Step k >= 1 feeds one token per row: the longest prompt plus max_steps - 1 tokens must fit.
  if (static_cast<int64_t>(longest_prompt) + s.max_steps - 1 > seq.max_length())
    throw RuntimeError(RuntimeError::kRange, "maxSteps " + std::to_string(s.max_steps) + " after a prompt of " +
                                                 std::to_string(longest_prompt) + " tokens exceeds the sequence's maxLength " +
                                                 std::to_string(seq.max_length()));
  for (int32_t t : s.eos)
    if (t < 0 || t >= V)
      throw RuntimeError(RuntimeError::kRange, "eos token id " + std::to_string(t) + " is outside [0, " + std::to_string(V) + ")");
  if (s.filler < 0 || s.filler >= V)
    throw RuntimeError(RuntimeError::kRange, "filler token id " + std::to_string(s.filler) + " is outside [0, " + std::to_string(V) + ")");
  if (!s.plain && !s.sparse && !seq.exit_logits())
    throw RuntimeError(RuntimeError::kState, "a contrasted loop needs a sequence created with exit logits (exit: { layer, logits: true })");
  if (!s.plain && s.sparse && !seq.exit_hidden())
    throw RuntimeError(RuntimeError::kState, "a sparse amateur needs a sequence created with the exit's hidden state (exit: { layer, hidden: true })");
  if (seq.on_device()) throw RuntimeError(RuntimeError::kState, "the fused decode loop runs on the CPU only");
}

int RunLoop(Sequence& seq, const LoopSettings& s, const std::atomic<bool>& stop, const std::function<void(const LoopStep&)>& emit) {
  const size_t B = static_cast<size_t>(seq.batch());
  std::vector<int32_t> token(B), head(B), next(B);
  std::vector<float> logprob(B);
  std::vector<char> done(B, 0);
  auto select = [&](int step) {
    if (s.plain)
      seq.SelectPlain(token.data(), logprob.data(), head.data(), s.sample);
    else
      seq.Contrast(s.params, token.data(), logprob.data(), head.data(), s.sample, s.sparse ? &s.head : nullptr);
    LoopStep out;
    out.step = step;
    out.rows = seq.rows();
    out.tokens = token.data();
    out.logprobs = logprob.data();
    out.head = head.data();
    out.step_ms = seq.timing().step_ms;
    out.run_ms = seq.timing().run_ms;
    emit(out);
  };
  seq.Run();
  select(0);
  int made = 1;
  for (int step = 1; step < s.max_steps; ++step) {
    bool all = true;
    for (size_t r = 0; r < B; ++r) {
      // A row ends at its first eos token; from then on it is fed the filler, as decodeLoop's selector does.
      if (!done[r] && std::find(s.eos.begin(), s.eos.end(), token[r]) != s.eos.end()) done[r] = 1;
      next[r] = done[r] ? s.filler : token[r];
      all = all && done[r];
    }
    if (all || stop.load(std::memory_order_acquire)) break;
    seq.StageStep(next.data(), B);
    seq.Run();
    select(step);
    ++made;
  }
  return made;
}

}  // namespace acr
