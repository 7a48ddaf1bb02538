// Event-loop checks that mean the same on a quiet and on a shared machine.
//
// The property under test is that native work runs off the main thread. Two measures prove it:
// - timer ticks: a loop of `await` on work that secretly ran on the main thread never lets a timer fire (each
//   awaited promise is already settled, so only microtasks run), whatever the machine's load; work that runs
//   elsewhere lets it fire (even on a loaded machine, where it fires a tenth or less of the times it is due). This one
//   is always asserted, with a margin for load: at least 3 ticks and a fortieth of the due count.
// - the p99 delay of the loop under 20 ms: the latency users feel. When the machine's cores are taken by other
//   processes (1-minute load average above the core count), the operating system alone delays a thread by tens of
//   milliseconds, so the bound is then reported but not asserted, and the test prints that and why.
import os from 'node:os';

/** Whether the p99 latency bound can be asserted on this machine now; prints the reason when it cannot. */
export function latencyBoundApplies() {
  const load = os.loadavg()[0];
  const cores = os.availableParallelism?.() ?? os.cpus().length;
  if (load <= cores) return true;
  console.log(`  p99 bound reported, not asserted: load average ${load.toFixed(1)} on ${cores} cores (other processes hold the cores)`);
  return false;
}

/** Asserts the timer fired over `ms` (at least 3 times and 1/40 of the due count); a blocked loop never fires it. */
export function assertTimerFired(assert, ticks, ms, tickMs) {
  const due = ms / tickMs;
  assert.ok(ticks >= Math.max(3, due / 40), `the ${tickMs} ms timer fired ${ticks} times in ${ms.toFixed(0)} ms (due ${due.toFixed(0)})`);
}
