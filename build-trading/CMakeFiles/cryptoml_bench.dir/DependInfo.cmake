
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/bench/indicators_bench.cpp" "CMakeFiles/cryptoml_bench.dir/bench/indicators_bench.cpp.o" "gcc" "CMakeFiles/cryptoml_bench.dir/bench/indicators_bench.cpp.o.d"
  "/work/main/bench/lstm_bench.cpp" "CMakeFiles/cryptoml_bench.dir/bench/lstm_bench.cpp.o" "gcc" "CMakeFiles/cryptoml_bench.dir/bench/lstm_bench.cpp.o.d"
  "/work/main/bench/xgb_bench.cpp" "CMakeFiles/cryptoml_bench.dir/bench/xgb_bench.cpp.o" "gcc" "CMakeFiles/cryptoml_bench.dir/bench/xgb_bench.cpp.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/main/build-trading/CMakeFiles/cryptoml_core.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
