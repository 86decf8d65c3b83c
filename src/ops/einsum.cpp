// Einsum (float32) for one or two operands: the equation is checked at load
// time; at run time each operand is rearranged (and summed over labels only it
// has) into [batch, m, k] and [batch, k, n], multiplied by the CPU GEMM kernel
// (gemm_kernel.hpp: each element one fma chain over k in order), and the
// product rearranged into the output's label order. One operand: a transpose
// and/or a sum. Sums accumulate in double in row-major order of the summed
// labels. Every element's bits depend only on the shapes, never on the batch
// size or the thread count.
//
// Refused (at load time, naming the equation): more than two operands, a label
// repeated within one operand (diagonals such as "ii->i"), characters other
// than letters, "...", "," and "->".
#include <algorithm>
#include <cstring>
#include <string>

#include "error.hpp"
#include "gemm_kernel.hpp"
#include "layout.hpp"
#include "onnx_attrs.hpp"

namespace mgi {

namespace {

constexpr int kEllipsis = -1;   // in a parsed term: where "..." stands
constexpr int kFirstBroadcast = 52;  // label ids: 'A'-'Z' 0-25, 'a'-'z' 26-51, ellipsis dims 52+

struct EinsumTerms {
  std::vector<std::vector<int>> in;  // per operand: label ids, kEllipsis for "..."
  std::vector<int> out;              // explicit output (with kEllipsis), when has_out
  bool has_out = false;
};

int label_id(char c) { return c >= 'A' && c <= 'Z' ? c - 'A' : c - 'a' + 26; }
char label_char(int id) { return static_cast<char>(id < 26 ? 'A' + id : 'a' + id - 26); }

// Parses `eq` (spaces removed); returns "" or why it is refused.
std::string parse_terms(const std::string& eq, EinsumTerms& t) {
  t = EinsumTerms{};
  const size_t arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  auto term = [](const std::string& s, std::vector<int>& labels) -> std::string {
    bool ell = false;
    for (size_t i = 0; i < s.size(); ++i) {
      const char c = s[i];
      if (c == '.') {
        if (s.compare(i, 3, "...") != 0) return "a '.' that is not part of \"...\"";
        if (ell) return "\"...\" twice in one term";
        ell = true;
        labels.push_back(kEllipsis);
        i += 2;
      } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        const int id = label_id(c);
        if (std::find(labels.begin(), labels.end(), id) != labels.end())
          return std::string("label '") + c + "' repeated within one term (diagonals are not supported)";
        labels.push_back(id);
      } else {
        return std::string("character '") + c + "' (expected letters, \"...\", ',' and \"->\")";
      }
    }
    return "";
  };
  size_t start = 0;
  for (;;) {
    const size_t comma = lhs.find(',', start);
    t.in.emplace_back();
    const std::string err = term(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start),
                                 t.in.back());
    if (!err.empty()) return err;
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (t.in.size() > 2) return std::to_string(t.in.size()) + " operands (at most 2 are supported)";
  if (arrow != std::string::npos) {
    t.has_out = true;
    const std::string rhs = eq.substr(arrow + 2);
    if (rhs.find("->") != std::string::npos || rhs.find(',') != std::string::npos) return "a malformed output term";
    const std::string err = term(rhs, t.out);
    if (!err.empty()) return err;
    for (int id : t.out) {
      if (id == kEllipsis) continue;
      bool found = false;
      for (const auto& in : t.in) found = found || std::find(in.begin(), in.end(), id) != in.end();
      if (!found) return std::string("output label '") + label_char(id) + "' appears in no input";
    }
  }
  return "";
}

void parse_einsum(const OnnxNode& on, Node& n) {
  if (!on.has("equation")) on.fail("missing required attribute 'equation'");
  std::string eq;
  for (char c : on.get_string("equation", "")) if (c != ' ') eq += c;
  EinsumTerms t;
  std::string err = parse_terms(eq, t);
  if (err.empty() && static_cast<int>(t.in.size()) != on.proto().input_size())
    err = "it has " + std::to_string(t.in.size()) + " operand(s) but the node has " +
          std::to_string(on.proto().input_size()) + " input(s)";
  if (!err.empty()) on.fail("equation \"" + on.get_string("equation", "") + "\" is not supported: " + err);
  n.equation = eq;
}

// The equation resolved for concrete input shapes: each operand's label per
// dim, the output labels, and each label's size.
struct Einsum {
  std::vector<std::vector<int>> in;
  std::vector<int> out;
  std::vector<int64_t> size;  // by label id; -1 unused
};

// "" or an error.
std::string resolve(const std::string& eq, const std::vector<const Shape*>& shapes, Einsum& e) {
  EinsumTerms t;
  std::string err = parse_terms(eq, t);
  if (!err.empty()) return err;
  if (t.in.size() != shapes.size())
    return "it has " + std::to_string(t.in.size()) + " operands for " + std::to_string(shapes.size()) + " inputs";
  int64_t ell = 0;  // dims the ellipsis stands for (the most of any operand)
  std::vector<int64_t> ell_of(t.in.size(), 0);
  for (size_t k = 0; k < t.in.size(); ++k) {
    const int64_t letters = static_cast<int64_t>(
        std::count_if(t.in[k].begin(), t.in[k].end(), [](int id) { return id != kEllipsis; }));
    const bool has_ell = letters != static_cast<int64_t>(t.in[k].size());
    const int64_t rank = static_cast<int64_t>(shapes[k]->size());
    if (has_ell ? rank < letters : rank != letters)
      return "operand " + std::to_string(k) + " has shape " + shape_str(*shapes[k]) + ", which does not match its " +
             std::to_string(letters) + " label(s)";
    ell_of[k] = rank - letters;
    ell = std::max(ell, ell_of[k]);
  }
  e = Einsum{};
  e.size.assign(static_cast<size_t>(kFirstBroadcast + ell), -1);
  std::vector<int> count(e.size.size(), 0);
  for (size_t k = 0; k < t.in.size(); ++k) {
    std::vector<int>& labels = e.in.emplace_back();
    for (int id : t.in[k]) {
      if (id != kEllipsis) {
        labels.push_back(id);
        continue;
      }
      for (int64_t p = ell - ell_of[k]; p < ell; ++p) labels.push_back(kFirstBroadcast + static_cast<int>(p));
    }
    for (size_t d = 0; d < labels.size(); ++d) {
      const int id = labels[d];
      const int64_t s = (*shapes[k])[d];
      int64_t& cur = e.size[static_cast<size_t>(id)];
      ++count[static_cast<size_t>(id)];
      if (cur < 0 || cur == s) cur = s;
      else if (id >= kFirstBroadcast && (cur == 1 || s == 1)) cur = std::max(cur, s);  // "..." dims broadcast
      else
        return "dimension of size " + std::to_string(s) + " for label " +
               (id < kFirstBroadcast ? std::string("'") + label_char(id) + "'" : std::string("in \"...\"")) +
               " of operand " + std::to_string(k) + " differs from " + std::to_string(cur);
    }
  }
  if (t.has_out) {
    for (int id : t.out)
      if (id == kEllipsis)
        for (int64_t p = 0; p < ell; ++p) e.out.push_back(kFirstBroadcast + static_cast<int>(p));
      else
        e.out.push_back(id);
  } else {  // implicit: "..." dims, then the letters used once, in alphabetical order
    for (int64_t p = 0; p < ell; ++p) e.out.push_back(kFirstBroadcast + static_cast<int>(p));
    for (int id = 0; id < kFirstBroadcast; ++id)
      if (count[static_cast<size_t>(id)] == 1) e.out.push_back(id);
  }
  return "";
}

void infer_einsum(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  for (size_t k = 0; k < a.count(); ++k) a.want_type(k, DType::f32);
  std::vector<const Shape*> shapes;
  for (size_t k = 0; k < a.count(); ++k) shapes.push_back(&a.shape(k));
  Einsum e;
  const std::string err = resolve(a.node.equation, shapes, e);
  if (!err.empty()) a.fail("equation \"" + a.node.equation + "\": " + err);
  Shape s;
  for (int id : e.out) s.push_back(e.size[static_cast<size_t>(id)]);
  out[0] = {DType::f32, s};
}

// Element strides of an operand by label id (0 for labels it lacks, and for
// a dim of 1 broadcast to a larger size).
std::vector<int64_t> label_strides(const std::vector<int>& labels, const Shape& shape, size_t nlabels) {
  std::vector<int64_t> st(nlabels, 0);
  int64_t s = 1;
  for (size_t d = labels.size(); d-- > 0;) {
    if (shape[d] != 1) st[static_cast<size_t>(labels[d])] = s;
    s *= shape[d];
  }
  return st;
}

// y (contiguous, dims = the `keep` labels' sizes) = sum over the `sum`
// labels, in row-major order, of x at the labels' strides. No sum labels: a
// strided copy.
void gather_sum(const float* x, const std::vector<int>& keep, const std::vector<int>& sum,
                const std::vector<int64_t>& stride, const std::vector<int64_t>& size, float* y, int threads) {
  std::vector<int64_t> soff{0};
  for (int id : sum) {
    std::vector<int64_t> next;
    for (int64_t b : soff)
      for (int64_t j = 0; j < size[static_cast<size_t>(id)]; ++j) next.push_back(b + j * stride[static_cast<size_t>(id)]);
    soff.swap(next);
  }
  int64_t total = 1;
  for (int id : keep) total *= size[static_cast<size_t>(id)];
  if (total == 0) return;
  const int64_t inner = keep.empty() ? 1 : size[static_cast<size_t>(keep.back())];
  const int64_t istride = keep.empty() ? 0 : stride[static_cast<size_t>(keep.back())];
  const int64_t rows = total / inner;
  const bool summing = !sum.empty();
  const int64_t work = total * static_cast<int64_t>(soff.size());
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && work > 16384 && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t rem = r, off = 0;
    for (size_t q = keep.size() - (keep.empty() ? 0 : 1); q-- > 0;) {
      const size_t id = static_cast<size_t>(keep[q]);
      off += (rem % size[id]) * stride[id];
      rem /= size[id];
    }
    float* yr = y + r * inner;
    for (int64_t j = 0; j < inner; ++j) {
      const float* xe = x + off + j * istride;
      if (!summing) {
        yr[j] = *xe;
        continue;
      }
      double acc = 0.0;
      for (int64_t o : soff) acc += xe[o];
      yr[j] = static_cast<float>(acc);
    }
  }
}

bool contains(const std::vector<int>& v, int id) { return std::find(v.begin(), v.end(), id) != v.end(); }

void cpu_einsum(const KernelArgs& k) {
  std::vector<const Shape*> shapes;
  for (const In& in : k.in) shapes.push_back(in.shape);
  Einsum e;
  const std::string err = resolve(k.node.equation, shapes, e);
  MGI_ASSERT(err.empty(), err);
  const size_t nl = e.size.size();
  const int threads = k.opt.threads;
  float* y = k.out[0].as<float>();
  if (k.out[0].numel() == 0) return;

  if (k.in.size() == 1) {  // transpose and/or sum
    std::vector<int> sum;
    for (int id : e.in[0])
      if (!contains(e.out, id)) sum.push_back(id);
    gather_sum(k.in[0].as<float>(), e.out, sum, label_strides(e.in[0], *shapes[0], nl), e.size, y, threads);
    return;
  }

  // Roles: batch (both operands and the output), contracted (both, not the
  // output), m / n (one operand and the output), summed alone (one operand only).
  const std::vector<int>&A = e.in[0], &B = e.in[1];
  std::vector<int> lb, lk, lm, ln, sa, sb;
  for (int id : A) {
    const bool inb = contains(B, id), ino = contains(e.out, id);
    (inb ? (ino ? lb : lk) : (ino ? lm : sa)).push_back(id);
  }
  for (int id : B)
    if (!contains(A, id)) (contains(e.out, id) ? ln : sb).push_back(id);
  auto extent = [&](const std::vector<int>& ls) {
    int64_t p = 1;
    for (int id : ls) p *= e.size[static_cast<size_t>(id)];
    return p;
  };
  const int64_t batch = extent(lb), m = extent(lm), n = extent(ln), kk = extent(lk);

  // A as [batch, m, k], B as [batch, k, n] (copied unless already in that layout).
  std::vector<float> at, bt;
  auto arrange = [&](const In& in, const std::vector<int>& labels, const std::vector<int>& order,
                     const std::vector<int>& sum, std::vector<float>& buf) -> const float* {
    if (sum.empty() && order == labels && shape_numel(*in.shape) == extent(order)) return in.as<float>();
    buf.assign(static_cast<size_t>(extent(order)), 0.0f);
    gather_sum(in.as<float>(), order, sum, label_strides(labels, *in.shape, nl), e.size, buf.data(), threads);
    return buf.data();
  };
  std::vector<int> oa = lb, ob = lb;
  oa.insert(oa.end(), lm.begin(), lm.end());
  oa.insert(oa.end(), lk.begin(), lk.end());
  ob.insert(ob.end(), lk.begin(), lk.end());
  ob.insert(ob.end(), ln.begin(), ln.end());
  const float* pa = arrange(k.in[0], A, oa, sa, at);
  const float* pb = arrange(k.in[1], B, ob, sb, bt);

  // C = [batch, m, n], in the output's buffer when that is its layout.
  std::vector<int> oc = lb;
  oc.insert(oc.end(), lm.begin(), lm.end());
  oc.insert(oc.end(), ln.begin(), ln.end());
  std::vector<float> ct;
  float* pc = y;
  if (oc != e.out) {
    ct.assign(static_cast<size_t>(batch * m * n), 0.0f);
    pc = ct.data();
  }
  if (kk == 0) {
    std::fill(pc, pc + batch * m * n, 0.0f);
  } else if (m > 0 && n > 0) {
    const bool outer = batch >= threads;
    const int inner_threads = outer ? 1 : threads;
#pragma omp parallel for num_threads(threads) schedule(static) if (outer && threads > 1 && batch > 1)
    for (int64_t t = 0; t < batch; ++t) {
      thread_local cpu::PackedB packed;
      cpu::pack_b(pb + t * kk * n, false, kk, n, packed);
      cpu::gemm_packed(m, n, kk, 1.0f, pa + t * m * kk, kk, packed, pc + t * m * n, n, cpu::GemmEpilogue{},
                       inner_threads);
    }
  }
  if (pc != y) {
    std::vector<int64_t> st(nl, 0);
    int64_t s = 1;
    for (size_t d = oc.size(); d-- > 0;) {
      st[static_cast<size_t>(oc[d])] = s;
      s *= e.size[static_cast<size_t>(oc[d])];
    }
    gather_sum(pc, e.out, {}, st, e.size, y, threads);
  }
}

}  // namespace

void register_einsum_ops(OpRegistry& r) {
  OpDef d;
  d.name = "Einsum";
  d.since = 12;
  d.max_inputs = 2;
  d.parse = parse_einsum;
  d.infer = infer_einsum;
  d.cpu = cpu_einsum;
  d.types = "float32";
  d.notes = "One or two operands; \"...\" (broadcast), implicit output. Two operands run as a batched GEMM. "
            "Refused: three or more operands, a label repeated within an operand (diagonals).";
  r.add(d);
}

}  // namespace mgi
