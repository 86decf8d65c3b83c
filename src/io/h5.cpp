#include "h5.hpp"

#include "error.hpp"

namespace mgi {

void h5_quiet() {
  static const bool done = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

namespace {
herr_t innermost(unsigned n, const H5E_error2_t* err, void* out) {
  // Walked upward, entry 0 is the innermost: the cause ("truncated file: ..."),
  // not the API's own "unable to open file".
  auto* msg = static_cast<std::string*>(out);
  if (n == 0 && err && err->desc) *msg = err->desc;
  return 0;
}
}  // namespace

std::string h5_error_message() {
  std::string msg;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost, &msg);
  return msg;
}

std::recursive_mutex& h5_mutex() {
  static std::recursive_mutex m;
  return m;
}

void h5_fail(const char* call, const char* file, int line) {
  std::string detail = h5_error_message();
  H5Eclear2(H5E_DEFAULT);
  throw_call_failure(Exit::data, "HDF5", call, file, line, detail);
}

}  // namespace mgi
