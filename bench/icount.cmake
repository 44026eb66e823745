# learn_icount: the learn's instructions per learn under callgrind
# (scripts/learn_icount.sh). Not a Google Benchmark; built for x86-64-v3
# because valgrind does not run AVX-512 (the other benches use -march=native).
add_executable(learn_icount ${CMAKE_CURRENT_SOURCE_DIR}/learn_icount.cpp)
target_link_libraries(learn_icount PRIVATE flowpipe::flowpipe)
target_compile_options(learn_icount PRIVATE -march=x86-64-v3)
flowpipe_warnings(learn_icount)
