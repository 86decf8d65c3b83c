// mgi_conformance: ONNX's node conformance tests (Debian's libonnx-testdata)
// through the op registry and a backend. docs/CONFORMANCE.md tells how it
// works and how to regenerate tests/conformance/expected_pass.txt:
//
//   build/mgi_conformance --write-expected tests/conformance/expected_pass.txt
//
// Each case runs in a child process (a crash or a hang is that case's FAIL).
// Exit: 0 done (no expected case regressed); 1 an expected case did not pass;
// 2 usage; 77 the suite is not installed (ctest: SKIPPED).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>

#include "conformance.hpp"
#include "error.hpp"

namespace fs = std::filesystem;
using namespace mgi;
using namespace mgi::conformance;

namespace {

constexpr int kExitRegression = 1, kExitUsage = 2, kExitSkipped = 77;
const char* kDefaultData = "/usr/share/libonnx-testdata/data/node";

struct Options {
  std::string data, backend = "cpu", expected, write_expected, filter;
  bool quiet = false, verbose = false, fork = true;
  int timeout_s = 60;
};

std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

// run_case in a child process: a crash or a hang (timeout_s) fails that case only.
Outcome run_isolated(const fs::path& dir, const Options& o) {
  if (!o.fork) return run_case(dir.string(), o.backend);
  std::fflush(stdout);
  std::fflush(stderr);
  int fds[2];
  if (pipe(fds) != 0) return fail("error", "runner: pipe() failed");
  const pid_t pid = fork();
  if (pid < 0) return fail("error", "runner: fork() failed");
  if (pid == 0) {
    close(fds[0]);
    alarm(static_cast<unsigned>(o.timeout_s));
    Outcome r;
    try {
      r = run_case(dir.string(), o.backend);
    } catch (const std::exception& e) {
      r = fail("error", std::string("runner: ") + e.what());
    }
    const std::string msg = std::string(1, static_cast<char>(r.status)) + "\n" + one_line(r.kind) + "\n" +
                            one_line(r.path) + "\n" + one_line(r.detail);
    size_t done = 0;
    while (done < msg.size()) {
      const ssize_t w = write(fds[1], msg.data() + done, msg.size() - done);
      if (w <= 0) break;
      done += static_cast<size_t>(w);
    }
    _exit(0);
  }
  close(fds[1]);
  std::string msg;
  char buf[4096];
  for (ssize_t r; (r = read(fds[0], buf, sizeof buf)) > 0;) msg.append(buf, static_cast<size_t>(r));
  close(fds[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  if (WIFSIGNALED(st)) {
    const int sig = WTERMSIG(st);
    if (sig == SIGALRM) return fail("crash", "timed out after " + std::to_string(o.timeout_s) + " s");
    return fail("crash", "signal " + std::to_string(sig) + " (" + strsignal(sig) + ")");
  }
  std::vector<std::string> f;
  for (size_t a = 0, b; f.size() < 3 && (b = msg.find('\n', a)) != std::string::npos; a = b + 1)
    f.push_back(msg.substr(a, b - a));
  if (f.size() < 3 || f[0].size() != 1) return fail("crash", "the case's process exited without a result");
  size_t rest = 0;
  for (const std::string& x : f) rest += x.size() + 1;
  return {static_cast<Status>(f[0][0]), f[1], f[2], msg.substr(rest)};
}

std::set<std::string> read_expected(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw ConfigError("cannot read the expected-pass list " + path);
  std::set<std::string> names;
  for (std::string line; std::getline(f, line);) {
    line.erase(0, line.find_first_not_of(" \t"));
    line.erase(line.find_last_not_of(" \t\r") + 1);
    if (!line.empty() && line[0] != '#') names.insert(line);
  }
  return names;
}

void usage(std::ostream& os) {
  os << "usage: mgi_conformance [--data DIR] [--backend cpu|cuda] [--expected FILE] [--write-expected FILE]\n"
        "                       [--filter REGEX] [--quiet | --verbose] [--no-fork] [--timeout SECONDS]\n"
        "  --data DIR            ONNX node tests (default $MGI_ONNX_TESTDATA, else " << kDefaultData << ")\n"
        "  --backend cpu|cuda    cpu: every case on host tensors by the CPU kernels, and through the CPU\n"
        "                        backend where it fits the batch contract; cuda: the CUDA backend only\n"
        "  --expected FILE       exit 1 if a case listed there does not pass; list passes not in it\n"
        "  --write-expected FILE write the passing cases there (the whole suite; no --filter)\n"
        "  --filter REGEX        only the cases whose name matches\n"
        "  --quiet               print only failures, regressions and the summary\n"
        "  --verbose             also the notes of passing cases (why the backend path was not taken)\n"
        "  --no-fork             run the cases in this process (debugging; a crash ends the run)\n"
        "  --timeout SECONDS     per case (default 60)\n";
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (const char* d = std::getenv("MGI_ONNX_TESTDATA")) o.data = d;
  if (o.data.empty()) o.data = kDefaultData;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "mgi_conformance: " << a << " needs a value\n";
        std::exit(kExitUsage);
      }
      return argv[++i];
    };
    if (a == "--data") o.data = value();
    else if (a == "--backend") o.backend = value();
    else if (a == "--expected") o.expected = value();
    else if (a == "--write-expected") o.write_expected = value();
    else if (a == "--filter") o.filter = value();
    else if (a == "--quiet") o.quiet = true;
    else if (a == "--verbose") o.verbose = true;
    else if (a == "--no-fork") o.fork = false;
    else if (a == "--timeout") o.timeout_s = std::max(1, std::atoi(value().c_str()));
    else if (a == "-h" || a == "--help") {
      usage(std::cout);
      return 0;
    } else {
      std::cerr << "mgi_conformance: unknown argument '" << a << "'\n";
      usage(std::cerr);
      return kExitUsage;
    }
  }
  if (o.backend != "cpu" && o.backend != "cuda") {
    std::cerr << "mgi_conformance: --backend must be cpu or cuda, got '" << o.backend << "'\n";
    return kExitUsage;
  }
  if (!o.write_expected.empty() && !o.filter.empty()) {
    std::cerr << "mgi_conformance: --write-expected writes the whole suite's passes; drop --filter\n";
    return kExitUsage;
  }
  if (o.backend == "cuda") {
    if (!cuda_compiled()) {
      std::cerr << "mgi_conformance: --backend cuda, but this build has no CUDA backend\n";
      return kExitUsage;
    }
    if (cuda_device_count() == 0) {
      std::cout << "SKIPPED: --backend cuda and no CUDA device is visible\n";
      return kExitSkipped;
    }
  }
  std::error_code ec;
  if (!fs::is_directory(o.data, ec)) {
    std::cout << "SKIPPED: the ONNX conformance suite is not installed (no folder " << o.data
              << "); apt-get install libonnx-testdata, or pass --data / set MGI_ONNX_TESTDATA\n";
    return kExitSkipped;
  }
  std::set<std::string> expected;
  try {
    if (!o.expected.empty()) expected = read_expected(o.expected);
  } catch (const std::exception& e) {
    std::cerr << "mgi_conformance: " << e.what() << "\n";
    return kExitUsage;
  }
  std::regex filter;
  try {
    if (!o.filter.empty()) filter = std::regex(o.filter);
  } catch (const std::regex_error& e) {
    std::cerr << "mgi_conformance: bad --filter: " << e.what() << "\n";
    return kExitUsage;
  }

  std::vector<fs::path> cases;
  for (const auto& e : fs::directory_iterator(o.data))
    if (e.is_directory() && fs::exists(e.path() / "model.onnx")) {
      const std::string n = e.path().filename().string();
      if (o.filter.empty() || std::regex_search(n, filter)) cases.push_back(e.path());
    }
  std::sort(cases.begin(), cases.end());
  if (cases.empty()) {
    std::cout << "SKIPPED: no test_*/model.onnx under " << o.data << (o.filter.empty() ? "" : " matching --filter")
              << "\n";
    return kExitSkipped;
  }

  std::map<std::string, Outcome> results;
  int passed = 0, failed = 0, skipped = 0;
  std::map<std::string, int> fail_kinds, skip_kinds, missing_ops;
  for (const fs::path& dir : cases) {
    const std::string name = dir.filename().string();
    const Outcome r = run_isolated(dir, o);
    results[name] = r;
    if (r.status == Status::pass) {
      ++passed;
      if (!o.quiet) std::cout << "PASS " << name << " [" << r.path << "]" << (o.verbose && !r.detail.empty() ? " " + r.detail : "") << "\n";
    } else if (r.status == Status::fail) {
      ++failed;
      ++fail_kinds[r.kind];
      std::cout << "FAIL " << name << ": " << r.detail << "\n";
    } else {
      ++skipped;
      ++skip_kinds[r.kind];
      if (r.kind == "unsupported op") {
        std::stringstream ops(r.detail.substr(r.detail.find(':') + 2));
        for (std::string op; std::getline(ops, op, ',');) ++missing_ops[op.substr(op.find_first_not_of(' '))];
      }
      if (!o.quiet) std::cout << "SKIP " << name << ": " << r.detail << "\n";
    }
  }

  auto kinds = [](const std::map<std::string, int>& m) {
    std::string s;
    for (const auto& [k, n] : m) s += (s.empty() ? "" : ", ") + k + " " + std::to_string(n);
    return s;
  };
  std::vector<std::pair<int, std::string>> ops;
  for (const auto& [op, n] : missing_ops) ops.emplace_back(-n, op);
  std::sort(ops.begin(), ops.end());
  std::string top;
  for (size_t k = 0; k < ops.size() && k < 25; ++k)
    top += (k ? ", " : "") + ops[k].second + " " + std::to_string(-ops[k].first);
  if (ops.size() > 25) top += ", ... (" + std::to_string(ops.size()) + " ops)";

  std::cout << "\nconformance (" << o.backend << " backend, " << o.data << "):\n"
            << "  passing " << passed << " / in scope " << passed + failed << " / total " << cases.size() << "\n"
            << "  failing " << failed << (failed ? " (" + kinds(fail_kinds) + ")" : "") << "\n"
            << "  skipped " << skipped << (skipped ? " (" + kinds(skip_kinds) + ")" : "") << "\n";
  if (!top.empty()) std::cout << "  missing ops by cases: " << top << "\n";

  int rc = 0;
  if (!o.expected.empty()) {
    std::vector<std::string> regressed, fresh;
    for (const std::string& n : expected) {
      if (!o.filter.empty() && !std::regex_search(n, filter)) continue;
      auto it = results.find(n);
      if (it == results.end()) regressed.push_back(n + ": not in the suite");
      else if (it->second.status != Status::pass) regressed.push_back(n + ": " + it->second.detail);
    }
    for (const auto& [n, r] : results)
      if (r.status == Status::pass && !expected.count(n)) fresh.push_back(n);
    for (const std::string& n : fresh) std::cout << "NEW PASS " << n << "\n";
    if (!fresh.empty())
      std::cout << fresh.size() << " case(s) pass but are not in " << o.expected
                << "; regenerate it: mgi_conformance --write-expected " << o.expected << "\n";
    for (const std::string& n : regressed) std::cout << "REGRESSION " << n << "\n";
    if (!regressed.empty()) {
      std::cout << regressed.size() << " case(s) of " << o.expected << " no longer pass\n";
      rc = kExitRegression;
    }
  }
  if (!o.write_expected.empty()) {
    std::ofstream f(o.write_expected);
    f << "# ONNX node conformance cases (libonnx-testdata) that pass on the " << o.backend
      << " backend; one per line.\n# Regenerate: build/mgi_conformance --write-expected " << o.write_expected
      << " (docs/CONFORMANCE.md)\n";
    for (const auto& [n, r] : results)
      if (r.status == Status::pass) f << n << "\n";
    if (!f) {
      std::cerr << "mgi_conformance: cannot write " << o.write_expected << "\n";
      return kExitUsage;
    }
    std::cout << "wrote " << passed << " passing case(s) to " << o.write_expected << "\n";
  }
  std::cout << "conformance: " << passed << " passed, " << failed << " failed, " << skipped << " skipped\n";
  return rc;
}
