// Runs the CPU backend on every case written by tests/python/gen_op_cases.py
// (onnxruntime outputs, cross-checked there against numpy) and compares.
//
// MGI_OP_CASES names the case directory; each <case>/ holds model.onnx and
// case.h5 (/inputs/<k>, /outputs/<k>, attribute rtol). A missing or small case
// directory is a failure, never a vacuous pass. MGI_OP_CASES_MIN (default 40)
// sets how many cases must be there.
//
// Per case:
//   Cpu.MatchesReference: shapes from infer_shapes equal the stored ones, and
//     max|out - ref| / max(max|ref|, 1e-6) <= rtol (1e-5 unless the case says why not).
//   Cpu.RowsIndependent: the backend contract "a row's result does not depend on
//     the other rows or on `rows`": runs with max_batch > rows, single rows and a
//     middle slice must reproduce the full-batch result bitwise.
#include <hdf5.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "backend.hpp"
#include "error.hpp"
#include "graph.hpp"
#include "tensor.hpp"

namespace fs = std::filesystem;

namespace {

constexpr double kDefaultRtol = 1e-5;
// A case may ask for more than 1e-5 only up to this; anything looser is a bug in the generator.
constexpr double kMaxRtol = 1e-4;

// ---- Minimal HDF5 reading with owned ids.
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
  mgi::Shape shape;
  std::vector<float> data;
};

Array read_f32(hid_t file, const std::string& path) {
  H5Id ds(H5Dopen2(file, path.c_str(), H5P_DEFAULT), H5Dclose, "dataset " + path);
  H5Id space(H5Dget_space(ds.get()), H5Sclose, "dataspace of " + path);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 1 || rank > 8) throw std::runtime_error(path + ": unexpected rank " + std::to_string(rank));
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  Array a;
  for (hsize_t d : dims) a.shape.push_back(static_cast<int64_t>(d));
  a.data.resize(static_cast<size_t>(mgi::shape_numel(a.shape)));
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

template <class T>
T read_attr(hid_t file, const char* name, hid_t type, T fallback) {
  if (H5Aexists(file, name) <= 0) return fallback;
  H5Id attr(H5Aopen(file, name, H5P_DEFAULT), H5Aclose, std::string("attribute ") + name);
  T v = fallback;
  if (H5Aread(attr.get(), type, &v) < 0) throw std::runtime_error(std::string("HDF5: cannot read ") + name);
  return v;
}

struct Case {
  std::string name;
  fs::path dir;
  mgi::Graph graph;
  std::vector<Array> inputs, outputs;
  double rtol = kDefaultRtol;
  long long seed = -1;  // generator seed, to reproduce a failure
  int64_t batch = 0;
  std::vector<mgi::Shape> input_rows;
};

std::string read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + p.string());
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// Reads the model and the case file; any failure throws, and gtest reports the message.
Case load_case(const std::string& name) {
  Case c;
  c.name = name;
  c.dir = fs::path(std::getenv("MGI_OP_CASES")) / name;
  const fs::path model = c.dir / "model.onnx";
  c.graph = mgi::load_onnx(read_bytes(model), model.string());
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const std::string h5 = (c.dir / "case.h5").string();
  H5Id file(H5Fopen(h5.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, h5);
  c.inputs = read_group(file.get(), "/inputs");
  c.outputs = read_group(file.get(), "/outputs");
  c.rtol = read_attr<double>(file.get(), "rtol", H5T_NATIVE_DOUBLE, kDefaultRtol);
  c.seed = read_attr<long long>(file.get(), "seed", H5T_NATIVE_LLONG, -1);
  if (c.inputs.empty() || c.outputs.empty()) throw std::runtime_error(h5 + ": no inputs or no outputs");
  c.batch = c.inputs[0].shape[0];
  for (const Array& a : c.inputs) c.input_rows.push_back(mgi::row_shape(a.shape));
  return c;
}

std::string reproduce(const Case& c) {
  return "case " + c.name + ": regenerate with tests/python/gen_op_cases.py --out DIR --seed " +
         std::to_string(c.seed) + " --only '^" + c.name + "$'";
}

std::vector<std::vector<float>> run_backend(mgi::Backend& be, const Case& c, int64_t first_row, int64_t rows) {
  std::vector<const void*> in;
  for (size_t k = 0; k < c.inputs.size(); ++k)
    in.push_back(c.inputs[k].data.data() + first_row * mgi::shape_numel(c.input_rows[k]));
  std::vector<std::vector<float>> out(c.outputs.size());
  std::vector<void*> outp;
  for (size_t k = 0; k < c.outputs.size(); ++k) {
    const int64_t row = mgi::shape_numel(mgi::row_shape(c.outputs[k].shape));
    // One extra row of NaN guards: a backend writing past `rows` rows shows up as a mismatch.
    out[k].assign(static_cast<size_t>((rows + 1) * row), std::nanf(""));
    outp.push_back(out[k].data());
  }
  be.run(rows, in, outp);
  for (size_t k = 0; k < out.size(); ++k) {
    const size_t used = static_cast<size_t>(rows * mgi::shape_numel(mgi::row_shape(c.outputs[k].shape)));
    const bool guard_intact =
        std::all_of(out[k].begin() + static_cast<std::ptrdiff_t>(used), out[k].end(),
                    [](float v) { return std::isnan(v); });
    EXPECT_TRUE(guard_intact) << "output " << k << " written past row " << rows;
    out[k].resize(used);
  }
  return out;
}

// ---- Case discovery: at InitGoogleTest time, from the environment.
std::vector<std::string> find_cases() {
  std::vector<std::string> names;
  const char* root = std::getenv("MGI_OP_CASES");
  if (!root || !*root) return names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    if (e.is_directory() && fs::exists(e.path() / "model.onnx") && fs::exists(e.path() / "case.h5"))
      names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

size_t min_cases() {
  const char* v = std::getenv("MGI_OP_CASES_MIN");
  return v && *v ? static_cast<size_t>(std::strtoul(v, nullptr, 10)) : 40;
}

TEST(CaseDiscovery, FoundEnoughCases) {
  const char* root = std::getenv("MGI_OP_CASES");
  ASSERT_TRUE(root && *root) << "MGI_OP_CASES is not set: point it at the output of "
                                "tests/python/gen_op_cases.py --out DIR";
  ASSERT_TRUE(fs::is_directory(root)) << "MGI_OP_CASES=" << root << " is not a directory";
  const size_t n = find_cases().size();
  EXPECT_GE(n, min_cases()) << "only " << n << " case directories (model.onnx + case.h5) under " << root;
}

class Cpu : public ::testing::TestWithParam<std::string> {};

TEST_P(Cpu, MatchesReference) {
  Case c = load_case(GetParam());
  SCOPED_TRACE(reproduce(c));
  ASSERT_LE(c.rtol, kMaxRtol) << "case asks for a tolerance looser than " << kMaxRtol;
  ASSERT_EQ(c.graph.inputs.size(), c.inputs.size()) << "graph inputs vs /inputs";
  ASSERT_EQ(c.graph.outputs.size(), c.outputs.size()) << "graph outputs vs /outputs";

  std::vector<mgi::Shape> concrete;
  for (const Array& a : c.inputs) concrete.push_back(a.shape);
  const std::vector<mgi::Shape> shapes = c.graph.infer_shapes(concrete);
  for (size_t k = 0; k < c.outputs.size(); ++k)
    ASSERT_EQ(mgi::shape_str(shapes.at(c.graph.outputs[k])), mgi::shape_str(c.outputs[k].shape))
        << "inferred shape of output " << k << " '" << c.graph.output_name(k) << "'";

  auto be = mgi::make_cpu_backend(1);
  be->prepare(c.graph, c.input_rows, c.batch);
  const auto out = run_backend(*be, c, 0, c.batch);

  for (size_t k = 0; k < out.size(); ++k) {
    const std::vector<float>& ref = c.outputs[k].data;
    ASSERT_EQ(out[k].size(), ref.size());
    double max_ref = 0, max_err = 0;
    size_t worst = 0;
    bool finite = true;
    for (size_t j = 0; j < ref.size(); ++j) {
      max_ref = std::max(max_ref, std::fabs(double(ref[j])));
      const double e = std::fabs(double(out[k][j]) - double(ref[j]));
      if (!std::isfinite(out[k][j])) finite = false;
      if (e > max_err) {
        max_err = e;
        worst = j;
      }
    }
    const double rel = max_err / std::max(max_ref, 1e-6);
    std::printf("[ case     ] %-36s output %zu '%s': rel err %.3g (rtol %.0e)\n", c.name.c_str(), k,
                c.graph.output_name(k).c_str(), rel, c.rtol);
    EXPECT_TRUE(finite) << "output " << k << " has non-finite values";
    EXPECT_LE(rel, c.rtol) << "output " << k << " '" << c.graph.output_name(k) << "' shape "
                           << mgi::shape_str(c.outputs[k].shape) << ": max abs err " << max_err
                           << " at flat index " << worst << " (got " << out[k][worst] << ", want "
                           << ref[worst] << "), max|ref| " << max_ref;
  }
}

TEST_P(Cpu, RowsIndependent) {
  Case c = load_case(GetParam());
  SCOPED_TRACE(reproduce(c));
  auto full_be = mgi::make_cpu_backend(1);
  full_be->prepare(c.graph, c.input_rows, c.batch);
  const auto full = run_backend(*full_be, c, 0, c.batch);

  // One backend, prepared for more rows than it will ever get, reused across calls of
  // different sizes: the way the tool runs the last, short batch of a slice.
  auto be = mgi::make_cpu_backend(1);
  be->prepare(c.graph, c.input_rows, c.batch + 3);
  const std::vector<std::pair<int64_t, int64_t>> slices = {
      {0, c.batch}, {0, 1}, {c.batch - 1, 1}, {1, std::max<int64_t>(c.batch - 2, 1)}, {0, c.batch}};
  for (const auto& [first, rows] : slices) {
    const auto part = run_backend(*be, c, first, rows);
    for (size_t k = 0; k < part.size(); ++k) {
      const size_t row = part[k].size() / static_cast<size_t>(rows);
      const float* want = full[k].data() + static_cast<size_t>(first) * row;
      size_t bad = part[k].size();
      for (size_t j = 0; j < part[k].size() && bad == part[k].size(); ++j)
        if (std::memcmp(&part[k][j], &want[j], sizeof(float)) != 0) bad = j;
      EXPECT_EQ(bad, part[k].size())
          << "rows [" << first << ", " << first + rows << ") of max_batch " << c.batch + 3 << ", output " << k
          << ": first difference at row " << first + static_cast<int64_t>(bad / std::max<size_t>(row, 1))
          << " element " << bad % std::max<size_t>(row, 1) << ": " << part[k][bad] << " vs full-batch "
          << want[bad];
    }
  }
}

std::string param_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Ref, Cpu, ::testing::ValuesIn(find_cases()), param_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Cpu);

}  // namespace
