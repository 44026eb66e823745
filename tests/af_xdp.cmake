# The AF_XDP driver (examples/af_xdp) against a real kernel:
# tests/examples/af_xdp/xdp_port_check.cpp makes its own network namespace and
# veth pair, and skips (reported as skipped by CTest) without root, network
# namespaces or AF_XDP. Not a *_test.cpp: it links libxdp and libbpf.
#
# tests/ is configured before examples/, so the check is registered at the end
# of the top-level directory, when flowpipe_af_xdp exists or is known not to.
function(flowpipe_af_xdp_tests tests_dir)
  if(NOT TARGET flowpipe_af_xdp)
    return()
  endif()
  find_package(GTest REQUIRED) # its imported targets are per directory: tests/ had its own

  add_executable(xdp_port_check ${tests_dir}/examples/af_xdp/xdp_port_check.cpp)
  target_link_libraries(xdp_port_check PRIVATE flowpipe_af_xdp GTest::gtest_main)
  set_target_properties(xdp_port_check PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  flowpipe_warnings(xdp_port_check)
  add_test(NAME af_xdp_port COMMAND xdp_port_check --gtest_brief=1)
  # GTEST_SKIP prints "[  SKIPPED ]" and exits 0: CTest shows it as skipped.
  set_tests_properties(af_xdp_port PROPERTIES SKIP_REGULAR_EXPRESSION "af_xdp live tests skipped" TIMEOUT 60)
endfunction()
if(FLOWPIPE_BUILD_EXAMPLES)
  cmake_language(EVAL CODE
    "cmake_language(DEFER DIRECTORY [[${PROJECT_SOURCE_DIR}]] CALL flowpipe_af_xdp_tests [[${CMAKE_CURRENT_LIST_DIR}]])")
endif()
