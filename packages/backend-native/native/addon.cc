// The Node-API module: registers the entry points of kernels.h plus the runtime controls
// (threads, primitive cache, version), and turns C++ exceptions into JavaScript errors with
// stable codes: ERR_NATIVE_ARGUMENT for a bad argument, ERR_NATIVE_UNSUPPORTED for a case the
// kernel leaves to tfjs's cpu kernel, ERR_NATIVE_DNNL for a problem oneDNN refuses.
#include <node_api.h>

#include <oneapi/dnnl/dnnl.hpp>

#include <exception>
#include <string>

#include "kernels.h"
#include "runtime.h"

namespace {

using rt::Args;

void throwError(napi_env env, const char* code, const std::string& message) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, code, message.c_str());
}

template <void (*Kernel)(Args&)>
napi_value entry(napi_env env, napi_callback_info info) {
  try {
    Args args(env, info);
    rt::threads();  // the OpenMP pool starts under a signal guard before any kernel runs
    rt::SignalGuard guard;
    Kernel(args);
    return args.result;
  } catch (const rt::ArgumentError& e) {
    throwError(env, "ERR_NATIVE_ARGUMENT", e.what());
  } catch (const rt::Unsupported& e) {
    throwError(env, "ERR_NATIVE_UNSUPPORTED", e.what());
  } catch (const dnnl::error& e) {
    throwError(env, "ERR_NATIVE_DNNL", std::string("oneDNN: ") + e.what() + " (status " + std::to_string(e.status) + ")");
  } catch (const std::exception& e) {
    throwError(env, "ERR_NATIVE_INTERNAL", e.what());
  }
  return nullptr;
}

void setThreads(Args& args) {
  int64_t count = args.integer(0, "threads");
  if (count < 1 || count > 1024) throw rt::ArgumentError("threads must be an integer in [1, 1024]");
  rt::setThreads(static_cast<int>(count));
}

void getThreads(Args& args) { args.returnNumber(rt::threads()); }

void clearCache(Args&) { rt::cache().clear(); }

// "entries,hits,misses,arenaBytes"
void cacheStats(Args& args) {
  rt::PrimitiveCache& c = rt::cache();
  args.returnString(std::to_string(c.size()) + "," + std::to_string(c.hits()) + "," + std::to_string(c.misses()) + "," +
                    std::to_string(rt::arenaBytes()));
}

std::string isaName(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::sse41:
      return "sse41";
    case dnnl::cpu_isa::avx:
      return "avx";
    case dnnl::cpu_isa::avx2:
      return "avx2";
    case dnnl::cpu_isa::avx2_vnni:
      return "avx2_vnni";
    case dnnl::cpu_isa::avx512_core:
      return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx:
      return "avx512_core_amx";
    default:
      return "other";
  }
}

// setConvolutionPrecision(code): 0 float32, 1 bf16 (only where the CPU has bf16 arithmetic).
void setConvolutionPrecision(Args& args) {
  int64_t code = args.integer(0, "precision");
  if (code != 0 && code != 1) throw rt::ArgumentError("precision must be 0 (float32) or 1 (bf16), got " + std::to_string(code));
  if (code == 1 && !rt::bf16InHardware()) {
    throw rt::ArgumentError("bf16 convolutions need a CPU with AVX512-BF16 or AMX; the best oneDNN finds on this one is " +
                            isaName(dnnl::get_effective_cpu_isa()));
  }
  rt::setConvPrecision(static_cast<rt::ConvPrecision>(code));
}

void getConvolutionPrecision(Args& args) { args.returnNumber(static_cast<int>(rt::convPrecision())); }

void bf16InHardware(Args& args) { args.returnNumber(rt::bf16InHardware() ? 1 : 0); }

// "2.6.3,avx512_core_bf16,omp"
void version(Args& args) {
  const dnnl_version_t* v = dnnl_version();
  std::string runtime = v->cpu_runtime == DNNL_RUNTIME_OMP ? "omp" : v->cpu_runtime == DNNL_RUNTIME_TBB ? "tbb" : "other";
  args.returnString(std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch) + "," +
                    isaName(dnnl::get_effective_cpu_isa()) + "," + runtime);
}

struct Export {
  const char* name;
  napi_callback callback;
};

napi_value init(napi_env env, napi_value exports) {
  const Export table[] = {
      {"conv2d", entry<rt::conv2dForward>},
      {"conv2dBackpropInput", entry<rt::conv2dBackpropInput>},
      {"conv2dBackpropFilter", entry<rt::conv2dBackpropFilter>},
      {"conv2dImplementation", entry<rt::conv2dImplementation>},
      {"pool2d", entry<rt::pool2dForward>},
      {"maxPool2dBackward", entry<rt::maxPool2dBackward>},
      {"avgPool2dBackward", entry<rt::avgPool2dBackward>},
      {"matMul", entry<rt::matMul>},
      {"binary", entry<rt::binaryOp>},
      {"unary", entry<rt::unaryOp>},
      {"reduce", entry<rt::reduceOp>},
      {"batchNorm", entry<rt::batchNormForward>},
      {"batchNormTrain", entry<rt::batchNormTrainForward>},
      {"batchNormTrainGrad", entry<rt::batchNormTrainBackward>},
      {"sgdStep", entry<rt::sgdStep>},
      {"setThreads", entry<setThreads>},
      {"getThreads", entry<getThreads>},
      {"setConvolutionPrecision", entry<setConvolutionPrecision>},
      {"getConvolutionPrecision", entry<getConvolutionPrecision>},
      {"bf16InHardware", entry<bf16InHardware>},
      {"clearCache", entry<clearCache>},
      {"cacheStats", entry<cacheStats>},
      {"version", entry<version>},
  };
  for (const Export& e : table) {
    napi_value fn;
    if (napi_create_function(env, e.name, NAPI_AUTO_LENGTH, e.callback, nullptr, &fn) != napi_ok ||
        napi_set_named_property(env, exports, e.name, fn) != napi_ok) {
      napi_throw_error(env, "ERR_NATIVE_INTERNAL", "could not export the addon's functions");
      return nullptr;
    }
  }
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
