# Peers for the benchmarks that compare against DPDK and Abseil: links DPDK
# (rte_hash) into exact_table_bench, and Abseil (flat_hash_map) into it and
# learn_bench, when they are found, and says so with FLOWPIPE_HAVE_DPDK /
# FLOWPIPE_HAVE_ABSL, so the benchmarks still build (flowpipe rows only) on
# a machine without them.
#
# DPDK's pkg-config cflags carry -march=corei7 and -include rte_config.h.
# Linking PkgConfig::DPDK directly would append -march=corei7 after the
# target's -march=native and silently drop AVX2/AVX-512, so this module
# builds its own interface target: DPDK's include dirs as SYSTEM (its headers
# warn under C++20 -Wvolatile), its non-include cflags minus any -march, and
# its link flags.

if(DPDK_FOUND AND NOT TARGET flowpipe_bench_dpdk)
  add_library(flowpipe_bench_dpdk INTERFACE)
  target_include_directories(flowpipe_bench_dpdk SYSTEM INTERFACE ${DPDK_INCLUDE_DIRS})
  set(_flowpipe_dpdk_opts ${DPDK_CFLAGS_OTHER})
  list(FILTER _flowpipe_dpdk_opts EXCLUDE REGEX "^-march=")
  # "-include rte_config.h" stays one option group (SHELL: keeps CMake from
  # de-duplicating or reordering its two words).
  string(REPLACE ";" " " _flowpipe_dpdk_opts "${_flowpipe_dpdk_opts}")
  if(_flowpipe_dpdk_opts)
    target_compile_options(flowpipe_bench_dpdk INTERFACE "SHELL:${_flowpipe_dpdk_opts}")
  endif()
  target_link_libraries(flowpipe_bench_dpdk INTERFACE ${DPDK_LINK_LIBRARIES} ${DPDK_LDFLAGS_OTHER})
  target_compile_definitions(flowpipe_bench_dpdk INTERFACE FLOWPIPE_HAVE_DPDK=1)
endif()

if(TARGET exact_table_bench AND TARGET flowpipe_bench_dpdk)
  target_link_libraries(exact_table_bench PRIVATE flowpipe_bench_dpdk)
endif()
# Abseil's flat_hash_map: a peer of exact_table_bench's lookups and of
# learn_bench's learns.
find_package(absl CONFIG QUIET)
if(absl_FOUND AND TARGET absl::flat_hash_map)
  foreach(bench exact_table_bench learn_bench)
    if(TARGET ${bench})
      target_link_libraries(${bench} PRIVATE absl::flat_hash_map absl::hash)
      target_compile_definitions(${bench} PRIVATE FLOWPIPE_HAVE_ABSL=1)
    endif()
  endforeach()
endif()
