# The switch core's tests (tests/examples/switch, over io::memory_port) and
# the DPDK switch's end-to-end test (tests/examples/dpdk_switch: pcap files
# through dpdk_switch with net_pcap vdevs; skipped when not root or when the
# binary was not built for want of libdpdk).
if(FLOWPIPE_BUILD_EXAMPLES)
  add_executable(switch_bridge_checks ${CMAKE_CURRENT_SOURCE_DIR}/examples/switch/bridge_checks.cpp)
  target_link_libraries(switch_bridge_checks PRIVATE flowpipe_switch GTest::gtest_main)
  flowpipe_warnings(switch_bridge_checks)
  gtest_discover_tests(switch_bridge_checks DISCOVERY_TIMEOUT 60)
endif()
