# The libpcap driver (examples/pcap): pcap_port against the port laws in file
# mode (tests/examples/pcap/pcap_port_check.cpp, not a *_test.cpp: it links
# libpcap), and end to end through pcap_switch, driven by
# tests/examples/pcap/pcap_switch_check.py: files in -> files out, bad
# arguments and flows files, and live interfaces on veth pairs in a network
# namespace the script makes and deletes (skipped, exit 77, without root).
#
# tests/ is configured before examples/, so the checks are registered at the
# end of the top-level directory, when pcap_switch exists or is known not to.
function(flowpipe_pcap_driver_tests tests_dir)
  if(NOT TARGET pcap_switch)
    return()
  endif()
  find_package(GTest REQUIRED) # its imported targets are per directory: tests/ had its own
  add_executable(pcap_port_check ${tests_dir}/examples/pcap/pcap_port_check.cpp)
  target_link_libraries(pcap_port_check PRIVATE flowpipe_pcap GTest::gtest_main)
  set_target_properties(pcap_port_check PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  flowpipe_warnings(pcap_port_check)
  add_test(NAME pcap_port COMMAND pcap_port_check --gtest_brief=1)

  find_program(FLOWPIPE_PYTHON3 python3)
  if(NOT FLOWPIPE_PYTHON3)
    message(STATUS "pcap_switch tests: skipped, python3 not found")
    return()
  endif()
  foreach(mode files errors live)
    add_test(NAME pcap_switch_${mode}
             COMMAND ${FLOWPIPE_PYTHON3} ${tests_dir}/examples/pcap/pcap_switch_check.py $<TARGET_FILE:pcap_switch>
                     ${mode} ${CMAKE_BINARY_DIR}/tests/pcap_switch/${mode})
    set_tests_properties(pcap_switch_${mode} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 60)
  endforeach()
endfunction()
if(FLOWPIPE_BUILD_EXAMPLES)
  cmake_language(EVAL CODE
    "cmake_language(DEFER DIRECTORY [[${PROJECT_SOURCE_DIR}]] CALL flowpipe_pcap_driver_tests [[${CMAKE_CURRENT_LIST_DIR}]])")
endif()
