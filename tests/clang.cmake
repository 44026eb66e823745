# The library is meant to build with clang too (the fuzz preset uses it), but
# the release build is g++: these tests compile the sources that instantiate
# the most templates (typed learn, the br-tun pipeline, the flow cache,
# lowering, the text syntax) with clang++ -fsyntax-only, so a g++-only
# construct fails CI instead of the next fuzzing session.
find_program(FLOWPIPE_CLANGXX NAMES clang++ clang++-14)
if(FLOWPIPE_CLANGXX)
  foreach(src action/learn_test.cpp action/lower_test.cpp neutron/traffic_test.cpp pipeline/flow_cache_test.cpp
              pipeline/typed_vs_generic_test.cpp ofctl/print_test.cpp)
    string(REPLACE "/" "_" name ${src})
    string(REGEX REPLACE "\\.cpp$" "" name ${name})
    add_test(NAME clang_syntax_${name}
             COMMAND ${FLOWPIPE_CLANGXX} -std=c++20 -fsyntax-only -Wall -Wextra
                     -I${PROJECT_SOURCE_DIR}/include -I${CMAKE_CURRENT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/${src})
    set_tests_properties(clang_syntax_${name} PROPERTIES LABELS clang)
  endforeach()
else()
  message(STATUS "clang tests: skipped, clang++ not found")
endif()
