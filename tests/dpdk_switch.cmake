# The switch core's tests (tests/examples/switch, over io::memory_port) and
# the DPDK switch's end-to-end test (tests/examples/dpdk_switch: pcap files
# through dpdk_switch with net_pcap vdevs; skipped when not root or when the
# binary was not built for want of libdpdk).
if(FLOWPIPE_BUILD_EXAMPLES)
  add_executable(switch_bridge_checks ${CMAKE_CURRENT_SOURCE_DIR}/examples/switch/bridge_checks.cpp)
  target_link_libraries(switch_bridge_checks PRIVATE flowpipe_switch GTest::gtest_main)
  flowpipe_warnings(switch_bridge_checks)
  gtest_discover_tests(switch_bridge_checks TEST_PREFIX switch. DISCOVERY_TIMEOUT 60)
endif()

# pcap files through dpdk_switch (net_pcap vdevs, --no-huge): the binary's
# path is given as a plain path because examples/ is configured after tests/;
# the script skips (exit 77) when it was not built or when not root.
if(FLOWPIPE_BUILD_EXAMPLES)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    add_test(NAME dpdk_switch_pcap_e2e
             COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/examples/dpdk_switch/pcap_e2e.py
                     ${PROJECT_BINARY_DIR}/examples/dpdk_switch/dpdk_switch)
    set_tests_properties(dpdk_switch_pcap_e2e PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 60)
  else()
    message(STATUS "dpdk_switch_pcap_e2e: not registered, python3 not found")
  endif()
endif()
