# Sanitizer and fuzzer instrumentation for every C/C++ target of the project.
#
#   -DMGI_SANITIZE=address,undefined   ASan + UBSan on compile and link of every target
#   -DMGI_BUILD_FUZZERS=ON             clang only: also -fsanitize=fuzzer-no-link on all
#                                      project code (address,undefined unless MGI_SANITIZE
#                                      says otherwise); tests/fuzz links -fsanitize=fuzzer.
#
# Errors are fatal (-fno-sanitize-recover=all) so a report always fails the test.
# Line numbers in reports: configure with -DCMAKE_BUILD_TYPE=RelWithDebInfo (tools/test.sh
# and tools/fuzz.sh use -O1 -g1). CUDA code is never instrumented.
set(MGI_SANITIZE "" CACHE STRING "Sanitizers for every C/C++ target, e.g. address,undefined (empty: none)")

set(_mgi_sanitize "${MGI_SANITIZE}")
if(MGI_BUILD_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "MGI_BUILD_FUZZERS needs clang with libFuzzer: configure with CC=clang CXX=clang++ "
                        "(Debian: apt-get install clang libclang-rt-14-dev)")
  endif()
  if(NOT _mgi_sanitize)
    set(_mgi_sanitize address,undefined)
  endif()
  set(_mgi_sanitize "fuzzer-no-link,${_mgi_sanitize}")
endif()

if(_mgi_sanitize)
  foreach(flag -fsanitize=${_mgi_sanitize} -fno-omit-frame-pointer -fno-sanitize-recover=all)
    add_compile_options($<$<COMPILE_LANGUAGE:C,CXX>:${flag}>)
  endforeach()
  add_link_options(-fsanitize=${_mgi_sanitize})
  message(STATUS "mgi-mpi: sanitizers -fsanitize=${_mgi_sanitize}")
endif()
