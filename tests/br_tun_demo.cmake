# The README demo (examples/br_tun_demo): it runs on clouds/demo.cloud with the
# expected forwarding, reads its own input.pcap back to the same per-port
# pcaps, and reports each bad cloud file of tests/examples/br_tun_demo as
# FILE:LINE: reason with exit status 3, running nothing.
if(FLOWPIPE_BUILD_EXAMPLES)
  set(_demo_check ${CMAKE_CURRENT_SOURCE_DIR}/examples/br_tun_demo/check.cmake)
  set(_demo_out ${CMAKE_CURRENT_BINARY_DIR}/br_tun_demo)
  find_program(FLOWPIPE_TCPDUMP tcpdump PATHS /usr/sbin /sbin)
  set(_demo_tcpdump "")
  if(FLOWPIPE_TCPDUMP)
    set(_demo_tcpdump -DTCPDUMP=${FLOWPIPE_TCPDUMP})
  endif()
  add_test(NAME br_tun_demo_run
           COMMAND ${CMAKE_COMMAND} -DMODE=run -DDEMO=$<TARGET_FILE:br_tun_demo> -DOUT=${_demo_out}/run
                   ${_demo_tcpdump} -P ${_demo_check})
  add_test(NAME br_tun_demo_pcap
           COMMAND ${CMAKE_COMMAND} -DMODE=pcap -DDEMO=$<TARGET_FILE:br_tun_demo> -DOUT=${_demo_out}/pcap
                   -DIN=${_demo_out}/run/input.pcap -P ${_demo_check})
  set_tests_properties(br_tun_demo_pcap PROPERTIES DEPENDS br_tun_demo_run)
  add_test(NAME br_tun_demo_usage COMMAND ${CMAKE_COMMAND} -DMODE=usage -DDEMO=$<TARGET_FILE:br_tun_demo> -P ${_demo_check})
  file(GLOB _demo_bad CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/examples/br_tun_demo/*.cloud)
  foreach(cloud IN LISTS _demo_bad)
    get_filename_component(name ${cloud} NAME_WE)
    add_test(NAME br_tun_demo_bad_${name}
             COMMAND ${CMAKE_COMMAND} -DMODE=bad -DDEMO=$<TARGET_FILE:br_tun_demo> -DCLOUD=${cloud} -P ${_demo_check}
             WORKING_DIRECTORY ${_demo_out})
  endforeach()
  file(MAKE_DIRECTORY ${_demo_out})
endif()
