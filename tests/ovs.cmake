# The Open vSwitch oracle (tests/ovs/): the same flows and packets through
# flowpipe and through a real ovs-vswitchd (userspace, dummy datapath, its
# own run directory), compared packet by packet. Skipped (exit 77) when
# ovs-vswitchd is not installed.
find_package(Python3 COMPONENTS Interpreter)
add_executable(ovs_oracle_driver ${CMAKE_CURRENT_SOURCE_DIR}/ovs/ovs_oracle_driver.cpp)
target_link_libraries(ovs_oracle_driver PRIVATE flowpipe::flowpipe)
flowpipe_warnings(ovs_oracle_driver)
if(Python3_Interpreter_FOUND)
  add_test(NAME ovs_oracle
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/ovs/ovs_oracle.py
                   --driver $<TARGET_FILE:ovs_oracle_driver>)
  set_tests_properties(ovs_oracle PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600 LABELS ovs)
endif()
