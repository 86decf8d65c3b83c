# Install rules (included from the top-level CMakeLists.txt). The layout, with
# GNUInstallDirs' defaults (LIBDIR is lib64 on some distributions, lib/<multiarch>
# under /usr on Debian):
#
#   bin/mgi-mpi
#   lib/libmgi-cuda.so                       CUDA builds: the backend module
#   share/mgi-mpi/slurm/*.sbatch             the Slurm templates
#   share/mgi-mpi/configs/*.yaml             example configs; shipped files found through
#                                            ${MGI_MPI_SHARE:-<this share dir>}
#   share/mgi-mpi/data/, models/             the demo's and the ragged example's data and models
#   share/mgi-mpi/modules/lmod/mgi-mpi/<version>.lua   Lmod module file
#   share/mgi-mpi/modules/tcl/mgi-mpi/<version>        Tcl module file (environment-modules)
#   share/doc/mgi-mpi/README.md, docs/       the documentation
#   share/cmake/mgi-mpi/mgi-mpiConfig.cmake  find_package(mgi-mpi CONFIG): target mgi-mpi::mgi-mpi
#   share/cmake/mgi-mpi/mgi-mpiConfigVersion.cmake
#
# Files that name the install's prefix (the installed configs and module files)
# are written at install time (cmake/MgiInstallConfigured.cmake), so that
# `cmake --install build --prefix P` writes P into them, not the configure-time
# CMAKE_INSTALL_PREFIX.
include(CMakePackageConfigHelpers)

set(MGI_INSTALL_SHAREDIR ${CMAKE_INSTALL_DATADIR}/mgi-mpi)
# The package config goes to share/, not lib/cmake: it describes an executable and
# data (no library), and find_package searches <prefix>/share/cmake/<name>/ in every
# layout, where <prefix>/lib64/cmake is searched only by projects that enable a language.
set(MGI_INSTALL_CMAKEDIR ${CMAKE_INSTALL_DATADIR}/cmake/mgi-mpi)

# The binary, and the CUDA module in the library folder, where the binary's loader
# looks for it (MGI_INSTALL_LIBDIR_FROM_BIN). The module keeps the CUDA toolkit's
# library folder in its RUNPATH (where it was linked); a CUDA library folder on
# LD_LIBRARY_PATH (module load cuda) or in ld.so.cache works too.
install(TARGETS mgi-mpi RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(MGI_WITH_CUDA)
  set_target_properties(mgi-cuda PROPERTIES INSTALL_RPATH "$ORIGIN" INSTALL_RPATH_USE_LINK_PATH ON)
  install(TARGETS mgi-cuda LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
endif()

# share/mgi-mpi: Slurm templates (executable, as in the tree), the data and models
# the example configs ship with.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/slurm/ DESTINATION ${MGI_INSTALL_SHAREDIR}/slurm
        FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE
        FILES_MATCHING PATTERN "*.sbatch")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/data/ DESTINATION ${MGI_INSTALL_SHAREDIR}/data FILES_MATCHING PATTERN "*.h5")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/models/ DESTINATION ${MGI_INSTALL_SHAREDIR}/models
        FILES_MATCHING PATTERN "*.onnx" PATTERN "*.onnx.data")

# Docs: README.md and docs/ keep their relative links (README -> docs/*.md, *.png).
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs
        FILES_MATCHING PATTERN "*.md" PATTERN "*.png")

# Configs and module files, written with the install-time prefix.
# The MPI it was built with, for the module files' help: the standard version and
# what its mpiexec says of itself ("mpiexec (OpenRTE) 4.1.4").
set(MGI_BUILT_MPI "MPI ${MPI_C_VERSION}")
if(MPIEXEC_EXECUTABLE)
  execute_process(COMMAND ${MPIEXEC_EXECUTABLE} --version OUTPUT_VARIABLE mpiexec_version ERROR_QUIET TIMEOUT 10)
  string(REGEX MATCH "^[^\r\n]*" mpiexec_version "${mpiexec_version}")
  string(STRIP "${mpiexec_version}" mpiexec_version)
  if(mpiexec_version)
    string(APPEND MGI_BUILT_MPI ", ${mpiexec_version}")
  endif()
endif()
file(GLOB MGI_INSTALL_CONFIGS ${PROJECT_SOURCE_DIR}/configs/*.yaml)
install(CODE "
set(MGI_SOURCE_DIR \"${PROJECT_SOURCE_DIR}\")
set(MGI_STAGE_DIR \"${PROJECT_BINARY_DIR}/install-staging\")
set(MGI_CONFIGS \"${MGI_INSTALL_CONFIGS}\")
set(MGI_VERSION \"${PROJECT_VERSION}\")
set(MGI_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
set(MGI_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
set(MGI_SHAREDIR \"${MGI_INSTALL_SHAREDIR}\")
set(MGI_DOCDIR \"${CMAKE_INSTALL_DOCDIR}\")
set(MGI_WITH_CUDA \"${MGI_WITH_CUDA}\")
set(MGI_BUILT_MPI \"${MGI_BUILT_MPI}\")
set(MGI_BUILT_MPIEXEC \"${MPIEXEC_EXECUTABLE}\")
set(MGI_BUILT_HDF5 \"${HDF5_VERSION}\")
include(\"${PROJECT_SOURCE_DIR}/cmake/MgiInstallConfigured.cmake\")
")

# CMake package: an imported executable mgi-mpi::mgi-mpi, the share dir, whether the
# CUDA backend was built. Paths are relative to the config file's own folder
# (PACKAGE_INIT), so the installed tree may be moved.
set(MGI_INSTALL_CUDA_MODULE "")
if(MGI_WITH_CUDA)
  set(MGI_INSTALL_CUDA_MODULE ${CMAKE_INSTALL_LIBDIR}/libmgi-cuda.so)
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/mgi-mpiConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/cmake/mgi-mpiConfig.cmake
                              INSTALL_DESTINATION ${MGI_INSTALL_CMAKEDIR}
                              PATH_VARS CMAKE_INSTALL_BINDIR MGI_INSTALL_SHAREDIR CMAKE_INSTALL_DOCDIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cmake/mgi-mpiConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)  # an executable: any consumer
install(FILES ${PROJECT_BINARY_DIR}/cmake/mgi-mpiConfig.cmake ${PROJECT_BINARY_DIR}/cmake/mgi-mpiConfigVersion.cmake
        DESTINATION ${MGI_INSTALL_CMAKEDIR})
