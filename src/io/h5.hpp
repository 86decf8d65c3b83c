// RAII for HDF5 ids and the HDF5 check idiom. HDF5's own error-stack printing
// is switched off; a failed call throws DataError carrying the call, file:line
// and the innermost HDF5 message.
#pragma once
#include <hdf5.h>

#include <mutex>
#include <string>
#include <utility>

namespace mgi {

// Silences HDF5's automatic error printing (idempotent, cheap).
void h5_quiet();
// Innermost message of the current HDF5 error stack ("" if none).
std::string h5_error_message();
[[noreturn]] void h5_fail(const char* call, const char* file, int line);

// The HDF5 library here is not built thread-safe: every HDF5 call made while
// another thread may use HDF5 (dynamic mode's master thread writes while rank
// 0's worker reads) holds this lock.
std::recursive_mutex& h5_mutex();

// An owned hid_t closed with the matching H5*close on destruction.
class H5Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  H5Handle() = default;
  H5Handle(hid_t id, Closer close) : id_(id), close_(close) {}
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  H5Handle(H5Handle&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), close_(o.close_) {}
  H5Handle& operator=(H5Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
      close_ = o.close_;
    }
    return *this;
  }
  ~H5Handle() { reset(); }
  hid_t get() const { return id_; }
  explicit operator bool() const { return id_ >= 0; }
  void reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = H5I_INVALID_HID;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer close_ = nullptr;
};

}  // namespace mgi

// Checks an HDF5 call returning herr_t/hid_t/htri_t (negative = failure).
#define MGI_HDF5(call)                                                   \
  ([&]() {                                                               \
    auto mgi_h5_ret_ = (call);                                           \
    if (mgi_h5_ret_ < 0) ::mgi::h5_fail(#call, __FILE__, __LINE__);      \
    return mgi_h5_ret_;                                                  \
  }())

// Wraps a freshly created id in an H5Handle with its closer, checking it.
#define MGI_H5_OWN(call, closer) ::mgi::H5Handle(MGI_HDF5(call), (closer))
