#!/usr/bin/env python3
"""Checks the Spack recipe without Spack (which is not installed where the tests run).

Loads spack_repo/mgi/packages/mgi_mpi/package.py against small stand-ins for
spack.package and Spack's CMakePackage/CudaPackage that record the directives,
then checks what they declare and what cmake_args() returns for +cuda and ~cuda:
  - the dependencies the build needs, under the names Spack's builtin repository uses;
  - cuda_arch reaches the project's MGI_CUDA_ARCHITECTURES, +cuda/~cuda MGI_ENABLE_CUDA;
  - every MGI_* variable the recipe defines is one the project's CMake files read.
This is not Spack: concretization, fetching and the build itself are not checked.

usage: check_recipe.py [SOURCE_DIR]     exit 0 pass, 1 fail
"""
import contextlib
import pathlib
import re
import sys
import types

SRC = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2])
RECIPE = SRC / "packaging/spack/spack_repo/mgi/packages/mgi_mpi/package.py"

directives = []  # (kind, args, kwargs, enclosing when())
when_stack = []


def directive(kind):
    def record(*args, **kwargs):
        w = kwargs.get("when")
        if when_stack:
            w = " ".join(x for x in (when_stack[-1], w) if x)
        directives.append((kind, args, kwargs, w))
    return record


@contextlib.contextmanager
def when(spec):
    when_stack.append(spec)
    try:
        yield
    finally:
        when_stack.pop()


def define(var, value):  # as spack_repo.builtin.build_systems.cmake.define
    if isinstance(value, bool):
        return f"-D{var}:BOOL={'ON' if value else 'OFF'}"
    if isinstance(value, (list, tuple)):
        value = ";".join(str(v) for v in value)
    return f"-D{var}:STRING={value}"


class CMakePackage:
    def define(self, var, value):
        return define(var, value)


class CudaPackage:
    cuda_arch_values = ("35", "37", "50", "52", "60", "61", "70", "72", "75", "80", "86", "89", "90", "90a",
                        "100", "120")


pkg_api = types.ModuleType("spack.package")
for name in ("depends_on", "conflicts", "variant", "version", "license", "maintainers", "provides", "requires"):
    setattr(pkg_api, name, directive(name))
pkg_api.when = when
pkg_api.which = pkg_api.working_dir = pkg_api.ctest = lambda *a, **k: None
pkg_api.__all__ = [n for n in vars(pkg_api) if not n.startswith("_")]
spack_mod = types.ModuleType("spack")
spack_mod.package = pkg_api
cmake_mod = types.ModuleType("spack_repo.builtin.build_systems.cmake")
cmake_mod.CMakePackage = CMakePackage
cuda_mod = types.ModuleType("spack_repo.builtin.build_systems.cuda")
cuda_mod.CudaPackage = CudaPackage
for name, mod in {"spack": spack_mod, "spack.package": pkg_api, "spack_repo": types.ModuleType("spack_repo"),
                  "spack_repo.builtin": types.ModuleType("spack_repo.builtin"),
                  "spack_repo.builtin.build_systems": types.ModuleType("spack_repo.builtin.build_systems"),
                  "spack_repo.builtin.build_systems.cmake": cmake_mod,
                  "spack_repo.builtin.build_systems.cuda": cuda_mod}.items():
    sys.modules[name] = mod

ns = {"__name__": "spack_repo.mgi.packages.mgi_mpi.package"}
exec(compile(RECIPE.read_text(), str(RECIPE), "exec"), ns)
MgiMpi = ns["MgiMpi"]

failures = []


def check(cond, what):
    print(f"{'ok  ' if cond else 'FAIL'} {what}")
    if not cond:
        failures.append(what)


check(issubclass(MgiMpi, CMakePackage) and issubclass(MgiMpi, CudaPackage), "MgiMpi(CMakePackage, CudaPackage)")
deps = {(a[0], w) for k, a, kw, w in directives if k == "depends_on"}
dep_names = {re.split(r"[@+~ ]", d)[0] for d, _ in deps}
for need in ("mpi", "hdf5", "yaml-cpp", "protobuf", "onnx", "openssl", "nlohmann-json", "zlib-api", "cli11",
             "blas", "googletest", "cmake", "cuda"):
    check(need in dep_names, f"depends_on {need}")
check(("hdf5+mpi", None) in deps, "hdf5+mpi")
test_deps = {a[0] for k, a, kw, w in directives if k == "depends_on" and kw.get("type") == "test"}
check("googletest" in test_deps and "py-onnxruntime" in test_deps, "googletest, py-onnxruntime: type=test")
check(any(a[0].startswith("cuda") and w == "+cuda" for k, a, kw, w in directives if k == "depends_on"),
      "cuda only when +cuda")
conf = {(a[0], w) for k, a, kw, w in directives if k == "conflicts"}
check(("cuda_arch=none", "+cuda") in conf, "conflicts cuda_arch=none when +cuda")
check(("cuda_arch=70", "+cuda ^cuda@13:") in conf and not any(c == "cuda_arch=75" for c, _ in conf),
      "cuda_arch < 75 conflicts with cuda@13:, 75 does not")


class Variant:
    def __init__(self, value):
        self.value = value


class Dep:
    def __init__(self, name):
        self.prefix = _Prefix(f"/spack/{name}")
        self.mpicc, self.mpicxx = f"/spack/{name}/bin/mpicc", f"/spack/{name}/bin/mpicxx"
        self.command = types.SimpleNamespace(path=f"/spack/{name}/bin/python3")


class _Prefix(str):
    @property
    def bin(self):
        return types.SimpleNamespace(nvcc=self + "/bin/nvcc")


class Spec:
    def __init__(self, cuda, archs=()):
        self.cuda = cuda
        self.variants = {"cuda_arch": Variant(tuple(archs))} if cuda else {}

    def satisfies(self, s):
        assert s in ("+cuda", "~cuda"), s
        return self.cuda == (s == "+cuda")

    def __getitem__(self, name):
        return Dep(name)


def args_for(spec, run_tests=False):
    pkg = MgiMpi.__new__(MgiMpi)
    pkg.spec, pkg.run_tests = spec, run_tests
    return pkg.cmake_args()


on = args_for(Spec(True, ("80", "90")))
off = args_for(Spec(False), run_tests=True)
print("  +cuda cuda_arch=80,90:", " ".join(on))
print("  ~cuda, --test:        ", " ".join(off))
check("-DMGI_ENABLE_CUDA:BOOL=ON" in on and "-DMGI_ENABLE_CUDA:BOOL=OFF" in off, "MGI_ENABLE_CUDA follows +cuda")
check("-DMGI_CUDA_ARCHITECTURES:STRING=80;90" in on, "cuda_arch=80,90 -> MGI_CUDA_ARCHITECTURES=80;90")
check(not any("CUDA_ARCH" in a for a in off), "~cuda: no architectures")
check("-DMGI_BUILD_TESTS:BOOL=ON" in off and any(a.startswith("-DMGI_PYTHON:") for a in off),
      "--test: MGI_BUILD_TESTS=ON and MGI_PYTHON")

cmake_text = "\n".join(p.read_text() for p in [SRC / "CMakeLists.txt", *SRC.glob("cmake/*.cmake"),
                                                *SRC.glob("tests/CMakeLists.txt")])
for var in sorted({m for a in on + off for m in re.findall(r"^-D(MGI_[A-Z_]+):", a)}):
    check(re.search(rf"\b{var}\b", cmake_text) is not None, f"{var} is read by the project's CMake files")

print(f"check_recipe: {'FAIL (' + str(len(failures)) + ')' if failures else 'PASS'}")
sys.exit(1 if failures else 0)
