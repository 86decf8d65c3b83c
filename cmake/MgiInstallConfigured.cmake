# Runs at install time (install(CODE) in cmake/MgiInstall.cmake), where
# CMAKE_INSTALL_PREFIX is the prefix of this install (`cmake --install --prefix P`).
# Writes the files that name the prefix and installs them:
#   share/mgi-mpi/configs/*.yaml: a path to a file shipped in share/mgi-mpi (data/,
#     models/) becomes ${MGI_MPI_SHARE:-<share dir>}/<path>, so the installed demo
#     runs from any directory (its output, out/..., stays relative to it);
#   share/mgi-mpi/modules/{lmod,tcl}/mgi-mpi/<version>[.lua]: the module files.
# Inputs: MGI_SOURCE_DIR MGI_STAGE_DIR MGI_CONFIGS MGI_VERSION MGI_BINDIR MGI_LIBDIR MGI_SHAREDIR
# MGI_DOCDIR MGI_WITH_CUDA MGI_BUILT_MPI MGI_BUILT_MPIEXEC MGI_BUILT_HDF5.

function(mgi_full out dir)
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  else()
    set(${out} "${CMAKE_INSTALL_PREFIX}/${dir}" PARENT_SCOPE)
  endif()
endfunction()
mgi_full(MGI_PREFIX_BIN "${MGI_BINDIR}")
mgi_full(MGI_SHARE "${MGI_SHAREDIR}")
mgi_full(MGI_DOC "${MGI_DOCDIR}")
set(MGI_PREFIX "${CMAKE_INSTALL_PREFIX}")

# One staging folder per prefix: installs into two prefixes may run at once.
string(MD5 stage_key "${CMAKE_INSTALL_PREFIX}")
set(stage "${MGI_STAGE_DIR}/${stage_key}")
file(REMOVE_RECURSE "${stage}")

# Configs: each `file: <path>` line whose path is a file shipped in data/ or models/.
foreach(cfg IN LISTS MGI_CONFIGS)
  get_filename_component(name "${cfg}" NAME)
  file(READ "${cfg}" text)
  set(text "\n${text}")  # every line now starts after a newline
  string(REGEX MATCHALL "\n *file: *(data|models)/[^ #\"'\n]+" found "${text}")
  list(REMOVE_DUPLICATES found)
  set(rewritten 0)
  foreach(hit IN LISTS found)
    string(REGEX REPLACE "^\n *file: *" "" path "${hit}")
    if(EXISTS "${MGI_SOURCE_DIR}/${path}")
      math(EXPR rewritten "${rewritten} + 1")
      string(REGEX REPLACE "([][.+*?^$()|\\{}])" "\\\\\\1" path_re "${path}")
      string(REGEX REPLACE "(\n *file: *)${path_re}([ #\n]|$)" "\\1\${MGI_MPI_SHARE:-${MGI_SHARE}}/${path}\\2"
             text "${text}")
    endif()
  endforeach()
  string(SUBSTRING "${text}" 1 -1 text)
  if(rewritten)
    set(head "# Installed copy of configs/${name} (mgi-mpi ${MGI_VERSION}): files shipped with mgi-mpi\n")
    string(APPEND head "# are read from \${MGI_MPI_SHARE} (set by `module load mgi-mpi`), else from\n")
    string(APPEND head "# ${MGI_SHARE}; other relative paths (the output) are\n")
    string(APPEND head "# relative to the current directory.\n")
  else()
    set(head "# Installed copy of configs/${name} (mgi-mpi ${MGI_VERSION}): an example to copy;\n")
    string(APPEND head "# its relative paths are relative to the current directory.\n")
  endif()
  file(WRITE "${stage}/configs/${name}" "${head}${text}")
endforeach()
file(GLOB staged_configs "${stage}/configs/*.yaml")
file(INSTALL DESTINATION "${MGI_SHARE}/configs" TYPE FILE FILES ${staged_configs})

# Module files.
if(MGI_WITH_CUDA)
  mgi_full(libdir "${MGI_LIBDIR}")
  set(MGI_CUDA_TEXT "built (${libdir}/libmgi-cuda.so; mgi-mpi --version says whether it loads)")
else()
  set(MGI_CUDA_TEXT "not built (CPU backend only)")
endif()
configure_file("${MGI_SOURCE_DIR}/packaging/modules/mgi-mpi.lua.in" "${stage}/lmod/${MGI_VERSION}.lua" @ONLY)
configure_file("${MGI_SOURCE_DIR}/packaging/modules/mgi-mpi.tcl.in" "${stage}/tcl/${MGI_VERSION}" @ONLY)
file(INSTALL DESTINATION "${MGI_SHARE}/modules/lmod/mgi-mpi" TYPE FILE FILES "${stage}/lmod/${MGI_VERSION}.lua")
file(INSTALL DESTINATION "${MGI_SHARE}/modules/tcl/mgi-mpi" TYPE FILE FILES "${stage}/tcl/${MGI_VERSION}")
file(REMOVE_RECURSE "${stage}")
