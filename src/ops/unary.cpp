// Unary elementwise ops: Relu, LeakyRelu, Sigmoid, Tanh, Erf, Gelu (ai.onnx
// and com.microsoft), Exp, Log, Sqrt, Neg, Abs; the activations Elu, Selu,
// Celu, HardSigmoid, HardSwish, Softplus, Softsign, Mish; Reciprocal, Floor,
// Ceil, Round, Sign, Sin, Cos. Each output element depends on
// its input only, so OpenMP over elements keeps results bitwise independent of
// threads and batch size. A node applies its own function, then each step of
// its epilogue (a fused chain), in one pass over cache-sized blocks.
#include "unary.hpp"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "error.hpp"
#include "onnx_attrs.hpp"
#include "op_registry.hpp"

namespace mgi {

namespace {

constexpr int64_t kParallelMin = 16384;  // below this, threads cost more than they save

template <class F>
void each(int64_t count, const float* x, float* y, F f) {
  for (int64_t i = 0; i < count; ++i) y[i] = f(x[i]);
}

// tanh as a rational approximation in x^2 (degree 13/6), the form vectorizing
// math libraries use: libm's tanhf is a scalar call and took half the time of
// the shipped ragged model. Within 4.2e-7 relative error of tanh over all floats
// (libm: 1.7e-7); NaN stays NaN, +-inf gives +-1. Plain float ops with no
// branches, so the loop vectorizes and every element gets the same bits
// whichever lane or remainder loop computes it.
float tanh_rational(float x) {
  constexpr float kClamp = 7.90531110763549805f;  // beyond it the result rounds to +-1
  const float c = x > kClamp ? kClamp : (x < -kClamp ? -kClamp : x);
  const float x2 = c * c;
  float p = -2.76076847742355e-16f;
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 - 8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  p = p * c;
  float q = 1.19825839466702e-06f;
  q = q * x2 + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  const float r = p / q;
  return std::fabs(x) < 0.0004f ? x : r;  // tiny x: tanh(x) == x in float
}

float gelu_exact(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f)); }
float gelu_tanh(float x) {
  return 0.5f * x * (1.0f + std::tanh(0.79788456080286536f * (x + 0.044715f * x * x * x)));
}

// The activations with attributes, as the ONNX spec writes them (expm1 for
// e^x - 1, which is the same function, exact near 0). Each is a fixed sequence
// of float operations on one element.
float elu(float v, float al) { return v < 0.0f ? al * std::expm1(v) : v; }
float selu(float v, float al, float ga) { return v > 0.0f ? ga * v : ga * (al * std::expm1(v)); }
// max(0, x) + min(0, alpha * (exp(x / alpha) - 1)): the min term is 0 for x > 0 whatever alpha's sign.
float celu(float v, float al) { return v > 0.0f ? v : al * std::expm1(v / al); }
// max(0, min(1, alpha * x + beta)); NaN stays NaN.
float hard_sigmoid(float v, float al, float be) {
  const float t = al * v + be;
  return t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t);
}
// x * HardSigmoid(x) with alpha = 1/6, beta = 0.5 (the spec's definition).
float hard_swish(float v) { return v * hard_sigmoid(v, 1.0f / 6.0f, 0.5f); }
// ln(1 + e^x) without overflow: x + ln(1 + e^-x) for x > 0.
float softplus(float v) { return v > 0.0f ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v)); }
float softsign(float v) { return v / (1.0f + std::fabs(v)); }
float mish(float v) { return v * std::tanh(softplus(v)); }
// 1, -1 or the input itself for +-0 and NaN.
float sign(float v) { return v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : v); }

// Neg and Abs of int32/int64 (shape arithmetic), wrapping like two's complement
// (-INT_MIN == INT_MIN) instead of overflowing.
template <class T>
void int_neg_abs(bool abs, int64_t count, const T* x, T* y) {
  using U = std::make_unsigned_t<T>;
  for (int64_t i = 0; i < count; ++i) {
    const T neg = static_cast<T>(U{0} - static_cast<U>(x[i]));
    y[i] = abs && x[i] >= 0 ? x[i] : neg;
  }
}

bool takes_ints(UnaryFn fn) { return fn == UnaryFn::neg || fn == UnaryFn::abs; }

void unary_kernel(const KernelArgs& a) {
  const Node& n = a.node;
  const int64_t count = a.out[0].numel();
  if (a.in[0].dtype != DType::f32) {
    MGI_ASSERT(takes_ints(n.unary) && n.epilogue.empty(), "unary kernel: integer input");
    const bool abs = n.unary == UnaryFn::abs;
    if (a.in[0].dtype == DType::i64) return int_neg_abs(abs, count, a.in[0].as<int64_t>(), a.out[0].as<int64_t>());
    MGI_ASSERT(a.in[0].dtype == DType::i32, "unary kernel: unsupported type");
    return int_neg_abs(abs, count, a.in[0].as<int32_t>(), a.out[0].as<int32_t>());
  }
  const float* x = a.in[0].as<float>();
  float* y = a.out[0].as<float>();
  const int threads = a.opt.threads;
  const UnaryStep first = unary_step(n);
  // Blocks small enough to stay in L1 between the steps of a chain.
  constexpr int64_t kBlockElems = 4096;
  const int64_t blocks = (count + kBlockElems - 1) / kBlockElems;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && count > kParallelMin)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t lo = b * kBlockElems, len = std::min(kBlockElems, count - lo);
    cpu::apply_unary(first, x + lo, y + lo, len);
    for (const UnaryStep& s : n.epilogue) cpu::apply_unary(s, y + lo, y + lo, len);
  }
}

void infer_unary(const InferArgs& a, std::vector<OutInfo>& out) {
  const Shape& x = a.shape(0);
  const DType t = a.type(0);
  const bool ints = takes_ints(a.node.unary) && a.node.epilogue.empty();
  if (t != DType::f32 && !(ints && (t == DType::i64 || t == DType::i32)))
    a.fail(std::string("input 0 has type ") + dtype_name(t) + "; expected float32" +
           (ints ? ", int32 or int64" : ""));
  out[0].dtype = t;
  out[0].shape = x;
}

template <UnaryFn F>
void parse_plain(const OnnxNode&, Node& n) {
  n.unary = F;
}

void parse_leaky_relu(const OnnxNode& on, Node& n) {
  n.unary = UnaryFn::leaky_relu;
  n.alpha = on.get_float("alpha", 0.01f);
}

void parse_gelu(const OnnxNode& on, Node& n) {
  n.unary = UnaryFn::gelu;
  const std::string a = on.get_string("approximate", "none");
  if (a != "none" && a != "tanh") on.fail("attribute 'approximate' must be 'none' or 'tanh', not '" + a + "'");
  n.gelu_tanh = a == "tanh";
}

void parse_elu(const OnnxNode& on, Node& n) {
  n.unary = UnaryFn::elu;
  n.alpha = on.get_float("alpha", 1.0f);
}

void parse_selu(const OnnxNode& on, Node& n) {
  n.unary = UnaryFn::selu;
  n.alpha = on.get_float("alpha", 1.67326319217681884765625f);
  n.beta = on.get_float("gamma", 1.05070102214813232421875f);  // UnaryStep::beta carries gamma
}

void parse_celu(const OnnxNode& on, Node& n) {
  n.unary = UnaryFn::celu;
  n.alpha = on.get_float("alpha", 1.0f);
  if (n.alpha == 0.0f || !std::isfinite(n.alpha)) on.fail("attribute 'alpha' must be finite and non-zero");
}

void parse_hard_sigmoid(const OnnxNode& on, Node& n) {
  n.unary = UnaryFn::hard_sigmoid;
  n.alpha = on.get_float("alpha", 0.2f);
  n.beta = on.get_float("beta", 0.5f);
}

void add_unary(OpRegistry& r, const char* name, ParseFn parse, int since = 1, const char* domain = "",
               bool ints = false, const char* notes = "") {
  OpDef d;
  d.domain = domain;
  d.name = name;
  d.since = since;
  d.min_inputs = d.max_inputs = 1;
  d.parse = parse;
  d.infer = infer_unary;
  d.cpu = unary_kernel;
  d.types = ints ? "T: float32, int32, int64" : "float32";
  d.notes = notes;
  r.add(std::move(d));
}

}  // namespace

const char* unary_fn_name(UnaryFn fn) {
  switch (fn) {
    case UnaryFn::relu: return "Relu";
    case UnaryFn::leaky_relu: return "LeakyRelu";
    case UnaryFn::sigmoid: return "Sigmoid";
    case UnaryFn::tanh: return "Tanh";
    case UnaryFn::erf: return "Erf";
    case UnaryFn::gelu: return "Gelu";
    case UnaryFn::exp: return "Exp";
    case UnaryFn::log: return "Log";
    case UnaryFn::sqrt: return "Sqrt";
    case UnaryFn::neg: return "Neg";
    case UnaryFn::abs: return "Abs";
    case UnaryFn::elu: return "Elu";
    case UnaryFn::selu: return "Selu";
    case UnaryFn::celu: return "Celu";
    case UnaryFn::hard_sigmoid: return "HardSigmoid";
    case UnaryFn::hard_swish: return "HardSwish";
    case UnaryFn::softplus: return "Softplus";
    case UnaryFn::softsign: return "Softsign";
    case UnaryFn::mish: return "Mish";
    case UnaryFn::reciprocal: return "Reciprocal";
    case UnaryFn::floor: return "Floor";
    case UnaryFn::ceil: return "Ceil";
    case UnaryFn::round: return "Round";
    case UnaryFn::sign: return "Sign";
    case UnaryFn::sin: return "Sin";
    case UnaryFn::cos: return "Cos";
  }
  return "?";
}

bool is_unary_node(const Node& n) { return n.def && n.def->cpu == unary_kernel; }

namespace cpu {

void apply_unary(const UnaryStep& s, const float* x, float* y, int64_t count) {
  switch (s.fn) {
    case UnaryFn::relu: return each(count, x, y, [](float v) { return v > 0.0f ? v : 0.0f; });
    case UnaryFn::leaky_relu: {
      const float al = s.alpha;
      return each(count, x, y, [al](float v) { return v >= 0.0f ? v : al * v; });
    }
    case UnaryFn::sigmoid: return each(count, x, y, [](float v) { return 1.0f / (1.0f + std::exp(-v)); });
    case UnaryFn::tanh: return each(count, x, y, tanh_rational);
    case UnaryFn::erf: return each(count, x, y, [](float v) { return std::erf(v); });
    case UnaryFn::gelu:
      if (s.gelu_tanh) return each(count, x, y, gelu_tanh);
      return each(count, x, y, gelu_exact);
    case UnaryFn::exp: return each(count, x, y, [](float v) { return std::exp(v); });
    case UnaryFn::log: return each(count, x, y, [](float v) { return std::log(v); });
    case UnaryFn::sqrt: return each(count, x, y, [](float v) { return std::sqrt(v); });
    case UnaryFn::neg: return each(count, x, y, [](float v) { return -v; });
    case UnaryFn::abs: return each(count, x, y, [](float v) { return std::fabs(v); });
    case UnaryFn::elu: {
      const float al = s.alpha;
      return each(count, x, y, [al](float v) { return elu(v, al); });
    }
    case UnaryFn::selu: {
      const float al = s.alpha, ga = s.beta;
      return each(count, x, y, [al, ga](float v) { return selu(v, al, ga); });
    }
    case UnaryFn::celu: {
      const float al = s.alpha;
      return each(count, x, y, [al](float v) { return celu(v, al); });
    }
    case UnaryFn::hard_sigmoid: {
      const float al = s.alpha, be = s.beta;
      return each(count, x, y, [al, be](float v) { return hard_sigmoid(v, al, be); });
    }
    case UnaryFn::hard_swish: return each(count, x, y, hard_swish);
    case UnaryFn::softplus: return each(count, x, y, softplus);
    case UnaryFn::softsign: return each(count, x, y, softsign);
    case UnaryFn::mish: return each(count, x, y, mish);
    case UnaryFn::reciprocal: return each(count, x, y, [](float v) { return 1.0f / v; });
    case UnaryFn::floor: return each(count, x, y, [](float v) { return std::floor(v); });
    case UnaryFn::ceil: return each(count, x, y, [](float v) { return std::ceil(v); });
    // Half to even under the default rounding mode (the tool never changes it).
    case UnaryFn::round: return each(count, x, y, [](float v) { return std::nearbyint(v); });
    case UnaryFn::sign: return each(count, x, y, sign);
    case UnaryFn::sin: return each(count, x, y, [](float v) { return std::sin(v); });
    case UnaryFn::cos: return each(count, x, y, [](float v) { return std::cos(v); });
  }
  MGI_ASSERT(false, "apply_unary: unknown function");
}

}  // namespace cpu

void register_unary_ops(OpRegistry& r) {
  add_unary(r, "Relu", parse_plain<UnaryFn::relu>);
  add_unary(r, "LeakyRelu", parse_leaky_relu);
  add_unary(r, "Sigmoid", parse_plain<UnaryFn::sigmoid>);
  add_unary(r, "Tanh", parse_plain<UnaryFn::tanh>, 1, "", false,
            "rational approximation, within 4.2e-7 relative error of tanh");
  add_unary(r, "Erf", parse_plain<UnaryFn::erf>);
  add_unary(r, "Gelu", parse_gelu, 20);
  add_unary(r, "Gelu", parse_gelu, 1, "com.microsoft", false, "approximate='none' (exact erf form)");
  add_unary(r, "Exp", parse_plain<UnaryFn::exp>);
  add_unary(r, "Log", parse_plain<UnaryFn::log>);
  add_unary(r, "Sqrt", parse_plain<UnaryFn::sqrt>);
  add_unary(r, "Neg", parse_plain<UnaryFn::neg>, 1, "", true, "integers wrap on overflow");
  add_unary(r, "Abs", parse_plain<UnaryFn::abs>, 1, "", true, "integers wrap on overflow");
  // Opsets 1-5 of Elu/Selu/HardSigmoid/Reciprocal/Floor/Ceil carried consumed_inputs: not covered.
  add_unary(r, "Elu", parse_elu, 6);
  add_unary(r, "Selu", parse_selu, 6);
  add_unary(r, "Celu", parse_celu, 12, "", false, "alpha = 0 refused");
  add_unary(r, "HardSigmoid", parse_hard_sigmoid, 6);
  add_unary(r, "HardSwish", parse_plain<UnaryFn::hard_swish>, 14);
  add_unary(r, "Softplus", parse_plain<UnaryFn::softplus>, 1, "", false, "x + log1p(exp(-x)) for x > 0 (no overflow)");
  add_unary(r, "Softsign", parse_plain<UnaryFn::softsign>);
  add_unary(r, "Mish", parse_plain<UnaryFn::mish>, 18);
  add_unary(r, "Reciprocal", parse_plain<UnaryFn::reciprocal>, 6);
  add_unary(r, "Floor", parse_plain<UnaryFn::floor>, 6);
  add_unary(r, "Ceil", parse_plain<UnaryFn::ceil>, 6);
  add_unary(r, "Round", parse_plain<UnaryFn::round>, 11, "", false, "halves to even");
  add_unary(r, "Sign", parse_plain<UnaryFn::sign>, 9, "", false, "float32 only; Sign(+-0) = +-0, NaN stays NaN");
  add_unary(r, "Sin", parse_plain<UnaryFn::sin>, 7);
  add_unary(r, "Cos", parse_plain<UnaryFn::cos>, 7);
}

}  // namespace mgi
