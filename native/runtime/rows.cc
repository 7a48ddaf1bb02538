// Rows joining and leaving a running sequence (see runtime.h): what continuous batching needs from the runtime.
// The KV cache layout is [rows, kv_heads, past, head_dim] per layer and key/value, with each row's tokens
// right-aligned and its left padding masked, so a row can be copied in or out of a running batch by moving its
// [kv_heads, past, head_dim] block; a different past length means moving every row (Relayout).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "runtime.h"

namespace acr {

void Sequence::CheckAdmit(const Sequence& src, int src_row) const {
  if (&src == this) throw RuntimeError(RuntimeError::kRange, "a sequence cannot admit a row of itself");
  if (dev_ || src.dev_) throw RuntimeError(RuntimeError::kState, "admitting rows is not supported on device 'cuda'");
  if (src.model_.get() != model_.get())
    throw RuntimeError(RuntimeError::kRange, "the source sequence belongs to another model");
  if (rows_ >= opts_.batch)
    throw RuntimeError(RuntimeError::kRange, "every row slot is in use (" + std::to_string(opts_.batch) + ")");
  if (!src.prefilled_ || src.rows_ < 1) throw RuntimeError(RuntimeError::kState, "the source sequence was not prefilled");
  if (src_row < 0 || src_row >= src.rows_)
    throw RuntimeError(RuntimeError::kRange, "source row " + std::to_string(src_row) + " is outside [0, " +
                                                 std::to_string(src.rows_) + ")");
  if (!src.pending_parents_.empty() || !src.pending_moves_.empty() || !pending_parents_.empty())
    throw RuntimeError(RuntimeError::kState, "a reorder or row move is pending (run a step first)");
  const int n = src.past_len_ - src.pad_[static_cast<size_t>(src_row)];
  if (n > opts_.max_length)
    throw RuntimeError(RuntimeError::kRange, "the row holds " + std::to_string(n) + " tokens, more than maxLength " +
                                                 std::to_string(opts_.max_length));
}

int Sequence::Admit(const Sequence& src, int src_row) {
  CheckAdmit(src, src_row);  // again: cheap, and the worker must not trust a stale check
  ApplyRowChanges(0);
  const int Ps = src.past_len_, pad_s = src.pad_[static_cast<size_t>(src_row)], n = Ps - pad_s;
  if (n > past_len_) Relayout(n);
  const int r = rows_, P = past_len_;
  const size_t h = static_cast<size_t>(kv_heads_), d = static_cast<size_t>(head_dim_);
  for (int i = 0; i < 2 * layers_; ++i) {
    float* dst = kv_[cur_][static_cast<size_t>(i)].get();
    const float* from = src.kv_[src.cur_][static_cast<size_t>(i)].get();
    for (size_t k = 0; k < h; ++k) {
      float* to = dst + ((static_cast<size_t>(r) * h + k) * P) * d;
      // Padding is masked, but it must hold finite values: a NaN would survive the mask (NaN * 0).
      std::fill(to, to + static_cast<size_t>(P - n) * d, 0.f);
      const float* at = from + ((static_cast<size_t>(src_row) * h + k) * Ps + pad_s) * d;
      std::memcpy(to + static_cast<size_t>(P - n) * d, at, static_cast<size_t>(n) * d * sizeof(float));
      if (i % 2 == 0) ShiftKeys(to + static_cast<size_t>(P - n) * d, static_cast<size_t>(n), (P - n) - pad_s);
    }
  }
  pad_[static_cast<size_t>(r)] = P - n;
  ++rows_;
  prefilled_ = true;
  return r;
}

int Sequence::StageRemove(int row) {
  if (dev_) throw RuntimeError(RuntimeError::kState, "removing rows is not supported on device 'cuda'");
  if (row < 0 || row >= rows_)
    throw RuntimeError(RuntimeError::kRange, "row " + std::to_string(row) + " is outside [0, " + std::to_string(rows_) + ")");
  if (!pending_parents_.empty()) throw RuntimeError(RuntimeError::kState, "a reorder is pending (run a step first)");
  const int last = rows_ - 1;
  if (row != last) {
    pending_moves_.emplace_back(row, last);
    pad_[static_cast<size_t>(row)] = pad_[static_cast<size_t>(last)];
  }
  --rows_;
  if (rows_ == 0) {  // nothing left to keep: the next admitted row starts a fresh past
    pending_moves_.clear();
    past_len_ = 0;
  }
  return last;
}

void Sequence::ApplyRowChanges(int next_tokens) {
  if (!pending_moves_.empty()) {
    const size_t block = static_cast<size_t>(kv_heads_) * past_len_ * head_dim_;  // one row of one buffer
    for (const auto& mv : pending_moves_)
      for (int i = 0; i < 2 * layers_; ++i) {
        float* buf = kv_[cur_][static_cast<size_t>(i)].get();
        std::memcpy(buf + static_cast<size_t>(mv.first) * block, buf + static_cast<size_t>(mv.second) * block,
                    block * sizeof(float));
      }
    pending_moves_.clear();
  }
  if (rows_ == 0) return;
  int shared = past_len_;
  for (int b = 0; b < rows_; ++b) shared = std::min(shared, pad_[static_cast<size_t>(b)]);
  // Padding every row shares costs attention work each step: drop it when it is half the past, or when the
  // next step would not fit otherwise.
  if (shared > 0 && (2 * shared >= past_len_ || past_len_ + next_tokens > opts_.max_length)) Relayout(past_len_ - shared);
}

void Sequence::Relayout(int new_past) {
  const int P = past_len_, delta = new_past - P;
  if (new_past < 0 || new_past > opts_.max_length) throw RuntimeError(RuntimeError::kRange, "relayout outside maxLength");
  for (int b = 0; b < rows_; ++b)
    if (pad_[static_cast<size_t>(b)] + delta < 0) throw RuntimeError(RuntimeError::kState, "relayout would cut a row's tokens");
  const size_t h = static_cast<size_t>(kv_heads_), d = static_cast<size_t>(head_dim_);
  const size_t keep = static_cast<size_t>(std::min(P, new_past)) * d;  // floats moved per (row, head)
  for (int i = 0; i < 2 * layers_; ++i) {
    const float* src = kv_[cur_][static_cast<size_t>(i)].get();
    float* dst = kv_[1 - cur_][static_cast<size_t>(i)].get();
    for (size_t rk = 0; rk < static_cast<size_t>(rows_) * h; ++rk) {
      const float* from = src + rk * P * d;
      float* to = dst + rk * new_past * d;
      if (delta >= 0) {
        std::fill(to, to + static_cast<size_t>(delta) * d, 0.f);
        std::memcpy(to + static_cast<size_t>(delta) * d, from, keep * sizeof(float));
      } else {
        std::memcpy(to, from + static_cast<size_t>(-delta) * d, keep * sizeof(float));
      }
      if (i % 2 == 0) ShiftKeys(to + (delta >= 0 ? static_cast<size_t>(delta) * d : 0), keep / d, delta);
    }
  }
  for (int b = 0; b < rows_; ++b) pad_[static_cast<size_t>(b)] += delta;
  cur_ = 1 - cur_;
  past_len_ = new_past;
}

void Sequence::ShiftKeys(float* keys, size_t count, int delta) const {
  const ModelConfig& c = model_->config();
  const std::vector<double>& inv = c.key_rotation_inv_freq;
  if (inv.empty() || delta == 0 || count == 0) return;
  // Rotations compose: a key rotated by angle col x f and moved to col + delta needs a further delta x f.
  const size_t half = inv.size(), d = static_cast<size_t>(head_dim_);
  std::vector<double> cs(half), sn(half);
  for (size_t i = 0; i < half; ++i) {
    cs[i] = std::cos(static_cast<double>(delta) * inv[i]);
    sn[i] = std::sin(static_cast<double>(delta) * inv[i]);
  }
  for (size_t t = 0; t < count; ++t) {
    float* k = keys + t * d;
    for (size_t i = 0; i < half; ++i) {
      float* a = c.key_rotation_interleaved ? k + 2 * i : k + i;
      float* b = c.key_rotation_interleaved ? k + 2 * i + 1 : k + i + half;
      const double x = *a, y = *b;
      *a = static_cast<float>(x * cs[i] - y * sn[i]);
      *b = static_cast<float>(x * sn[i] + y * cs[i]);
    }
  }
}

}  // namespace acr
