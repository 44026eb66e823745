# Tests of what must not compile (as {fmt}'s test/compile-error-test).
#
# Each tests/compile_fail/<name>.cpp becomes the CTest test compile_fail.<name>,
# which runs the compiler with -fsyntax-only on it:
#
#   - <name>_ok.cpp must compile: a positive control that proves the harness
#     (flags, include paths) would let a correct file through, so the failures
#     below fail for the reason they state and not for a missing include.
#   - every other file must fail to compile AND the compiler's output must
#     contain the message its first line states:
#         // expect: a bit range must lie inside its field
#     (the text of the static_assert, compared literally, not as a regex).
#
# The compiler is this build's C++ compiler with -std=c++20 and the include
# directories of flowpipe::flowpipe and its dependencies (Boost, xsimd); no
# other flags, so a case fails only through flowpipe's own checks.
#
# Run as a script (cmake -P) this file is the check for one case.

if(CMAKE_SCRIPT_MODE_FILE)
  cmake_minimum_required(VERSION 3.20)
  # -DCXX -DSOURCE -DINCLUDES=<dirs joined by |> -DIMPLICIT=<dirs joined by |>
  # The compiler's own directories are left out: `-I/usr/include` would break
  # libstdc++'s #include_next <stdlib.h>.
  string(REPLACE "|" ";" includes "${INCLUDES}")
  string(REPLACE "|" ";" implicit "${IMPLICIT}")
  list(REMOVE_DUPLICATES includes)
  set(args -std=c++20 -fsyntax-only)
  foreach(dir IN LISTS includes)
    if(NOT dir IN_LIST implicit)
      list(APPEND args -I${dir})
    endif()
  endforeach()
  execute_process(COMMAND ${CXX} ${args} ${SOURCE}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  get_filename_component(name ${SOURCE} NAME_WE)
  if(name MATCHES "_ok$")
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "${SOURCE} must compile but did not:\n${out}")
    endif()
    message(STATUS "${SOURCE} compiles, as it must")
    return()
  endif()
  file(STRINGS ${SOURCE} first LIMIT_COUNT 1)
  if(NOT first MATCHES "^// expect: (.+)$")
    message(FATAL_ERROR "${SOURCE} must start with a line '// expect: <static_assert message>'")
  endif()
  set(expected "${CMAKE_MATCH_1}")
  string(STRIP "${expected}" expected)
  if(rc EQUAL 0)
    message(FATAL_ERROR "${SOURCE} compiled, but must fail with \"${expected}\"")
  endif()
  string(FIND "${out}" "${expected}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${SOURCE} failed to compile, but without \"${expected}\":\n${out}")
  endif()
  message(STATUS "${SOURCE} fails with \"${expected}\", as it must")
  return()
endif()

file(GLOB FLOWPIPE_COMPILE_FAIL_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/compile_fail/*.cpp)
list(SORT FLOWPIPE_COMPILE_FAIL_SOURCES)
string(REPLACE ";" "|" FLOWPIPE_IMPLICIT_INCLUDES "${CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES}")
foreach(src IN LISTS FLOWPIPE_COMPILE_FAIL_SOURCES)
  get_filename_component(name ${src} NAME_WE)
  if(NOT name MATCHES "_ok$")
    # A must-fail case without its expectation would pass on any error.
    file(STRINGS ${src} first LIMIT_COUNT 1)
    if(NOT first MATCHES "^// expect: .+")
      message(FATAL_ERROR "${src} must start with a line '// expect: <static_assert message>'")
    endif()
  endif()
  add_test(NAME compile_fail.${name}
    COMMAND ${CMAKE_COMMAND}
      -DCXX=${CMAKE_CXX_COMPILER}
      -DSOURCE=${src}
      # flowpipe's include directory and, transitively, Boost's and xsimd's.
      "-DINCLUDES=$<JOIN:$<TARGET_PROPERTY:flowpipe,INTERFACE_INCLUDE_DIRECTORIES>,|>"
      "-DIMPLICIT=${FLOWPIPE_IMPLICIT_INCLUDES}"
      -P ${CMAKE_CURRENT_LIST_FILE})
  set_tests_properties(compile_fail.${name} PROPERTIES TIMEOUT 120 LABELS compile_fail)
endforeach()
