# Consumer tests: flowpipe used the two ways a project can take it.
#
#   consumer_install        configures flowpipe's source tree afresh (tests,
#                           examples, benchmarks off) and installs it into
#                           <build>/tests/consumer/prefix.  A fixture, so it
#                           runs before the test that needs it.
#   consumer_find_package   builds and runs tests/consumer/find_package against
#                           that prefix with find_package(flowpipe).
#   consumer_add_subdirectory builds and runs tests/consumer/add_subdirectory,
#                           which pulls in the source tree itself.
#
# A fresh configure, not `cmake --install` of this build tree, so the install
# rules are tested alone: nothing the tests, examples or benchmarks install can
# leak into (or break) the package.  The consumers are configured with this
# build's compiler, flags and generator, so a sanitizer build checks them too.
#
# Run as a script (cmake -P) this file is the install step itself.

if(CMAKE_SCRIPT_MODE_FILE)
  cmake_minimum_required(VERSION 3.20)
  # -DSOURCE_DIR -DWORK_DIR -DGENERATOR -DCXX_COMPILER -DBUILD_TYPE
  file(REMOVE_RECURSE ${WORK_DIR}/build ${WORK_DIR}/prefix)
  execute_process(
    COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/build -G ${GENERATOR}
            -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_BUILD_TYPE=${BUILD_TYPE}
            -DCMAKE_INSTALL_PREFIX=${WORK_DIR}/prefix
            -DFLOWPIPE_BUILD_TESTS=OFF -DFLOWPIPE_BUILD_EXAMPLES=OFF -DFLOWPIPE_BUILD_BENCH=OFF
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "configuring flowpipe for install failed (${rc})")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "building flowpipe for install failed (${rc})")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} --install ${WORK_DIR}/build RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "installing flowpipe failed (${rc})")
  endif()
  foreach(f include/flowpipe/core/field.hpp include/flowpipe/match/schema.hpp
            share/cmake/flowpipe/flowpipeConfig.cmake share/cmake/flowpipe/flowpipeConfigVersion.cmake
            share/cmake/flowpipe/flowpipeTargets.cmake share/cmake/flowpipe/flowpipeDependencies.cmake)
    if(NOT EXISTS ${WORK_DIR}/prefix/${f})
      message(FATAL_ERROR "the install lacks ${f}")
    endif()
  endforeach()
  return()
endif()

set(FLOWPIPE_CONSUMER_DIR ${CMAKE_CURRENT_BINARY_DIR}/consumer)
if(CMAKE_BUILD_TYPE)
  set(FLOWPIPE_CONSUMER_BUILD_TYPE ${CMAKE_BUILD_TYPE})
else()
  set(FLOWPIPE_CONSUMER_BUILD_TYPE Release)
endif()
# What every consumer is configured with: this build's toolchain and flags.
set(FLOWPIPE_CONSUMER_OPTIONS
  -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}
  -DCMAKE_BUILD_TYPE=${FLOWPIPE_CONSUMER_BUILD_TYPE}
  "-DCMAKE_CXX_FLAGS=${CMAKE_CXX_FLAGS}"
  "-DCMAKE_EXE_LINKER_FLAGS=${CMAKE_EXE_LINKER_FLAGS}")

add_test(NAME consumer_install
  COMMAND ${CMAKE_COMMAND}
    -DSOURCE_DIR=${PROJECT_SOURCE_DIR} -DWORK_DIR=${FLOWPIPE_CONSUMER_DIR}
    -DGENERATOR=${CMAKE_GENERATOR} -DCXX_COMPILER=${CMAKE_CXX_COMPILER}
    -DBUILD_TYPE=${FLOWPIPE_CONSUMER_BUILD_TYPE}
    -P ${CMAKE_CURRENT_LIST_FILE})
set_tests_properties(consumer_install PROPERTIES
  FIXTURES_SETUP flowpipe_installed
  RESOURCE_LOCK flowpipe_consumer_prefix
  TIMEOUT 300)

add_test(NAME consumer_find_package
  COMMAND ${CMAKE_CTEST_COMMAND}
    --build-and-test ${CMAKE_CURRENT_SOURCE_DIR}/consumer/find_package ${FLOWPIPE_CONSUMER_DIR}/find_package
    --build-generator ${CMAKE_GENERATOR}
    --build-makeprogram ${CMAKE_MAKE_PROGRAM}
    --build-options ${FLOWPIPE_CONSUMER_OPTIONS}
      -DCMAKE_PREFIX_PATH=${FLOWPIPE_CONSUMER_DIR}/prefix
      # Only the install may satisfy find_package, never this build tree or
      # the user package registry.
      -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
    --test-command ${FLOWPIPE_CONSUMER_DIR}/find_package/consumer)
set_tests_properties(consumer_find_package PROPERTIES
  FIXTURES_REQUIRED flowpipe_installed
  RESOURCE_LOCK flowpipe_consumer_prefix
  TIMEOUT 300)

add_test(NAME consumer_add_subdirectory
  COMMAND ${CMAKE_CTEST_COMMAND}
    --build-and-test ${CMAKE_CURRENT_SOURCE_DIR}/consumer/add_subdirectory ${FLOWPIPE_CONSUMER_DIR}/add_subdirectory
    --build-generator ${CMAKE_GENERATOR}
    --build-makeprogram ${CMAKE_MAKE_PROGRAM}
    --build-options ${FLOWPIPE_CONSUMER_OPTIONS} -DFLOWPIPE_SOURCE_DIR=${PROJECT_SOURCE_DIR}
    --test-command ${FLOWPIPE_CONSUMER_DIR}/add_subdirectory/consumer)
set_tests_properties(consumer_add_subdirectory PROPERTIES
  TIMEOUT 300)
