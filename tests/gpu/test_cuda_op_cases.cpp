// The CUDA backend on every reference case of tests/python/gen_op_cases.py
// (ONNX model + onnxruntime outputs): CUDA must match the stored outputs with
// the case's rtol and the CPU backend with the same measure. Runs when
// MGI_OP_CASES names the case directory (ctest sets it; see CMakeLists.txt).
// A case using an op the CUDA backend has no kernel for (a CPU-only op) is
// skipped and named in the output, not failed: the backend refuses such a
// model by design ("use runtime.device: cpu").
#include <hdf5.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cuda_kernels.hpp"
#include "gpu_test_util.hpp"

namespace fs = std::filesystem;

namespace mgi::gputest {
namespace {

class H5Id {
 public:
  H5Id(hid_t id, herr_t (*close)(hid_t), const std::string& what) : id_(id), close_(close) {
    if (id_ < 0) throw std::runtime_error("HDF5: cannot open " + what);
  }
  H5Id(const H5Id&) = delete;
  H5Id& operator=(const H5Id&) = delete;
  ~H5Id() {
    if (id_ >= 0) close_(id_);
  }
  hid_t get() const { return id_; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

struct Array {
  Shape shape;
  std::vector<float> data;
};

Array read_f32(hid_t file, const std::string& path) {
  H5Id ds(H5Dopen2(file, path.c_str(), H5P_DEFAULT), H5Dclose, "dataset " + path);
  H5Id space(H5Dget_space(ds.get()), H5Sclose, "dataspace of " + path);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 1 || rank > 16) throw std::runtime_error(path + ": unexpected rank " + std::to_string(rank));
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  Array a;
  for (hsize_t d : dims) a.shape.push_back(static_cast<int64_t>(d));
  a.data.resize(static_cast<size_t>(shape_numel(a.shape)));
  if (H5Dread(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, a.data.data()) < 0)
    throw std::runtime_error("HDF5: cannot read " + path);
  return a;
}

std::vector<Array> read_group(hid_t file, const std::string& group) {
  H5Id g(H5Gopen2(file, group.c_str(), H5P_DEFAULT), H5Gclose, "group " + group);
  H5G_info_t info{};
  if (H5Gget_info(g.get(), &info) < 0) throw std::runtime_error("HDF5: cannot list " + group);
  std::vector<Array> out;
  for (hsize_t k = 0; k < info.nlinks; ++k) out.push_back(read_f32(file, group + "/" + std::to_string(k)));
  return out;
}

double read_rtol(hid_t file) {
  double v = 1e-5;
  if (H5Aexists(file, "rtol") <= 0) return v;
  H5Id attr(H5Aopen(file, "rtol", H5P_DEFAULT), H5Aclose, "attribute rtol");
  if (H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &v) < 0) throw std::runtime_error("HDF5: cannot read rtol");
  return v;
}

std::string read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + p.string());
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

TEST(OpCases, CudaMatchesReferenceAndCpu) {
  MGI_REQUIRE_CUDA_DEVICE();
  const char* root = std::getenv("MGI_OP_CASES");
  if (!root || !*root) GTEST_SKIP() << "MGI_OP_CASES is not set (ctest's gpu_reference_cases sets it)";
  ASSERT_TRUE(fs::is_directory(root)) << "MGI_OP_CASES=" << root << " is not a directory";
  std::vector<fs::path> cases;
  for (const auto& e : fs::directory_iterator(root))
    if (e.is_directory() && fs::exists(e.path() / "model.onnx") && fs::exists(e.path() / "case.h5"))
      cases.push_back(e.path());
  std::sort(cases.begin(), cases.end());
  ASSERT_FALSE(cases.empty()) << "no case directories (model.onnx + case.h5) under " << root;
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);

  std::string cpu_only;
  for (const fs::path& dir : cases) {
    const std::string name = dir.filename().string();
    SCOPED_TRACE("case " + name);
    const Graph g = load_onnx(read_bytes(dir / "model.onnx"), (dir / "model.onnx").string());
    std::string missing;
    for (const Node& n : g.nodes)
      if (!g.values[static_cast<size_t>(n.outputs[0])].host && !cuda::cuda_supports(n.def->domain, n.def->name))
        missing += (missing.empty() ? "" : ", ") + n.def->name;
    if (!missing.empty()) {
      std::printf("[ cpu only ] %-36s no CUDA kernel for %s: skipped\n", name.c_str(), missing.c_str());
      cpu_only += (cpu_only.empty() ? "" : " ") + name;
      continue;
    }
    const std::string h5 = (dir / "case.h5").string();
    H5Id file(H5Fopen(h5.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, h5);
    const std::vector<Array> inputs = read_group(file.get(), "/inputs");
    const std::vector<Array> outputs = read_group(file.get(), "/outputs");
    const double rtol = read_rtol(file.get());
    ASSERT_EQ(inputs.size(), g.inputs.size());
    ASSERT_EQ(outputs.size(), g.outputs.size());
    const int64_t rows = inputs[0].shape[0];
    std::vector<Shape> input_rows;
    Batch in, ref;
    for (const Array& a : inputs) {
      input_rows.push_back(row_shape(a.shape));
      in.push_back(a.data);
    }
    for (const Array& a : outputs) ref.push_back(a.data);

    auto gpu = make_cuda_backend(0);
    gpu->prepare(g, input_rows, rows);
    const Batch got = run_rows(*gpu, g, input_rows, in, 0, rows);
    expect_close(ref, got, rtol, name + " vs onnxruntime");
    auto cpu = make_cpu_backend(1);
    cpu->prepare(g, input_rows, rows);
    expect_close(run_rows(*cpu, g, input_rows, in, 0, rows), got, rtol, name + " vs cpu");
  }
  if (!cpu_only.empty()) std::printf("cases skipped for CPU-only ops: %s\n", cpu_only.c_str());
}

}  // namespace
}  // namespace mgi::gputest
