// Ops that pick, cut and repeat elements by index: GatherElements, GatherND,
// Split (several outputs), Tile, Trilu. Every type: kernels move element bytes;
// split sizes, repeats and Trilu's k are host-known values.
#include <algorithm>
#include <cstring>
#include <string>

#include "error.hpp"
#include "layout.hpp"
#include "onnx_attrs.hpp"

namespace mgi {

namespace {

int64_t prod(const Shape& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t k = from; k < to; ++k) p *= s[k];
  return p;
}

std::vector<int64_t> strides_of(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t d = s.size(); d-- > 1;) st[d - 1] = st[d] * s[d];
  return st;
}

void want_index_type(const InferArgs& a, size_t k, const char* what) {
  if (a.type(k) != DType::i64 && a.type(k) != DType::i32)
    a.fail(std::string("input '") + what + "' has type " + dtype_name(a.type(k)) + "; expected int32 or int64");
}

// Index v of axis `axis` (size dim), negative from the end; fails naming the element when out of range.
int64_t wrap_index(const KernelArgs& k, int64_t v, int64_t dim, int64_t axis, int64_t element) {
  if (v < -dim || v >= dim)
    throw ModelError("node '" + k.node.name + "' (" + k.node.def->name + "): index " + std::to_string(v) +
                     " (element " + std::to_string(element) + " of the indices) is out of range for axis " +
                     std::to_string(axis) + " of size " + std::to_string(dim) + " (valid: " + std::to_string(-dim) +
                     " to " + std::to_string(dim - 1) + ")");
  return v < 0 ? v + dim : v;
}

// ---------------------------------------------------------------- GatherElements

void parse_axis0(const OnnxNode& on, Node& n) { n.axis = on.get_int("axis", 0); }

void infer_gather_elements(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  const Shape& x = a.shape(0);
  const Shape& idx = a.shape(1);
  want_index_type(a, 1, "indices");
  if (x.empty()) a.fail("cannot gather from a scalar");
  if (idx.size() != x.size())
    a.fail("indices have shape " + shape_str(idx) + " but data has shape " + shape_str(x) + "; ranks must match");
  const size_t ax = static_cast<size_t>(a.axis(a.node.axis, x.size()));
  for (size_t d = 0; d < x.size(); ++d)
    if (d != ax && idx[d] > x[d])
      a.fail("indices have shape " + shape_str(idx) + ", larger than data " + shape_str(x) + " in dim " +
             std::to_string(d));
  if (x[ax] == 0 && shape_numel(idx) > 0) a.fail("gathers from axis " + std::to_string(ax) + " of size 0");
  out[0] = {a.type(0), idx};
}

void cpu_gather_elements(const KernelArgs& k) {
  const Shape& x = *k.in[0].shape;
  const Shape& is = *k.in[1].shape;
  const int64_t r = static_cast<int64_t>(x.size());
  const size_t ax = static_cast<size_t>(k.node.axis < 0 ? k.node.axis + r : k.node.axis);
  const int64_t total = shape_numel(is);
  if (total == 0) return;
  const std::vector<int64_t> xs = strides_of(x);
  by_size(dtype_size(k.in[0].dtype), [&](auto tag) {
    using T = decltype(tag);
    const T* px = k.in[0].as<T>();
    T* py = k.out[0].as<T>();
    std::vector<int64_t> i(is.size(), 0);
    for (int64_t e = 0; e < total; ++e) {
      int64_t off = 0;
      for (size_t d = 0; d < is.size(); ++d)
        if (d != ax) off += i[d] * xs[d];
      const int64_t v = element_as_int(k.in[1].dtype, k.in[1].data, e);
      off += wrap_index(k, v, x[ax], static_cast<int64_t>(ax), e) * xs[ax];
      py[e] = px[off];
      for (size_t d = is.size(); d-- > 0;) {
        if (++i[d] < is[d]) break;
        i[d] = 0;
      }
    }
  });
}

// ---------------------------------------------------------------- GatherND

void parse_gather_nd(const OnnxNode& on, Node& n) { n.batch_dims = n.opset >= 12 ? on.get_int("batch_dims", 0) : 0; }

void infer_gather_nd(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  const Shape& x = a.shape(0);
  const Shape& idx = a.shape(1);
  want_index_type(a, 1, "indices");
  const int64_t b = a.node.batch_dims, r = static_cast<int64_t>(x.size()), q = static_cast<int64_t>(idx.size());
  if (r < 1 || q < 1) a.fail("data and indices need rank >= 1 (have " + shape_str(x) + " and " + shape_str(idx) + ")");
  if (b < 0 || b >= std::min(r, q))
    a.fail("batch_dims " + std::to_string(b) + " must be in [0, min(rank of data, rank of indices))");
  for (int64_t d = 0; d < b; ++d)
    if (x[static_cast<size_t>(d)] != idx[static_cast<size_t>(d)])
      a.fail("data " + shape_str(x) + " and indices " + shape_str(idx) + " differ in batch dim " + std::to_string(d));
  const int64_t m = idx.back();
  if (m < 1 || m > r - b)
    a.fail("the last dim of indices " + shape_str(idx) + " is " + std::to_string(m) + "; expected 1 to " +
           std::to_string(r - b) + " (rank of data minus batch_dims)");
  Shape s(idx.begin(), idx.end() - 1);
  s.insert(s.end(), x.begin() + b + m, x.end());
  out[0] = {a.type(0), s};
}

void cpu_gather_nd(const KernelArgs& k) {
  const Shape& x = *k.in[0].shape;
  const Shape& is = *k.in[1].shape;
  const size_t b = static_cast<size_t>(k.node.batch_dims);
  const int64_t m = is.back();
  const int64_t batches = prod(x, 0, b);
  const int64_t per_batch = prod(is, b, is.size() - 1);  // index tuples per batch
  const int64_t block = prod(x, b + static_cast<size_t>(m), x.size());
  const int64_t x_batch = prod(x, b, x.size());
  const std::vector<int64_t> xs = strides_of(x);
  const size_t es = dtype_size(k.in[0].dtype), bytes = static_cast<size_t>(block) * es;
  if (batches * per_batch == 0 || bytes == 0) return;
  const char* px = static_cast<const char*>(k.in[0].data);
  char* py = static_cast<char*>(k.out[0].data);
  for (int64_t bi = 0; bi < batches; ++bi)
    for (int64_t t = 0; t < per_batch; ++t) {
      const int64_t tuple = bi * per_batch + t;
      int64_t off = bi * x_batch;
      for (int64_t j = 0; j < m; ++j) {
        const size_t d = b + static_cast<size_t>(j);
        const int64_t e = tuple * m + j;
        off += wrap_index(k, element_as_int(k.in[1].dtype, k.in[1].data, e), x[d], static_cast<int64_t>(d), e) * xs[d];
      }
      std::memcpy(py + static_cast<size_t>(tuple) * bytes, px + static_cast<size_t>(off) * es, bytes);
    }
}

// ---------------------------------------------------------------- Split

void parse_split_attr(const OnnxNode& on, Node& n) {  // opset 2-12: split attribute
  n.axis = on.get_int("axis", 0);
  n.ints = on.get_ints("split");
}
void parse_split_input(const OnnxNode& on, Node& n) {  // 13-17: split input; 18+: or num_outputs
  n.axis = on.get_int("axis", 0);
  n.ints.clear();
  if (on.has("split")) on.fail("attribute 'split' is not allowed from opset 13 on (split is input 1)");
  n.num_outputs = n.opset >= 18 ? on.get_int("num_outputs", 0) : 0;
  if (on.has("num_outputs") && n.num_outputs < 1)
    on.fail("num_outputs " + std::to_string(n.num_outputs) + " must be positive");
  if (n.num_outputs > 0 && n.num_outputs != on.proto().output_size())
    on.fail("num_outputs is " + std::to_string(n.num_outputs) + " but the node has " +
            std::to_string(on.proto().output_size()) + " outputs");
  if (n.num_outputs > 0 && on.proto().input_size() > 1 && !on.proto().input(1).empty())
    on.fail("has both the 'split' input and num_outputs; give one");
}

// Sizes of the outputs along the axis; "" or an error.
std::string split_sizes(int64_t dim, size_t outputs, const std::vector<int64_t>& given, int64_t num_outputs,
                        std::vector<int64_t>& sizes) {
  const int64_t n = static_cast<int64_t>(outputs);
  sizes.clear();
  if (!given.empty()) {
    if (given.size() != outputs)
      return "split has " + std::to_string(given.size()) + " sizes for " + std::to_string(n) + " outputs";
    int64_t sum = 0;
    for (int64_t s : given) {
      if (s < 0) return "split size " + std::to_string(s) + " is negative";
      sum += s;
    }
    if (sum != dim)
      return "split sizes add up to " + std::to_string(sum) + " but the axis has size " + std::to_string(dim);
    sizes = given;
  } else if (num_outputs > 0) {  // opset 18: ceil(dim / n) each, the last ones smaller
    const int64_t chunk = (dim + num_outputs - 1) / num_outputs;
    int64_t left = dim;
    for (int64_t k = 0; k < n; ++k) {
      sizes.push_back(std::min(chunk, left));
      left -= sizes.back();
    }
  } else {
    if (dim % n != 0)
      return "axis of size " + std::to_string(dim) + " does not split evenly into " + std::to_string(n) + " outputs";
    sizes.assign(outputs, dim / n);
  }
  return "";
}

std::vector<int64_t> split_given(const Node& n, const InferArgs* a, const KernelArgs* k) {
  if (a) return a->has(1) ? int_list(*a, 1, "split", false) : n.ints;
  return k->in.size() > 1 && k->in[1].present() ? int_list(k->in[1]) : n.ints;
}

void infer_split(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  const Shape& x = a.shape(0);
  if (x.empty()) a.fail("cannot split a scalar");
  const size_t ax = static_cast<size_t>(a.axis(a.node.axis, x.size()));
  std::vector<int64_t> sizes;
  const std::string err = split_sizes(x[ax], out.size(), split_given(a.node, &a, nullptr), a.node.num_outputs, sizes);
  if (!err.empty()) a.fail(err);
  for (size_t k = 0; k < out.size(); ++k) {
    Shape s = x;
    s[ax] = sizes[k];
    out[k] = {a.type(0), s};
  }
}

void cpu_split(const KernelArgs& k) {
  const Shape& x = *k.in[0].shape;
  const size_t ax = static_cast<size_t>(k.node.axis < 0 ? k.node.axis + static_cast<int64_t>(x.size()) : k.node.axis);
  std::vector<int64_t> sizes;
  const std::string err = split_sizes(x[ax], k.out.size(), split_given(k.node, nullptr, &k), k.node.num_outputs, sizes);
  MGI_ASSERT(err.empty(), err);
  const int64_t outer = prod(x, 0, ax), inner = prod(x, ax + 1, x.size());
  const size_t es = dtype_size(k.in[0].dtype);
  const size_t row = static_cast<size_t>(x[ax] * inner) * es;
  const char* px = static_cast<const char*>(k.in[0].data);
  size_t start = 0;  // bytes into a row of the input
  for (size_t o = 0; o < k.out.size(); ++o) {
    const size_t len = static_cast<size_t>(sizes[o] * inner) * es;
    char* py = static_cast<char*>(k.out[o].data);
    if (py && len > 0)
      for (int64_t r = 0; r < outer; ++r)
        std::memcpy(py + static_cast<size_t>(r) * len, px + static_cast<size_t>(r) * row + start, len);
    start += len;
  }
}

// ---------------------------------------------------------------- Tile

void infer_tile(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  const Shape& x = a.shape(0);
  const std::vector<int64_t> rep = int_list(a, 1, "repeats", false);
  if (rep.size() != x.size())
    a.fail("repeats has " + std::to_string(rep.size()) + " values for an input of rank " + std::to_string(x.size()));
  Shape s = x;
  for (size_t d = 0; d < s.size(); ++d) {
    if (rep[d] < 0) a.fail("repeats value " + std::to_string(rep[d]) + " is negative");
    if (x[d] != 0 && rep[d] > (int64_t{1} << 40) / x[d]) a.fail("output shape overflows");
    s[d] = x[d] * rep[d];
  }
  shape_numel(s);
  out[0] = {a.type(0), s};
}

void cpu_tile(const KernelArgs& k) {
  const Shape& x = *k.in[0].shape;
  const Shape& y = *k.out[0].shape;
  const int64_t total = shape_numel(y);
  if (total == 0) return;
  const size_t rank = x.size();
  by_size(dtype_size(k.in[0].dtype), [&](auto tag) {
    using T = decltype(tag);
    const T* px = k.in[0].as<T>();
    T* py = k.out[0].as<T>();
    if (rank == 0) {
      py[0] = px[0];
      return;
    }
    const std::vector<int64_t> xs = strides_of(x);
    const int64_t inner = y[rank - 1], xin = x[rank - 1];
    std::vector<int64_t> i(rank, 0);
    for (int64_t e = 0; e < total; e += inner) {
      int64_t off = 0;
      for (size_t d = 0; d + 1 < rank; ++d) off += (i[d] % x[d]) * xs[d];
      for (int64_t j = 0; j < inner; ++j) py[e + j] = px[off + j % xin];
      for (size_t d = rank - 1; d-- > 0;) {
        if (++i[d] < y[d]) break;
        i[d] = 0;
      }
    }
  });
}

// ---------------------------------------------------------------- Trilu

void parse_trilu(const OnnxNode& on, Node& n) { n.upper = on.get_int("upper", 1) != 0; }

void infer_trilu(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  const Shape& x = a.shape(0);
  if (x.size() < 2) a.fail("input has shape " + shape_str(x) + "; expected rank >= 2");
  if (a.has(1)) {
    const Tensor& t = a.value(1, "k");
    if (t.dtype != DType::i64) a.fail(std::string("input 'k' has type ") + dtype_name(t.dtype) + "; expected int64");
    if (t.numel() != 1 || t.shape.size() > 1) a.fail("input 'k' has shape " + shape_str(t.shape) + "; expected a scalar");
  }
  out[0] = {a.type(0), x};
}

void cpu_trilu(const KernelArgs& k) {
  const Shape& x = *k.in[0].shape;
  const int64_t kk = k.in.size() > 1 && k.in[1].present() ? element_as_int(k.in[1].dtype, k.in[1].data, 0) : 0;
  const size_t rank = x.size();
  const int64_t rows = x[rank - 2], cols = x[rank - 1], mats = prod(x, 0, rank - 2);
  const bool upper = k.node.upper;
  by_size(dtype_size(k.in[0].dtype), [&](auto tag) {
    using T = decltype(tag);
    const T* px = k.in[0].as<T>();
    T* py = k.out[0].as<T>();
    for (int64_t m = 0; m < mats; ++m)
      for (int64_t i = 0; i < rows; ++i) {
        const int64_t base = (m * rows + i) * cols;
        for (int64_t j = 0; j < cols; ++j) {
          const bool keep = upper ? j - i >= kk : j - i <= kk;
          py[base + j] = keep ? px[base + j] : T{0};  // zero bytes: 0 of every type, false
        }
      }
  });
}

}  // namespace

void register_gather_scatter_ops(OpRegistry& r) {
  {
    OpDef d;
    d.name = "GatherElements";
    d.since = 11;
    d.min_inputs = d.max_inputs = 2;
    d.parse = parse_axis0;
    d.infer = infer_gather_elements;
    d.cpu = cpu_gather_elements;
    d.types = "T: all; Tind: int32, int64";
    d.notes = "Negative indices count from the end; an index out of range fails naming it.";
    r.add(d);
  }
  {
    OpDef d;
    d.name = "GatherND";
    d.since = 11;
    d.min_inputs = d.max_inputs = 2;
    d.parse = parse_gather_nd;
    d.infer = infer_gather_nd;
    d.cpu = cpu_gather_nd;
    d.types = "T: all; indices: int64 (int32 accepted)";
    d.notes = "batch_dims (opset 12+); negative indices count from the end; an index out of range fails naming it.";
    r.add(d);
  }
  {
    OpDef d;
    d.name = "Split";
    d.since = 2;
    d.until = 12;
    d.max_outputs = 1 << 30;
    d.parse = parse_split_attr;
    d.infer = infer_split;
    d.cpu = cpu_split;
    d.types = "T: all";
    d.notes = "split attribute (opset 2-12), or equal parts.";
    r.add(d);
    d.since = 13;
    d.until = 0;
    d.max_inputs = 2;
    d.parse = parse_split_input;
    d.types = "T: all; split: int64";
    d.notes = "split input known on the host, or num_outputs (opset 18+: ceil(dim / n) each, the last smaller), "
              "or equal parts.";
    r.add(d);
  }
  {
    OpDef d;
    d.name = "Tile";
    d.since = 6;
    d.min_inputs = d.max_inputs = 2;
    d.infer = infer_tile;
    d.cpu = cpu_tile;
    d.types = "T: all; repeats: int64";
    d.notes = "repeats must be known on the host.";
    r.add(d);
  }
  {
    OpDef d;
    d.name = "Trilu";
    d.since = 14;
    d.max_inputs = 2;
    d.parse = parse_trilu;
    d.infer = infer_trilu;
    d.cpu = cpu_trilu;
    d.types = "T: all; k: int64";
    d.notes = "upper (default) or lower triangle of the last two dims, diagonal offset k known on the host.";
    r.add(d);
  }
}

}  // namespace mgi
