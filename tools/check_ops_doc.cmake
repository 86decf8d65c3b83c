# ctest docs_ops_table_fresh: fails when docs/OPS.md differs from what
# mgi-ops-table prints now.  cmake -DTOOL=build/mgi-ops-table -DDOC=docs/OPS.md -P check_ops_doc.cmake
execute_process(COMMAND ${TOOL} OUTPUT_VARIABLE generated RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${TOOL} failed (exit ${rc})")
endif()
if(NOT EXISTS ${DOC})
  message(FATAL_ERROR "${DOC} is missing: generate it with build/mgi-ops-table > docs/OPS.md")
endif()
file(READ ${DOC} committed)
if(NOT generated STREQUAL committed)
  message(FATAL_ERROR "docs/OPS.md is stale (the op registry or the CUDA kernels changed): regenerate with "
                      "build/mgi-ops-table > docs/OPS.md (in a build with CUDA) and commit it")
endif()
message(STATUS "docs/OPS.md matches the op registry")
