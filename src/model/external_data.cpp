#include "external_data.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <onnx/onnx_pb.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "error.hpp"

namespace mgi {

namespace {

// Non-negative decimal integer, or false.
bool parse_u64(const std::string& s, uint64_t& out) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  out = v;
  return true;
}

std::string real_path(const std::string& p) {
  char* r = ::realpath(p.c_str(), nullptr);
  if (!r) return std::string();
  std::string s(r);
  std::free(r);
  return s;
}

}  // namespace

std::string model_folder(const std::string& model_file) {
  const size_t slash = model_file.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return model_file.substr(0, slash);
}

std::string read_model_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw ModelError("model.file '" + path + "': cannot read (" + std::strerror(errno) + ")");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw ModelError("model.file '" + path + "': cannot read (not a regular file)");
  }
  if (st.st_size > INT_MAX) {
    ::close(fd);
    throw ModelError("model.file '" + path + "': " + std::to_string(st.st_size) +
                     " bytes; an ONNX file over 2 GiB cannot be parsed (protobuf's limit for one message): "
                     "save the model with its weights in external data files "
                     "(onnx.save_model(..., save_as_external_data=True))");
  }
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::read(fd, &bytes[got], bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : 0;
      ::close(fd);
      throw ModelError("model.file '" + path + "': cannot read (" +
                       (err ? std::strerror(err) : "file shrank while reading") + ")");
    }
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  return bytes;
}

ExternalData::ExternalData(std::string dir, std::string source)
    : dir_(dir.empty() ? std::string(".") : std::move(dir)), source_(std::move(source)) {}

ExternalData::~ExternalData() {
  for (auto& [name, f] : files_) {
    if (f.map) ::munmap(const_cast<char*>(f.map), f.size);
    if (f.fd >= 0) ::close(f.fd);
  }
}

void ExternalData::fail(const std::string& what, const std::string& m) const {
  throw ModelError("model " + source_ + ": " + what + ": external data " + m);
}

const ExternalData::File& ExternalData::open(const std::string& location, const std::string& what) {
  auto it = files_.find(location);
  if (it != files_.end()) return it->second;
  const std::string q = "'" + location + "'";
  if (location.empty()) fail(what, "has an empty location");
  if (location.find('\0') != std::string::npos) fail(what, "location contains a NUL byte");
  if (location[0] == '/') fail(what, "file " + q + " is an absolute path; it must be relative to the model's folder");
  for (size_t at = 0; at <= location.size();) {
    const size_t end = std::min(location.find('/', at), location.size());
    if (location.compare(at, end - at, "..") == 0)
      fail(what, "file " + q + " leaves the model's folder ('..'); it must be inside it");
    at = end + 1;
  }
  if (real_dir_.empty()) {
    real_dir_ = real_path(dir_);
    if (real_dir_.empty()) fail(what, "file " + q + ": cannot resolve the model's folder '" + dir_ + "'");
  }
  const std::string full = dir_ + "/" + location;
  const std::string real = real_path(full);
  if (real.empty()) fail(what, "file '" + full + "' cannot be opened (" + std::strerror(errno) + ")");
  const std::string prefix = real_dir_ == "/" ? real_dir_ : real_dir_ + "/";
  if (real.compare(0, prefix.size(), prefix) != 0)
    fail(what, "file " + q + " resolves to '" + real + "', outside the model's folder '" + real_dir_ +
                   "' (a symlink?); it must be inside it");
  File f;
  f.fd = ::open(real.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) fail(what, "file '" + full + "' cannot be opened (" + std::strerror(errno) + ")");
  struct stat st {};
  if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(f.fd);
    fail(what, "file '" + full + "' is not a regular file");
  }
  f.size = static_cast<size_t>(st.st_size);
  f.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  if (f.size > 0) {
    void* m = ::mmap(nullptr, f.size, PROT_READ, MAP_PRIVATE, f.fd, 0);
    if (m == MAP_FAILED) {
      const int err = errno;
      ::close(f.fd);
      fail(what, "file '" + full + "' cannot be mapped (" + std::strerror(err) + ")");
    }
    f.map = static_cast<const char*>(m);
  }
  return files_.emplace(location, f).first->second;
}

std::string_view ExternalData::bytes(const onnx::TensorProto& t, const std::string& what) {
  std::string location;
  uint64_t offset = 0, length = 0;
  bool has_location = false, has_length = false;
  for (const auto& kv : t.external_data()) {
    const std::string& k = kv.key();
    if (k == "location") {
      location = kv.value();
      has_location = true;
    } else if (k == "offset") {
      if (!parse_u64(kv.value(), offset)) fail(what, "offset '" + kv.value().substr(0, 40) + "' is not a non-negative integer");
    } else if (k == "length") {
      if (!parse_u64(kv.value(), length)) fail(what, "length '" + kv.value().substr(0, 40) + "' is not a non-negative integer");
      has_length = true;
    }  // checksum and unknown keys: ignored
  }
  if (!has_location) fail(what, "has no 'location' key");
  const File& f = open(location, what);
  const std::string file = "file '" + location + "' (" + std::to_string(f.size) + " bytes)";
  if (offset > f.size)
    fail(what, "offset " + std::to_string(offset) + " is past the end of " + file);
  if (!has_length) length = f.size - offset;
  if (length > f.size - offset)
    fail(what, "range [" + std::to_string(offset) + ", " + std::to_string(offset) + " + " + std::to_string(length) +
                   ") runs past the end of " + file);
  return std::string_view(f.map ? f.map + offset : "", static_cast<size_t>(length));
}

std::vector<ExternalDataFile> ExternalData::files() const {
  std::vector<ExternalDataFile> out;
  for (const auto& [name, f] : files_)
    out.push_back({name, static_cast<int64_t>(f.size), f.mtime_ns});
  return out;
}

}  // namespace mgi
