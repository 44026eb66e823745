# learn_bench: flowpipe's learn beside DPDK's SWX learner table. Links DPDK
# into learn_bench only, through bench/dpdk.cmake's flowpipe_bench_dpdk
# interface target (DPDK's include dirs as SYSTEM, its cflags without
# -march=corei7 so the bench's -march=native stays in force, -include
# rte_config.h kept); the bench builds without DPDK too (flowpipe rows only).

if(TARGET learn_bench AND DPDK_FOUND)
  if(NOT TARGET flowpipe_bench_dpdk)
    # dpdk.cmake has not run yet (module order): the same target, built the same way.
    add_library(flowpipe_bench_dpdk INTERFACE)
    target_include_directories(flowpipe_bench_dpdk SYSTEM INTERFACE ${DPDK_INCLUDE_DIRS})
    set(_flowpipe_learn_dpdk_opts ${DPDK_CFLAGS_OTHER})
    list(FILTER _flowpipe_learn_dpdk_opts EXCLUDE REGEX "^-march=")
    string(REPLACE ";" " " _flowpipe_learn_dpdk_opts "${_flowpipe_learn_dpdk_opts}")
    if(_flowpipe_learn_dpdk_opts)
      target_compile_options(flowpipe_bench_dpdk INTERFACE "SHELL:${_flowpipe_learn_dpdk_opts}")
    endif()
    target_link_libraries(flowpipe_bench_dpdk INTERFACE ${DPDK_LINK_LIBRARIES} ${DPDK_LDFLAGS_OTHER})
    target_compile_definitions(flowpipe_bench_dpdk INTERFACE FLOWPIPE_HAVE_DPDK=1)
  endif()
  target_link_libraries(learn_bench PRIVATE flowpipe_bench_dpdk)
  # The SWX learner API is experimental in DPDK 22.11.
  target_compile_definitions(learn_bench PRIVATE ALLOW_EXPERIMENTAL_API)
endif()
