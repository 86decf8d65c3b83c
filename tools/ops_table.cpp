// mgi-ops-table: prints docs/OPS.md, the supported-operator table, from the op
// registry (src/ops/op_registry.hpp) and the CUDA backend's kernel list
// (cuda_op_keys(), src/backend/cuda_module.hpp: the
// CUDA backend linked in), in the manner of onnxruntime's
// OperatorKernels.md. Regenerate after changing an op:
//
//     build/mgi-ops-table > docs/OPS.md
//
// in a build with CUDA (the CUDA column is empty in a CPU-only build). The test
// docs_ops_table_fresh compares its output with the file.
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cuda_module.hpp"
#include "op_registry.hpp"

namespace {

using Key = std::pair<std::string, std::string>;  // (domain, name); domain "" is ai.onnx

std::string domain_title(const std::string& d) { return d.empty() ? "ai.onnx" : d; }

// Markdown-safe table cell: one line, '|' escaped.
std::string cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  return out;
}

std::string opsets(const mgi::OpDef& d) {
  if (d.until == 0) return std::to_string(d.since) + "+";
  if (d.until == d.since) return std::to_string(d.since);
  return std::to_string(d.since) + "-" + std::to_string(d.until);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) {
    std::fprintf(stderr, "usage: %s > docs/OPS.md\n", argv[0]);
    return 2;
  }
  const std::vector<mgi::OpDef>& defs = mgi::OpRegistry::get().all();  // sorted by domain, name, since
  std::set<Key> cuda;
  for (const auto& k : mgi::cuda_op_keys()) cuda.insert({mgi::default_domain(k.first) ? "" : k.first, k.second});

  std::map<std::string, std::vector<const mgi::OpDef*>> by_domain;
  std::set<Key> ops, ops_cuda;
  for (const mgi::OpDef& d : defs) {
    by_domain[d.domain].push_back(&d);
    ops.insert({d.domain, d.name});
    if (cuda.count({d.domain, d.name})) ops_cuda.insert({d.domain, d.name});
  }
  for (const Key& k : cuda)
    if (!ops.count(k))
      std::fprintf(stderr, "mgi-ops-table: warning: CUDA kernel for %s.%s, which the registry lacks\n",
                   domain_title(k.first).c_str(), k.second.c_str());

  std::printf(
      "# Supported operators\n"
      "\n"
      "<!-- Generated file: do not edit. Regenerate with `build/mgi-ops-table > docs/OPS.md`. -->\n"
      "\n"
      "*This file is generated from the op registry (`src/ops/`, one entry per op and opset range) and the\n"
      "CUDA backend's kernel list by `tools/ops_table.cpp`; do not edit it by hand. After adding or changing\n"
      "an op, regenerate it in a build with CUDA (the CUDA column is empty without it):*\n"
      "\n"
      "    build/mgi-ops-table > docs/OPS.md\n"
      "\n"
      "*The test `docs_ops_table_fresh` fails while it is stale. How to add an op:\n"
      "[ADDING_AN_OP.md](ADDING_AN_OP.md).*\n"
      "\n"
      "**Opsets**: the opsets of the model's `ai.onnx` import an entry covers (`13+`: 13 and later); ops of\n"
      "other domains match any opset. **Types**: the element types the op takes (`T: ...` names the ONNX\n"
      "type constraint). **CPU**: the CPU backend, the reference; every op has a CPU kernel, which also\n"
      "folds constant sub-graphs at load time. **CUDA**: `yes`: the CUDA backend has a kernel for the op\n"
      "(or needs none: reshaping ops alias their input, shape-only ops run on the host); `host`: it runs\n"
      "the op's CPU kernel on the host between device copies (correct, slow, and named in the plan's\n"
      "device line; CUDA graphs stay off for such a model). An op not listed here stops a run\n"
      "before any work, with exit 4, naming the op and its node; `mgi-mpi inspect model.onnx` marks the\n"
      "ops of a model that are missing.\n");
  std::printf("\n%zu ops (%zu registry entries) in %zu domains: CPU %zu, CUDA kernels %zu (the rest run on the host under the CUDA backend).\n", ops.size(), defs.size(),
              by_domain.size(), ops.size(), ops_cuda.size());
  std::printf("\n");
  for (const auto& [domain, list] : by_domain) {
    std::set<std::string> names;
    for (const mgi::OpDef* d : list) names.insert(d->name);
    std::printf("- [%s](#%s) (%zu op%s)\n", domain_title(domain).c_str(), domain_title(domain).c_str(), names.size(),
                names.size() == 1 ? "" : "s");
  }
  // Anchors as GitHub makes them from the headings ("com.microsoft" -> "commicrosoft"): explicit ones instead.
  for (const auto& [domain, list] : by_domain) {
    const std::string title = domain_title(domain);
    std::printf("\n<a name=\"%s\"></a>\n\n## %s\n\n", title.c_str(), title.c_str());
    std::printf("| Op | Opsets | Types | CPU | CUDA | Notes |\n");
    std::printf("|---|---|---|---|---|---|\n");
    for (const mgi::OpDef* d : list)
      std::printf("| %s | %s | %s | yes | %s | %s |\n", cell(d->name).c_str(), opsets(*d).c_str(),
                  cell(d->types).c_str(), cuda.count({d->domain, d->name}) ? "yes" : "host", cell(d->notes).c_str());
  }
  return 0;
}
