# End-to-end: two hosts and two VMs in network namespaces, each host a
# dpdk_switch with the Neutron preset, ping across VXLAN (tests/e2e/two_hosts.sh),
# once with DPDK's net_af_packet for every port and once with the AF_XDP example
# driver as host 1's VM port. Skipped (exit 77) when not root or when the
# binary was not built. Registered at the end of the top-level directory,
# when the examples' targets exist.
if(FLOWPIPE_BUILD_EXAMPLES)
  function(flowpipe_register_e2e_tests)
    if(NOT TARGET dpdk_switch)
      message(STATUS "e2e tests: skipped, dpdk_switch is not built")
      return()
    endif()
    foreach(mode af_packet xdp)
      add_test(NAME e2e_two_hosts_${mode}
               COMMAND bash ${PROJECT_SOURCE_DIR}/tests/e2e/two_hosts.sh $<TARGET_FILE:dpdk_switch> ${mode})
      # The two switches take both cores: nothing else may run beside them.
      set_tests_properties(e2e_two_hosts_${mode} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120 RUN_SERIAL TRUE)
    endforeach()
  endfunction()
  cmake_language(DEFER DIRECTORY ${PROJECT_SOURCE_DIR} CALL flowpipe_register_e2e_tests)
endif()
