
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/test/unit/config_test.cpp" "CMakeFiles/cryptoml_unit.dir/test/unit/config_test.cpp.o" "gcc" "CMakeFiles/cryptoml_unit.dir/test/unit/config_test.cpp.o.d"
  "/work/main/test/unit/features_test.cpp" "CMakeFiles/cryptoml_unit.dir/test/unit/features_test.cpp.o" "gcc" "CMakeFiles/cryptoml_unit.dir/test/unit/features_test.cpp.o.d"
  "/work/main/test/unit/indicators_shared_data_test.cpp" "CMakeFiles/cryptoml_unit.dir/test/unit/indicators_shared_data_test.cpp.o" "gcc" "CMakeFiles/cryptoml_unit.dir/test/unit/indicators_shared_data_test.cpp.o.d"
  "/work/main/test/unit/indicators_test.cpp" "CMakeFiles/cryptoml_unit.dir/test/unit/indicators_test.cpp.o" "gcc" "CMakeFiles/cryptoml_unit.dir/test/unit/indicators_test.cpp.o.d"
  "/work/main/test/unit/log_level_test.cpp" "CMakeFiles/cryptoml_unit.dir/test/unit/log_level_test.cpp.o" "gcc" "CMakeFiles/cryptoml_unit.dir/test/unit/log_level_test.cpp.o.d"
  "/work/main/test/unit/lstm_test.cpp" "CMakeFiles/cryptoml_unit.dir/test/unit/lstm_test.cpp.o" "gcc" "CMakeFiles/cryptoml_unit.dir/test/unit/lstm_test.cpp.o.d"
  "/work/main/test/unit/model_test.cpp" "CMakeFiles/cryptoml_unit.dir/test/unit/model_test.cpp.o" "gcc" "CMakeFiles/cryptoml_unit.dir/test/unit/model_test.cpp.o.d"
  "/work/main/test/unit/trading_test.cpp" "CMakeFiles/cryptoml_unit.dir/test/unit/trading_test.cpp.o" "gcc" "CMakeFiles/cryptoml_unit.dir/test/unit/trading_test.cpp.o.d"
  "/work/main/test/unit/xgb_test.cpp" "CMakeFiles/cryptoml_unit.dir/test/unit/xgb_test.cpp.o" "gcc" "CMakeFiles/cryptoml_unit.dir/test/unit/xgb_test.cpp.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/main/build-trading/CMakeFiles/cryptoml_core.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
