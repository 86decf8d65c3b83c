// One error idiom for the whole tool: every failing library call or bad input
// becomes a typed mgi::Error carrying an exit code; main() turns it into one
// line. Library return codes are checked with the MGI_CHECK_* macros, which
// record the call text and file:line.
#pragma once
#include <stdexcept>
#include <string>

namespace mgi {

// Documented exit codes (README "Exit codes").
enum class Exit : int {
  ok = 0,
  usage = 2,        // command line or config error
  data = 3,         // input/output data error (files, datasets, shapes, dtypes)
  model = 4,        // model error (ONNX parse, unsupported op, shape mismatch inside the graph)
  runtime = 5,      // device/runtime error (CUDA, MPI, out of memory, internal)
  interrupted = 75  // stopped with a consistent journal: requeue
};

class Error : public std::runtime_error {
 public:
  Error(Exit code, const std::string& msg) : std::runtime_error(msg), code_(code) {}
  Exit code() const { return code_; }
  int exit_code() const { return static_cast<int>(code_); }

 private:
  Exit code_;
};

struct ConfigError : Error { explicit ConfigError(const std::string& m) : Error(Exit::usage, m) {} };
struct DataError : Error { explicit DataError(const std::string& m) : Error(Exit::data, m) {} };
struct ModelError : Error { explicit ModelError(const std::string& m) : Error(Exit::model, m) {} };
struct RuntimeError : Error { explicit RuntimeError(const std::string& m) : Error(Exit::runtime, m) {} };
// Device or host memory exhausted (cudaErrorMemoryAllocation, cuBLAS allocation
// failure, std::bad_alloc in prepare): a smaller batch may fit (batch_size: auto backs off).
struct OutOfMemory : RuntimeError { explicit OutOfMemory(const std::string& m) : RuntimeError(m) {} };

// Throws an Error of `code` for a failed library call: "<lib> call `<call>` failed at file:line: <detail>".
[[noreturn]] void throw_call_failure(Exit code, const char* lib, const char* call, const char* file,
                                     int line, const std::string& detail);

// Short file name for messages (strip directories).
const char* basename_of(const char* path);

}  // namespace mgi

// Generic check for a boolean condition that signals an internal invariant.
#define MGI_ASSERT(cond, msg)                                                                  \
  do {                                                                                         \
    if (!(cond))                                                                               \
      ::mgi::throw_call_failure(::mgi::Exit::runtime, "internal", #cond, __FILE__, __LINE__, \
                                (msg));                                                        \
  } while (0)
