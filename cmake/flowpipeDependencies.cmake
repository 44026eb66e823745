# flowpipe's dependencies, found the same way for its own build and for
# consumers (flowpipeConfig.cmake includes this file).
find_package(Boost 1.71 REQUIRED)   # headers only: Hana
find_package(xsimd REQUIRED)
if(NOT TARGET xtl)
  # Debian's xsimd 8 exports a target that links an 'xtl' target it never
  # defines; without one CMake would pass -lxtl to the linker. xsimd needs
  # nothing of xtl, so an empty target is the honest stand-in.
  add_library(xtl INTERFACE IMPORTED)
endif()
