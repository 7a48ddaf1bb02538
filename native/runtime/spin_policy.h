// allowSpinning 'auto': which of two sessions over the same graph runs the next decode step, the one whose ONNX
// Runtime pool threads sleep between ops ("off") or its twin whose threads spin ("on"). Spinning decodes SmolLM2
// 1.12-1.39x faster when the cores are free and 0.54x beside busy processes (bench/results/decode-peers.md), and
// the load changes while a server runs, so the choice is made from step times measured as the steps run.
//
// This file is the decision alone, a pure function of the step times it is given (no clock, no ORT), so that
// tests can drive it with synthetic times (test/runtime/spinning.test.mjs through the binding's rtSpinPolicyTrace).
//
// The rule, and why:
// - Steps run in the current mode. Every `interval` steps one step is a *probe*: it runs in the other mode.
// - A probe is compared with `ref`, a moving average of the current mode's recent decode steps *of the same
//   sequence at the same row count*. Neighbouring steps do the same work (same rows, one token each, a context a
//   few tokens apart), so no cost model (per row, per context position) is needed: any normalisation would only
//   add its own error to a ratio of two nearly equal workloads.
// - A probe "speaks against" the current mode when it is at least kMargin faster. Two probes in a row must speak
//   against it before the mode changes (one step can be hit by an interrupt or a page fault), and the second one
//   comes soon (kConfirmAfter steps) so that a real change is acted on within a few steps.
// - A probe that confirms the current mode doubles the interval, up to kMaxInterval: on a steady machine the
//   probes cost at most 1 step in kMaxInterval run in the worse mode. The interval starts at 1 (the first decode
//   steps decide) and drops back to kMinInterval after a switch or when the current mode's steps change speed
//   (two steps in a row kSurprise slower or faster than `ref`: a busy process started or ended), so a change of
//   load is noticed within about kMinInterval steps, and the share of probes stays below 1 in kMinInterval.
// - The kSettle steps after any change of session are not used as the reference: a spinning pool keeps spinning
//   for a while after its Run returned (ORT spins about 2^20 pauses, tens of milliseconds), which slows the
//   steps that follow in the other session; those steps would otherwise raise `ref` and flatter the next probe.
//   A sequence's first decode step is not used either (its Run allocates the decode shapes' buffers).
// - Only one-token steps (decode) are measured; a prefill or a multi-token step runs in the current mode.
// - Sequences start from the model's last decision (mode and interval, `SpinHint`), so a new request on a busy
//   machine does not re-learn that spinning is slow.
#pragma once
#include <algorithm>
#include <cstdint>

namespace acr {

enum class SpinMode : uint8_t { kOff = 0, kOn = 1 };

inline SpinMode OtherMode(SpinMode m) { return m == SpinMode::kOn ? SpinMode::kOff : SpinMode::kOn; }

struct SpinPolicy {
  static constexpr double kMargin = 1.05;    // a probe must be this much faster than `ref` to speak against
  static constexpr double kSurprise = 1.5;   // a step this much slower or faster than `ref` is a change of load
  static constexpr double kEma = 0.25;       // weight of a new step in `ref`
  static constexpr int kMinInterval = 8;     // probe interval after a switch or a change of load
  static constexpr int kMaxInterval = 128;   // probe interval on a steady machine
  static constexpr int kSettle = 2;          // steps after a change of session not used as the reference
  static constexpr int kConfirmAfter = kSettle + 1;  // steps from a dissenting probe to the confirming one
};

// What a sequence starts from: the model's latest decision.
struct SpinHint {
  SpinMode mode = SpinMode::kOff;
  int interval = 1;
};

struct SpinState {
  SpinMode mode = SpinMode::kOff;  // the mode ordinary steps run in
  int interval = 1;                // steps between probes
  int since = 0;                   // decode steps since the last probe (or since the start)
  int settle = 1;                  // coming decode steps not used as the reference (1: the first decode step)
  int against = 0;                 // consecutive probes that spoke against `mode`
  int surprises = 0;               // consecutive ordinary steps kSurprise away from `ref`
  int ref_rows = 0;                // the row count `ref_ms` was measured at
  double ref_ms = 0;               // moving average of `mode`'s decode steps (0: none yet)
  SpinMode last = SpinMode::kOff;  // the mode of the last step that ran (to see session changes)
};

inline SpinState SpinStart(const SpinHint& h) {
  SpinState s;
  s.mode = s.last = h.mode;
  s.interval = std::clamp(h.interval, 1, SpinPolicy::kMaxInterval);
  return s;
}

inline SpinHint SpinHintOf(const SpinState& s) { return {s.mode, s.interval}; }

// The mode the next step runs in: `decode` when it feeds one token per row, `rows` rows. A probe needs a
// reference of the same work to be compared with.
inline SpinMode SpinNext(const SpinState& s, bool decode, int rows) {
  const bool probe = decode && s.ref_ms > 0 && rows == s.ref_rows && s.since >= s.interval;
  return probe ? OtherMode(s.mode) : s.mode;
}

// Records a step that ran in `ran` and took `ms` (ORT's Run) with `rows` rows, one token each when `decode`.
inline void SpinObserve(SpinState& s, SpinMode ran, double ms, int rows, bool decode) {
  using P = SpinPolicy;
  const bool changed = ran != s.last;
  s.last = ran;
  if (changed) s.settle = P::kSettle;
  if (!decode) {  // a prefill: other work, not comparable; the first decode step after it is not either
    s.settle = std::max(s.settle, 1);
    return;
  }
  if (rows != s.ref_rows) {  // rows joined or left: the reference is for other work
    s.ref_rows = rows;
    s.ref_ms = 0;
    s.against = s.surprises = 0;
  }
  if (ran != s.mode) {  // a probe
    s.since = 0;
    if (s.ref_ms <= 0) return;
    if (ms * P::kMargin <= s.ref_ms) {
      if (++s.against >= 2) {  // confirmed: switch; the probe's time is the new mode's first reference
        s.mode = ran;
        s.against = s.surprises = 0;
        s.ref_ms = ms;
        s.interval = P::kMinInterval;
      } else {
        s.interval = P::kConfirmAfter;
      }
    } else {
      s.against = 0;
      s.interval = std::min(std::max(2 * s.interval, P::kMinInterval), P::kMaxInterval);
    }
    return;
  }
  ++s.since;
  if (s.settle > 0) {
    --s.settle;
    return;
  }
  if (s.ref_ms <= 0) {
    s.ref_ms = ms;
    return;
  }
  const bool surprising = ms > P::kSurprise * s.ref_ms || ms * P::kSurprise < s.ref_ms;
  s.surprises = surprising ? s.surprises + 1 : 0;
  if (s.surprises >= 2) {  // the load changed: probe again soon, from a reference of the new speed
    s.surprises = 0;
    s.ref_ms = ms;
    s.interval = std::min(s.interval, P::kMinInterval);
    return;
  }
  if (!surprising) s.ref_ms += P::kEma * (ms - s.ref_ms);
}

}  // namespace acr
