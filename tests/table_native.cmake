# exact_id_index (the flow tables' exact index) once more for this machine's
# vector unit, as tests/CMakeLists.txt does for the other SIMD structures:
# the default test build targets baseline x86-64 (two 128-bit tag compares),
# so without this its 256-bit compare would only run in the benchmarks.
if(FLOWPIPE_HAS_MARCH_NATIVE AND TARGET table_exact_id_index_test AND NOT TARGET table_exact_id_index_test_native)
  add_executable(table_exact_id_index_test_native ${CMAKE_CURRENT_SOURCE_DIR}/table/exact_id_index_test.cpp)
  target_link_libraries(table_exact_id_index_test_native PRIVATE flowpipe::flowpipe GTest::gtest_main)
  target_compile_options(table_exact_id_index_test_native PRIVATE -march=native)
  flowpipe_warnings(table_exact_id_index_test_native)
  gtest_discover_tests(table_exact_id_index_test_native TEST_SUFFIX .native DISCOVERY_TIMEOUT 60)
endif()
