#include "inspect.hpp"

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "dataset_reader.hpp"
#include "error.hpp"
#include "graph.hpp"
#include "h5.hpp"
#include "run_report.hpp"
#include "external_data.hpp"
#include "sha256.hpp"

namespace mgi {

namespace {

// The model's ops as the file has them (before folding), each marked when the
// registry lacks it; returns how many op types are unsupported.
int print_model_ops(const std::vector<OpUse>& uses) {
  int nodes = 0, unsupported = 0;
  std::string list;
  for (const OpUse& u : uses) {
    nodes += u.count;
    list += (list.empty() ? "" : ", ") + u.op + " x" + std::to_string(u.count);
    if (!u.supported) {
      list += " (unsupported)";
      ++unsupported;
    }
  }
  std::printf("  model ops  %d nodes in the file: %s\n", nodes, list.empty() ? "(none)" : list.c_str());
  return unsupported;
}

void print_support(const std::vector<OpUse>& uses, int unsupported) {
  if (unsupported == 0)
    std::printf("  all ops supported (%zu types)\n", uses.size());
  else
    std::printf("  ops: %zu of %zu types supported\n", uses.size() - static_cast<size_t>(unsupported), uses.size());
}

// Lists the model's ops first (from the file alone, so a model the loader
// refuses is still described), then loads it for the rest. Returns 0, or the
// load error's exit code after its one line on stderr.
int inspect_model(const std::string& path, const std::string& bytes) {
  const std::vector<OpUse> uses = model_ops(bytes, path);
  std::printf("model %s (%s, sha256 %s)\n", path.c_str(), human_bytes(static_cast<int64_t>(bytes.size())).c_str(),
              sha256_hex(bytes).c_str());
  Graph g;
  try {
    g = load_onnx(bytes, path, model_folder(path));  // weights in external data files: from the model's folder
  } catch (const Error& e) {
    print_support(uses, print_model_ops(uses));
    std::fflush(stdout);
    std::fprintf(stderr, "mgi-mpi: error: %s\n", e.what());
    return e.exit_code();
  }
  std::printf("  producer   %s\n  opset      %lld\n", g.producer.empty() ? "?" : g.producer.c_str(),
              static_cast<long long>(g.opset));
  for (size_t k = 0; k < g.inputs.size(); ++k) {
    // Dynamic dims by their declared names ("[batch, sequence]"), "?" when unnamed.
    std::string shape = "[batch";
    const Shape& s = g.input_shapes[k];
    for (size_t d = 1; d < s.size(); ++d) {
      const std::string& name = k < g.input_dim_names.size() && d < g.input_dim_names[k].size() ? g.input_dim_names[k][d] : "";
      shape += ", " + (s[d] >= 0 ? std::to_string(s[d]) : name.empty() ? std::string("?") : name);
    }
    std::printf("  input      %-16s %s %s]\n", g.input_name(k).c_str(), dtype_name(g.input_type(k)), shape.c_str());
  }
  // Output shapes for one row, when every input's non-batch dims are known.
  std::vector<Shape> shapes;
  try {
    std::vector<Shape> in;
    for (Shape s : g.input_shapes) {
      if (s[0] < 1) s[0] = 1;  // a fixed batch stays
      for (int64_t d : s)
        if (d < 0) throw ModelError("dynamic dims");
      in.push_back(s);
    }
    shapes = g.infer_shapes(in);
  } catch (const Error&) {
    shapes.clear();
  }
  for (size_t k = 0; k < g.outputs.size(); ++k)
    std::printf("  output     %-16s %s %s\n", g.output_name(k).c_str(), dtype_name(g.output_type(k)),
                shapes.empty() ? "(depends on dynamic input dims)" : batch_shape_str(shapes[g.outputs[k]]).c_str());
  const int unsupported = print_model_ops(uses);
  std::map<std::string, int> ops;
  int host = 0;
  for (const Node& n : g.nodes) {
    ops[n.op_type]++;
    host += !n.outputs.empty() && n.outputs[0] >= 0 && g.values[static_cast<size_t>(n.outputs[0])].host;
  }
  std::string list;
  for (const auto& [op, count] : ops) list += (list.empty() ? "" : ", ") + op + " x" + std::to_string(count);
  std::printf("  ops        %zu nodes after constant folding: %s\n", g.nodes.size(), list.c_str());
  if (host > 0)
    std::printf("  host       %d of them compute shapes per batch on the host (Shape and what follows it)\n", host);
  std::printf("  parameters %lld (%s as float32)\n", static_cast<long long>(g.parameter_count),
              human_bytes(g.parameter_count * 4).c_str());
  if (!g.external_files.empty()) {
    std::string files;
    for (const auto& f : g.external_files) files += (files.empty() ? "" : ", ") + f.location + " (" + human_bytes(f.size) + ")";
    std::printf("  weights    %zu external data file(s) beside the model: %s\n", g.external_files.size(), files.c_str());
  }
  print_support(uses, unsupported);  // an unsupported op the outputs never need: the model still loads
  return 0;
}

struct H5Visit {
  std::vector<std::string> lines;
};

std::string type_text(hid_t type) {
  std::string n = h5_numeric_type_name(type);
  if (!n.empty()) return n;
  switch (H5Tget_class(type)) {
    case H5T_STRING: return "string";
    case H5T_VLEN: {
      H5Handle base(H5Tget_super(type), H5Tclose);
      return "vlen " + (base ? type_text(base.get()) : std::string("?"));
    }
    case H5T_COMPOUND: return "compound";
    case H5T_ENUM: return "enum";
    default: return "other";
  }
}

std::string dataset_text(hid_t file, const char* name) {
  H5Handle d(H5Dopen2(file, name, H5P_DEFAULT), H5Dclose);
  if (!d) return "(cannot open)";
  H5Handle type(H5Dget_type(d.get()), H5Tclose), space(H5Dget_space(d.get()), H5Sclose);
  H5Handle dcpl(H5Dget_create_plist(d.get()), H5Pclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> dims(rank > 0 ? rank : 0);
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  Shape s(dims.begin(), dims.end());
  std::string out = shape_str(s) + " " + type_text(type.get());
  if (H5Pget_layout(dcpl.get()) == H5D_CHUNKED && rank > 0) {
    std::vector<hsize_t> chunk(rank);
    H5Pget_chunk(dcpl.get(), rank, chunk.data());
    out += ", chunks " + shape_str(Shape(chunk.begin(), chunk.end()));
    const int filters = H5Pget_nfilters(dcpl.get());
    for (int f = 0; f < filters; ++f) {
      unsigned flags = 0, cd[8] = {0};
      size_t ncd = 8;
      char fname[64] = {0};
      const H5Z_filter_t id = H5Pget_filter2(dcpl.get(), f, &flags, &ncd, cd, sizeof fname, fname, nullptr);
      if (id == H5Z_FILTER_DEFLATE) out += ", gzip " + std::to_string(ncd ? cd[0] : 0);
      else if (id == H5Z_FILTER_SHUFFLE) out += ", shuffle";
      else out += std::string(", filter ") + fname;
    }
  }
  out += ", " + human_bytes(static_cast<int64_t>(H5Dget_storage_size(d.get()))) + " stored";
  return out;
}

herr_t visit(hid_t obj, const char* name, const H5O_info_t* info, void* data) {
  auto* v = static_cast<H5Visit*>(data);
  if (info->type == H5O_TYPE_DATASET)
    v->lines.push_back(std::string("  /") + name + "  " + dataset_text(obj, name));
  else if (info->type == H5O_TYPE_GROUP && std::string(name) != ".")
    v->lines.push_back(std::string("  /") + name + "/  (group)");
  return 0;
}

herr_t attr_line(hid_t loc, const char* name, const H5A_info_t*, void* data) {
  auto* lines = static_cast<std::vector<std::string>*>(data);
  H5Handle a(H5Aopen(loc, name, H5P_DEFAULT), H5Aclose);
  H5Handle t(H5Aget_type(a.get()), H5Tclose);
  std::string value = "(" + type_text(t.get()) + ")";
  if (H5Tget_class(t.get()) == H5T_INTEGER) {
    long long v = 0;
    if (H5Aread(a.get(), H5T_NATIVE_LLONG, &v) >= 0) value = std::to_string(v);
  } else if (H5Tget_class(t.get()) == H5T_STRING) {
    H5Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_cset(mem.get(), H5Tget_cset(t.get()));  // no ASCII <-> UTF-8 conversion in HDF5
    if (H5Tis_variable_str(t.get()) > 0) {
      H5Tset_size(mem.get(), H5T_VARIABLE);
      char* s = nullptr;
      if (H5Aread(a.get(), mem.get(), &s) >= 0 && s) {
        value = s;
        H5free_memory(s);
      }
    } else {
      std::vector<char> buf(H5Tget_size(t.get()) + 1, 0);
      H5Tset_size(mem.get(), buf.size());
      if (H5Aread(a.get(), mem.get(), buf.data()) >= 0) value = buf.data();
    }
    const auto nl = value.find('\n');
    if (nl != std::string::npos || value.size() > 72) value = value.substr(0, std::min<size_t>(nl, 69)) + "...";
  }
  lines->push_back(std::string("  @") + name + " = " + value);
  return 0;
}

void inspect_h5(const std::string& path) {
  std::lock_guard<std::recursive_mutex> lock(h5_mutex());
  H5Handle f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!f) throw DataError("'" + path + "': cannot open as HDF5: " + h5_error_message());
  H5Visit v;
  if (H5Ovisit2(f.get(), H5_INDEX_NAME, H5_ITER_INC, visit, &v, H5O_INFO_BASIC) < 0)
    throw DataError("'" + path + "': cannot list its objects: " + h5_error_message());
  std::vector<std::string> attrs;
  H5Aiterate2(f.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, attr_line, &attrs);
  std::printf("hdf5 %s\n", path.c_str());
  for (const auto& l : v.lines) std::printf("%s\n", l.c_str());
  for (const auto& l : attrs) std::printf("%s\n", l.c_str());
}

}  // namespace

int inspect_file(const std::string& path) {
  try {
    h5_quiet();
    std::ifstream in(path, std::ios::binary);
    if (!in) throw DataError("'" + path + "': cannot read (missing or unreadable)");
    if (H5Fis_hdf5(path.c_str()) > 0) {
      inspect_h5(path);
    } else {
      H5Eclear2(H5E_DEFAULT);
      std::ostringstream ss;
      ss << in.rdbuf();
      return inspect_model(path, ss.str());
    }
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "mgi-mpi: error: %s\n", e.what());
    return e.exit_code();
  }
}

}  // namespace mgi
