// What outlives a call: the oneDNN engine (one per process), and per JavaScript thread the
// stream, the thread count, the convolution precision, the primitive cache and one growable
// scratch arena. Everything else
// (tensors) belongs to JavaScript. A worker computes on a thread of its own, and a process may
// load the addon on more than one thread: none of them sees another's scratch or primitives.
//
// The Debian build of oneDNN runs on OpenMP (libgomp), and so do the loops of this addon, so
// one thread count (omp_set_num_threads on the calling thread, whose ICV it is) governs both.
// oneDNN picks its blocking for the thread count a primitive is created with, hence changing
// the count empties the primitive cache.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>
#include <signal.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace rt {

dnnl::engine& engine();
dnnl::stream& stream();

int threads();
void setThreads(int count);

// The data type convolutions read their activations, filters and output gradients in, per
// JavaScript thread like the thread count. What they write (activations, input and filter
// gradients) and everything outside them stays float32: bf16 is mixed precision with float32
// master weights, never a bf16 model.
enum class ConvPrecision { f32 = 0, bf16 = 1 };
ConvPrecision convPrecision();
// Callers check bf16InHardware first.
void setConvPrecision(ConvPrecision precision);
// Whether the CPU multiplies bf16 in hardware (AVX512-BF16 or AMX). oneDNN would emulate it
// elsewhere, slower than float32, so bf16 is refused there instead.
bool bf16InHardware();

// Blocks asynchronous signals on the calling thread while it lives. oneDNN's AVX-512 SGEMM
// kernel points the stack pointer into the heap while it runs (oneDNN issue #4845), so a signal
// handler invoked mid-call (V8's profiler sends SIGPROF, libuv handles SIGCHLD) writes its frame
// over heap memory. Every entry point runs under this guard; the signals are delivered when it
// ends. OpenMP's worker threads are started under it too and keep the blocked mask for life.
class SignalGuard {
 public:
  SignalGuard();
  ~SignalGuard();
  SignalGuard(const SignalGuard&) = delete;
  SignalGuard& operator=(const SignalGuard&) = delete;

 private:
  sigset_t previous_;
};

// Work below this many elements per thread is not worth waking another thread for.
constexpr int64_t kMinWorkPerThread = 32 * 1024;

// Runs body(begin, end) over [0, n) split across at most `maxThreads` of the pool's threads;
// serially when n is small.
void parallelFor(int64_t n, int64_t minPerThread, const std::function<void(int64_t, int64_t)>& body, int maxThreads = 1 << 30);

// Scratch memory valid until the next call to arena(): oneDNN scratchpads, reordered
// weights and activations converted to bf16. Each request is rounded up to 64-byte alignment and carved from one block.
class ArenaLease {
 public:
  explicit ArenaLease(const std::vector<size_t>& sizes);
  void* operator[](size_t i) const { return pointers_[i]; }

 private:
  std::vector<void*> pointers_;
};

size_t arenaBytes();

// A primitive cache keyed by a string that spells out every shape and attribute. Entries are
// type-erased so that each kernel keeps its own struct. Bounded: when full it is emptied
// (a training step uses a fixed, small set of shapes, so this only guards against pathological
// shape churn).
class PrimitiveCache {
 public:
  static constexpr size_t kCapacity = 2048;

  // The entry for `key`, created on a miss. Callers hold the returned pointer for the whole call:
  // a later miss in the same call may empty the cache.
  template <class T>
  std::shared_ptr<T> get(const std::string& key, const std::function<std::shared_ptr<T>()>& create) {
    auto found = entries_.find(key);
    if (found != entries_.end()) {
      hits_++;
      return std::static_pointer_cast<T>(found->second);
    }
    misses_++;
    std::shared_ptr<T> entry = create();
    if (entries_.size() >= kCapacity) entries_.clear();
    entries_.emplace(key, std::shared_ptr<void>(entry));
    return entry;
  }

  void clear() { entries_.clear(); }
  size_t size() const { return entries_.size(); }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  std::unordered_map<std::string, std::shared_ptr<void>> entries_;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

PrimitiveCache& cache();

// The bits of a float, for cache keys.
int64_t floatBits(float value);

// Builds a cache key from integers: "conv:1,28,28,...".
std::string key(const char* prefix, const std::vector<int64_t>& values);

// A primitive attribute with a user-managed scratchpad, so that scratch memory comes from the
// arena instead of being allocated by oneDNN on every execution.
dnnl::primitive_attr userScratchpadAttr();

}  // namespace rt
