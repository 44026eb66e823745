# The NORMAL oracle (tests/ovs/normal_oracle.py): Open vSwitch's L2 learning
# switch (ovs-vswitchd in userspace, dummy datapath, its own run directory)
# and flowpipe's normal action fed the same frames, compared frame by frame
# and MAC table by MAC table. Skipped (exit 77) when ovs-vswitchd is not
# installed.
find_package(Python3 COMPONENTS Interpreter)
add_executable(normal_oracle_driver ${CMAKE_CURRENT_SOURCE_DIR}/ovs/normal_oracle_driver.cpp)
target_link_libraries(normal_oracle_driver PRIVATE flowpipe::flowpipe)
flowpipe_warnings(normal_oracle_driver)
if(Python3_Interpreter_FOUND)
  add_test(NAME ovs_normal_oracle
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/ovs/normal_oracle.py
                   --driver $<TARGET_FILE:normal_oracle_driver>)
  set_tests_properties(ovs_normal_oracle PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120 LABELS ovs)
endif()
