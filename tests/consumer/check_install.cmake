# Proves the install and the exported CMake package: installs the build tree into a fresh prefix,
# then configures, builds and runs tests/consumer against that prefix only.
#
#   cmake -DBARK_BINARY_DIR=build -DWORK_DIR=/tmp/bark-consumer [-DCONFIG=Release]
#         [-DBARK_EXPECTED_VERSION=0.1.0] [-DGENERATOR=Ninja] [-DCXX_COMPILER=g++]
#         -P tests/consumer/check_install.cmake
# Registered in ctest as install:consumer (label "install").
cmake_minimum_required(VERSION 3.21)

foreach(var BARK_BINARY_DIR WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_install.cmake: -D${var}=... is required")
  endif()
endforeach()
get_filename_component(consumer_dir "${CMAKE_CURRENT_LIST_FILE}" DIRECTORY)
if(NOT CONFIG)
  set(CONFIG Release)
endif()
set(prefix "${WORK_DIR}/prefix")
set(build "${WORK_DIR}/build")

function(run what)
  message(STATUS "install check: ${what}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install check: ${what} failed (${rc}): ${ARGN}")
  endif()
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
run("install into ${prefix}"
    "${CMAKE_COMMAND}" --install "${BARK_BINARY_DIR}" --prefix "${prefix}" --config "${CONFIG}")

# The installed public headers must stand alone: no torch, c10, ATen, spdlog or fmt includes.
file(GLOB_RECURSE headers "${prefix}/include/bark/*")
if(NOT headers)
  message(FATAL_ERROR "install check: no headers under ${prefix}/include/bark")
endif()
foreach(header IN LISTS headers)
  file(STRINGS "${header}" bad REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"](torch|ATen|c10|spdlog|fmt|CLI)/")
  if(bad)
    message(FATAL_ERROR "install check: ${header} includes a private dependency: ${bad}")
  endif()
endforeach()
file(GLOB_RECURSE package_files "${prefix}/*/cmake/bark/barkConfig.cmake")
if(NOT package_files)
  message(FATAL_ERROR "install check: barkConfig.cmake not installed under ${prefix}")
endif()

set(configure_args -S "${consumer_dir}" -B "${build}"
    "-DCMAKE_PREFIX_PATH=${prefix}" "-DCMAKE_BUILD_TYPE=${CONFIG}"
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_EXPORT_COMPILE_COMMANDS=ON)
if(GENERATOR)
  list(APPEND configure_args -G "${GENERATOR}")
endif()
if(CXX_COMPILER)
  list(APPEND configure_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()
if(BARK_EXPECTED_VERSION)
  list(APPEND configure_args "-DBARK_EXPECTED_VERSION=${BARK_EXPECTED_VERSION}")
endif()
run("configure the consumer" "${CMAKE_COMMAND}" ${configure_args})

# find_package must have used the fresh prefix, not some other bark on the machine.
file(STRINGS "${build}/CMakeCache.txt" bark_dir_line REGEX "^bark_DIR:")
string(REGEX REPLACE "^bark_DIR:[A-Z]+=" "" bark_dir "${bark_dir_line}")
file(REAL_PATH "${prefix}" real_prefix)
file(REAL_PATH "${bark_dir}" real_bark_dir)
string(FIND "${real_bark_dir}" "${real_prefix}/" pos)
if(NOT pos EQUAL 0)
  message(FATAL_ERROR "install check: find_package(bark) used ${bark_dir}, not ${prefix}")
endif()

run("build the consumer" "${CMAKE_COMMAND}" --build "${build}" --config "${CONFIG}")
# Nor may the consumer's compile line name torch or spdlog (Makefile/Ninja generators write it).
if(EXISTS "${build}/compile_commands.json")
  file(READ "${build}/compile_commands.json" commands)
  if(commands MATCHES "torch|spdlog|ATen")
    message(FATAL_ERROR "install check: the consumer's compile line names torch or spdlog:\n${commands}")
  endif()
endif()
run("run the consumer" "${build}/bin/app" "${WORK_DIR}/out")
message(STATUS "install check: ok")
