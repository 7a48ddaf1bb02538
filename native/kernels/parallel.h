// Row-level parallelism over a process-wide pool sized to the machine (never more workers than cores, and
// the calling thread takes a share, so concurrent callers do not oversubscribe).
#pragma once
#include <cstddef>
#include <functional>

namespace ac {

// Calls fn(begin, end) over [0, n) in chunks, on up to `threads` threads (0: hardware concurrency).
// Returns after every chunk is done; the first exception thrown by fn is rethrown on the caller.
void parallel_for(size_t n, int threads, const std::function<void(size_t, size_t)>& fn);

// Number of threads parallel_for uses when threads == 0.
int default_threads();

}  // namespace ac
