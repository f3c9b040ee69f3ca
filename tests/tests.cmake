# Unit tests: tests/unit/test_NAME.c, each a cmocka program linked with the engine.
# Lab tests: tests/lab/NAME.sh, each a bash script driving the real binary; it gets
# the binary's path as $1 and the source dir as $2, and exits 0 only on success.
pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)

file(GLOB UNIT_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/unit/test_*.c)
file(GLOB UNIT_HELPERS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/unit/helper_*.c)
foreach(t ${UNIT_TESTS})
  get_filename_component(name ${t} NAME_WE)
  add_executable(${name} ${t} ${UNIT_HELPERS})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests/unit)
  target_link_libraries(${name} PRIVATE danemxcore PkgConfig::CMOCKA)
  add_test(NAME unit/${name} COMMAND ${name})
  set_tests_properties(unit/${name} PROPERTIES TIMEOUT 120
    ENVIRONMENT "DANEMX_SRC=${CMAKE_SOURCE_DIR};DANEMX_BIN=$<TARGET_FILE:danemx>")
endforeach()

file(GLOB LAB_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/lab/*.sh)
foreach(t ${LAB_TESTS})
  get_filename_component(name ${t} NAME_WE)
  add_test(NAME lab/${name} COMMAND bash ${t} $<TARGET_FILE:danemx> ${CMAKE_SOURCE_DIR})
  set_tests_properties(lab/${name} PROPERTIES TIMEOUT 300)
endforeach()
