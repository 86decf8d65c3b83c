// ONNX external data: initializers whose bytes live in files beside the model
// (TensorProto.data_location = EXTERNAL, external_data keys location, offset,
// length; checksum is ignored). Exporters write them for models over 2 GiB,
// which protobuf cannot hold in one message, and PyTorch's dynamo exporter for
// every model.
//
// Untrusted paths: a location must be relative, may not contain "..", and must
// resolve (symlinks followed) inside the model's folder. Each file is opened
// and mapped once, read-only; offsets and lengths are checked against its size
// before any byte is read. Every failure is a ModelError (exit 4) naming the
// model, the tensor and the file.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "graph.hpp"

namespace onnx {
class TensorProto;
}

namespace mgi {

class ExternalData {
 public:
  // dir: the model file's folder ("" or "." for the current directory).
  // source: the model file, for messages.
  ExternalData(std::string dir, std::string source);
  ~ExternalData();
  ExternalData(const ExternalData&) = delete;
  ExternalData& operator=(const ExternalData&) = delete;

  // The bytes of tensor `t` (data_location EXTERNAL), valid while this object
  // lives. `what` names the tensor in messages ("initializer 'fc.weight'").
  std::string_view bytes(const onnx::TensorProto& t, const std::string& what);

  // The files read so far, by location, with size and modification time.
  std::vector<ExternalDataFile> files() const;

 private:
  struct File {
    int fd = -1;
    const char* map = nullptr;
    size_t size = 0;
    int64_t mtime_ns = 0;
  };
  const File& open(const std::string& location, const std::string& what);
  [[noreturn]] void fail(const std::string& what, const std::string& m) const;

  std::string dir_, source_, real_dir_;
  std::map<std::string, File> files_;
};

// The folder of a model file, for its external data ("." for "model.onnx").
std::string model_folder(const std::string& model_file);

// Reads a model file whole. Throws ModelError when it cannot be read, or when
// it is over 2 GiB (protobuf's limit for one message: such a model must keep
// its weights in external data files).
std::string read_model_file(const std::string& path);

}  // namespace mgi
