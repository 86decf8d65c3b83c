# Spack recipe for mgi-mpi (packaging/spack/README.md: how to use it).
#
# Spack >= 1.0 (package API v2) takes the build systems from the builtin
# repository; Spack 0.x exported them from spack.package. The imports below
# work with either.
try:
    from spack_repo.builtin.build_systems.cmake import CMakePackage
    from spack_repo.builtin.build_systems.cuda import CudaPackage
except ImportError:  # Spack 0.x
    pass

from spack.package import *


class MgiMpi(CMakePackage, CudaPackage):
    """Batch inference of an ONNX model over an HDF5 dataset on every GPU (or CPU
    core) of an MPI job: one rank per GPU reads its slice, runs the model, and
    rank 0 gathers the predictions, in input order, into one HDF5 file."""

    # EDIT: the project's home and repository. No release exists yet: the only
    # version is the main branch. For a release, add e.g.
    #   url = "https://<host>/mgi-mpi/archive/refs/tags/v0.1.0.tar.gz"
    #   version("0.1.0", sha256="<sha256 of that tarball>")
    homepage = "https://example.org/mgi-mpi"
    git = "https://example.org/mgi-mpi.git"

    version("main", branch="main")

    depends_on("c", type="build")
    depends_on("cxx", type="build")
    depends_on("cmake@3.22:", type="build")

    depends_on("mpi")
    depends_on("hdf5+mpi")  # parallel HDF5 (each rank reads its own slice)
    depends_on("yaml-cpp")
    depends_on("protobuf")
    depends_on("onnx")  # the ONNX library (onnx_proto, ONNX_ML), not the Python package
    depends_on("openssl")  # SHA-256 of models and inputs (journal fingerprints)
    depends_on("nlohmann-json@3.2:")
    depends_on("zlib-api")
    depends_on("cli11")
    # Only for bench/gemm_bench (the CPU GEMM kernel's comparison, found with
    # FindBLAS and cblas.h), which the default build makes.
    depends_on("blas")

    # The tests (spack install --test=root): GoogleTest, and Python with the
    # independent references (onnxruntime, numpy) the tests compare against.
    depends_on("googletest", type="test")
    depends_on("python@3.9:", type="test")
    depends_on("py-numpy", type="test")
    depends_on("py-h5py", type="test")
    depends_on("py-onnx", type="test")
    depends_on("py-onnxruntime", type="test")

    # The CUDA backend is a module (libmgi-cuda.so) that mgi-mpi opens at run time:
    # a +cuda build still starts and runs on CPU nodes without the CUDA libraries.
    with when("+cuda"):
        # Built and tested with CUDA 13.0; needs cuBLAS and cuBLASLt (in the toolkit).
        depends_on("cuda@12:")
        conflicts("cuda_arch=none", msg="mgi-mpi +cuda needs cuda_arch=<architectures>, e.g. cuda_arch=90")
    # nvcc 13 compiles for architectures 75 and above only.
    for _arch in CudaPackage.cuda_arch_values:
        if int("".join(c for c in _arch if c.isdigit())) < 75:
            conflicts(f"cuda_arch={_arch}", when="+cuda ^cuda@13:", msg="CUDA 13 builds for cuda_arch 75 and above")

    def cmake_args(self):
        spec = self.spec
        args = [
            self.define("MGI_ENABLE_CUDA", spec.satisfies("+cuda")),
            self.define("MGI_BUILD_TESTS", self.run_tests),
            self.define("MPI_C_COMPILER", spec["mpi"].mpicc),
            self.define("MPI_CXX_COMPILER", spec["mpi"].mpicxx),
            self.define("HDF5_ROOT", spec["hdf5"].prefix),
        ]
        if spec.satisfies("+cuda"):
            # cuda_arch goes to the project's own cache variable (CMakeLists.txt:
            # MGI_CUDA_ARCHITECTURES, the default of CMAKE_CUDA_ARCHITECTURES).
            args.append(self.define("MGI_CUDA_ARCHITECTURES", ";".join(spec.variants["cuda_arch"].value)))
            args.append(self.define("CMAKE_CUDA_COMPILER", spec["cuda"].prefix.bin.nvcc))
            args.append(self.define("CUDAToolkit_ROOT", spec["cuda"].prefix))
        if self.run_tests:
            args.append(self.define("MGI_PYTHON", spec["python"].command.path))
        return args

    def check(self):
        # The suites that need no root, GPU, Slurm or network (tools/test.sh runs all).
        with working_dir(self.build_directory):
            ctest("--output-on-failure", "-L", "unit|reference|mpi|errors|install", "-LE", "kill|slurm")

    def setup_run_environment(self, env):
        env.set("MGI_MPI_ROOT", self.prefix)
        env.set("MGI_MPI_SHARE", self.prefix.share.join("mgi-mpi"))

    def test_version(self):
        """mgi-mpi --version names the version and the backends"""
        mgi = which(self.prefix.bin.join("mgi-mpi"), required=True)
        out = mgi("--version", output=str, error=str)
        assert "mgi-mpi " in out and "backends: cpu" in out

    def test_demo_dry_run(self):
        """the installed demo config passes the dry run (config, data, model)"""
        mgi = which(self.prefix.bin.join("mgi-mpi"), required=True)
        demo = self.prefix.share.join("mgi-mpi").join("configs").join("demo.yaml")
        with working_dir("demo", create=True):
            out = mgi("--dry-run", demo, output=str, error=str)
        assert "digits-mlp.onnx" in out
