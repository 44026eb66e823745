# The Neutron preset against Open vSwitch (tests/neutron/ovs_br_tun.py): the
# agent-built br-tun's flows loaded into a userspace ovs-vswitchd and traced
# packet by packet on both sides. Skipped (exit 77) without ovs-vswitchd.
find_package(Python3 COMPONENTS Interpreter)
add_executable(ovs_br_tun_driver ${CMAKE_CURRENT_SOURCE_DIR}/neutron/ovs_br_tun_driver.cpp)
target_link_libraries(ovs_br_tun_driver PRIVATE flowpipe::flowpipe)
flowpipe_warnings(ovs_br_tun_driver)
if(Python3_Interpreter_FOUND)
  add_test(NAME neutron_ovs_br_tun
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/neutron/ovs_br_tun.py
                   --driver $<TARGET_FILE:ovs_br_tun_driver>)
  set_tests_properties(neutron_ovs_br_tun PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS ovs)
endif()
