#include "error.hpp"

#include <cstring>

namespace mgi {

const char* basename_of(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}

void throw_call_failure(Exit code, const char* lib, const char* call, const char* file, int line,
                        const std::string& detail) {
  std::string msg = std::string(lib) + " call `" + call + "` failed at " + basename_of(file) + ":" +
                    std::to_string(line);
  if (!detail.empty()) msg += ": " + detail;
  throw Error(code, msg);
}

}  // namespace mgi
