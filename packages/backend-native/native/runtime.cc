#include "runtime.h"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

namespace rt {

dnnl::engine& engine() {
  static dnnl::engine instance(dnnl::engine::kind::cpu, 0);
  return instance;
}

dnnl::stream& stream() {
  thread_local dnnl::stream instance(engine());
  return instance;
}

SignalGuard::SignalGuard() {
  sigset_t all;
  sigfillset(&all);
  // Faults stay deliverable, so that a crash is still reported as one.
  for (int fault : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) sigdelset(&all, fault);
  pthread_sigmask(SIG_BLOCK, &all, &previous_);
}

SignalGuard::~SignalGuard() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }

namespace {

// OpenMP's thread count is an ICV of the calling thread, so each JavaScript thread that uses the
// addon (the main thread, or a worker's compute thread) sets and keeps its own.
thread_local int t_threads = 0;

// Starts (or grows) OpenMP's thread pool with signals blocked, so that its threads inherit the
// blocked mask.
void startPool(int count) {
  SignalGuard guard;
#pragma omp parallel num_threads(count)
  {
  }
}

}  // namespace

int threads() {
  if (t_threads == 0) setThreads(std::max(1, omp_get_max_threads()));
  return t_threads;
}

void setThreads(int count) {
  if (count < 1) count = 1;
  if (count == t_threads) return;
  t_threads = count;
  omp_set_num_threads(count);
  startPool(count);
  cache().clear();
}

namespace {
thread_local ConvPrecision t_convPrecision = ConvPrecision::f32;
}  // namespace

ConvPrecision convPrecision() { return t_convPrecision; }

bool bf16InHardware() {
  // ISA values are bit sets, each containing the ones below it (AMX contains AVX512-BF16).
  auto bits = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  auto bf16 = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_bf16);
  return (bits & bf16) == bf16;
}

void setConvPrecision(ConvPrecision precision) { t_convPrecision = precision; }

void parallelFor(int64_t n, int64_t minPerThread, const std::function<void(int64_t, int64_t)>& body, int maxThreads) {
  if (n <= 0) return;
  int64_t byWork = std::max<int64_t>(1, n / std::max<int64_t>(1, minPerThread));
  int count = static_cast<int>(std::min<int64_t>(std::min(threads(), maxThreads), byWork));
  if (count <= 1) {
    body(0, n);
    return;
  }
#pragma omp parallel num_threads(count)
  {
    int64_t t = omp_get_thread_num();
    int64_t actual = omp_get_num_threads();
    int64_t begin = n * t / actual;
    int64_t end = n * (t + 1) / actual;
    if (begin < end) body(begin, end);
  }
}

namespace {

struct Arena {
  void* block = nullptr;
  size_t bytes = 0;

  void* reserve(size_t wanted) {
    if (wanted <= bytes) return block;
    std::free(block);
    // Grow by half again so that a slowly rising demand does not reallocate every call.
    size_t grown = std::max(wanted, bytes + bytes / 2);
    grown = (grown + 4095) & ~static_cast<size_t>(4095);
    block = std::aligned_alloc(64, grown);
    if (block == nullptr) {
      bytes = 0;
      throw std::bad_alloc();
    }
    bytes = grown;
    return block;
  }
};

Arena& arena() {
  thread_local Arena instance;
  return instance;
}

size_t align64(size_t bytes) { return (bytes + 63) & ~static_cast<size_t>(63); }

}  // namespace

ArenaLease::ArenaLease(const std::vector<size_t>& sizes) {
  size_t total = 0;
  for (size_t size : sizes) total += align64(size);
  char* base = static_cast<char*>(arena().reserve(std::max<size_t>(total, 64)));
  size_t offset = 0;
  for (size_t size : sizes) {
    pointers_.push_back(size == 0 ? nullptr : base + offset);
    offset += align64(size);
  }
}

size_t arenaBytes() { return arena().bytes; }

PrimitiveCache& cache() {
  thread_local PrimitiveCache instance;
  return instance;
}

int64_t floatBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

std::string key(const char* prefix, const std::vector<int64_t>& values) {
  std::string out(prefix);
  out.push_back(':');
  for (int64_t v : values) {
    out += std::to_string(v);
    out.push_back(',');
  }
  return out;
}

dnnl::primitive_attr userScratchpadAttr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

}  // namespace rt
