// The runtime's output head (ModelConfig::output_head, runtime.h): the graph stops at the final hidden state and the
// logits are computed here with the int8-block head kernel (native/kernels/q8_head.h), which reads a quarter of the
// bytes of the float32 head per step and the head once for every row of the batch.
#include <chrono>
#include <vector>

#include "../kernels/contrast.h"
#include "../kernels/q8_head.h"
#include "runtime.h"

namespace acr {

void Sequence::SetUpOutputHead() {
  const ModelConfig& c = model_->config();
  if (!c.output_head) return;
  // An exit that binds the same output already receives the hidden state (a tensor is bound once).
  for (const ExitBuffers& x : exits_) {
    if (x.hidden && x.hidden_name == c.output_head->hidden_output) {
      head_hidden_ = x.hidden;
      head_hidden_bound_by_exit_ = true;
      return;
    }
  }
  head_hidden_ = std::make_shared<std::vector<float>>(static_cast<size_t>(opts_.batch) * hidden_);
}

void Sequence::ProjectOutputHead(int rows) {
  const ModelConfig& c = model_->config();
  const OutputHead& oh = *c.output_head;
  ac::q8head::Head head;
  head.codes = oh.codes.data();
  head.scales = oh.scales.data();
  head.vocab = static_cast<size_t>(vocab_);
  head.d = static_cast<size_t>(hidden_);
  std::vector<const float*> h(static_cast<size_t>(rows));
  std::vector<float*> out(static_cast<size_t>(rows));
  for (size_t r = 0; r < h.size(); ++r) {
    h[r] = head_hidden_->data() + r * head.d;
    out[r] = logits_->data() + r * head.vocab;
  }
  // As many threads as the session's (the model's setting: ONNX Runtime's pool sleeps between Runs meanwhile).
  static const ac::q8head::Q8HeadOps& ops = ac::q8head::q8_head_ops_for(ac::best_ops());
  ac::q8head::project(ops, head, h.data(), h.size(), out.data(), model_->intra_op_threads());
}

}  // namespace acr
