# Runs br_tun_demo for tests/br_tun_demo.cmake (cmake -P).
#   MODE=run      DEMO OUT: the default cloud; exit 0, the expected lines, the pcap files
#   MODE=pcap     DEMO OUT IN: --pcap IN (the run's input.pcap); the same per-port pcaps as the run
#   MODE=bad      DEMO CLOUD: exit 3, the "# expect: REGEX" of CLOUD's first line on stderr, nothing on stdout
#   MODE=usage    DEMO: --help exits 0, an unknown argument 2
#   TCPDUMP (optional): the pcaps read back with tcpdump
function(fail msg)
  message(FATAL_ERROR "${msg}")
endfunction()

if(MODE STREQUAL "run" OR MODE STREQUAL "pcap")
  file(REMOVE_RECURSE ${OUT})
  set(args --out ${OUT} --seconds 0.05)
  if(MODE STREQUAL "pcap")
    list(APPEND args --pcap ${IN})
  endif()
  execute_process(COMMAND ${DEMO} ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    fail("br_tun_demo ${args}: exit ${rc}\n${out}\n${err}")
  endif()
  foreach(want
      "add_fdb_entries\\(tenant-a\\)"
      "ARP reply 81\\.1\\.180\\.9 is-at vm2 -> vm1"
      "vxlan-0a000127 \\(compute2\\): tun_id 6 vm1 -> vm2"
      "tun_id 999 [^\n]* dropped"
      "dvr-compute1 -> vm4"
      "dump-flows table=20"
      "hard_timeout=300, idle_age=[0-9]+, priority=1,vlan_tci=0x0001/0x0fff,dl_dst=fa:16:3e:de:ad:01"
      "table=21, n_packets=1, n_bytes=60, idle_age=[0-9]+, priority=1,arp,dl_vlan=1,arp_tpa=81\\.1\\.180\\.9"
      "priority=1,dl_vlan=1 actions=strip_vlan,set_tunnel:0x6,output:2,output:3"
      "throughput: [0-9.]+ Mpps")
    if(NOT out MATCHES "${want}")
      fail("br_tun_demo ${args}: no match for '${want}' in:\n${out}")
    endif()
  endforeach()
  foreach(f input patch-int vxlan-0a000127 vxlan-0a000115 gre-0a000127 gre-0a000115)
    if(NOT EXISTS ${OUT}/${f}.pcap)
      fail("br_tun_demo: no ${OUT}/${f}.pcap")
    endif()
  endforeach()
  if(MODE STREQUAL "pcap")
    get_filename_component(first ${IN} DIRECTORY)
    foreach(f patch-int vxlan-0a000127 vxlan-0a000115 gre-0a000127 gre-0a000115)
      file(SHA256 ${first}/${f}.pcap a)
      file(SHA256 ${OUT}/${f}.pcap b)
      if(NOT a STREQUAL b)
        fail("br_tun_demo --pcap ${IN}: ${f}.pcap differs from the generated run's")
      endif()
    endforeach()
  endif()
  if(TCPDUMP)
    execute_process(COMMAND ${TCPDUMP} -nn -e -r ${OUT}/vxlan-0a000127.pcap
                    RESULT_VARIABLE rc OUTPUT_VARIABLE td ERROR_VARIABLE tderr)
    if(NOT rc EQUAL 0 OR NOT td MATCHES "10\\.0\\.1\\.31\\.[0-9]+ > 10\\.0\\.1\\.39\\.4789: VXLAN, flags \\[I\\] \\(0x08\\), vni 6")
      fail("tcpdump -r vxlan-0a000127.pcap (exit ${rc}):\n${td}\n${tderr}")
    endif()
  endif()
elseif(MODE STREQUAL "bad")
  file(STRINGS ${CLOUD} first LIMIT_COUNT 1)
  string(REGEX REPLACE "^# expect: " "" expect "${first}")
  execute_process(COMMAND ${DEMO} --cloud ${CLOUD} --out ${CMAKE_CURRENT_BINARY_DIR}/br_tun_demo_bad_out
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 3)
    fail("br_tun_demo --cloud ${CLOUD}: exit ${rc}, not 3\n${out}\n${err}")
  endif()
  if(NOT err MATCHES "(^|\n)[^\n]*${expect}")
    fail("br_tun_demo --cloud ${CLOUD}: stderr does not match '${expect}':\n${err}")
  endif()
  if(NOT out STREQUAL "")
    fail("br_tun_demo --cloud ${CLOUD}: ran anyway:\n${out}")
  endif()
elseif(MODE STREQUAL "usage")
  execute_process(COMMAND ${DEMO} --help RESULT_VARIABLE rc OUTPUT_VARIABLE out)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "usage: br_tun_demo")
    fail("br_tun_demo --help: exit ${rc}\n${out}")
  endif()
  execute_process(COMMAND ${DEMO} --no-such-option RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
  if(NOT rc EQUAL 2 OR NOT err MATCHES "unknown argument")
    fail("br_tun_demo --no-such-option: exit ${rc}\n${err}")
  endif()
else()
  fail("check.cmake: MODE=${MODE}?")
endif()
