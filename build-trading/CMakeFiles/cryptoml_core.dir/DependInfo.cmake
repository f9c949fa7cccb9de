
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/src/core/config.cpp" "CMakeFiles/cryptoml_core.dir/src/core/config.cpp.o" "gcc" "CMakeFiles/cryptoml_core.dir/src/core/config.cpp.o.d"
  "/work/main/src/core/features.cpp" "CMakeFiles/cryptoml_core.dir/src/core/features.cpp.o" "gcc" "CMakeFiles/cryptoml_core.dir/src/core/features.cpp.o.d"
  "/work/main/src/core/indicators.cpp" "CMakeFiles/cryptoml_core.dir/src/core/indicators.cpp.o" "gcc" "CMakeFiles/cryptoml_core.dir/src/core/indicators.cpp.o.d"
  "/work/main/src/core/log_level.cpp" "CMakeFiles/cryptoml_core.dir/src/core/log_level.cpp.o" "gcc" "CMakeFiles/cryptoml_core.dir/src/core/log_level.cpp.o.d"
  "/work/main/src/core/lstm.cpp" "CMakeFiles/cryptoml_core.dir/src/core/lstm.cpp.o" "gcc" "CMakeFiles/cryptoml_core.dir/src/core/lstm.cpp.o.d"
  "/work/main/src/core/model.cpp" "CMakeFiles/cryptoml_core.dir/src/core/model.cpp.o" "gcc" "CMakeFiles/cryptoml_core.dir/src/core/model.cpp.o.d"
  "/work/main/src/core/trading.cpp" "CMakeFiles/cryptoml_core.dir/src/core/trading.cpp.o" "gcc" "CMakeFiles/cryptoml_core.dir/src/core/trading.cpp.o.d"
  "/work/main/src/core/xgb.cpp" "CMakeFiles/cryptoml_core.dir/src/core/xgb.cpp.o" "gcc" "CMakeFiles/cryptoml_core.dir/src/core/xgb.cpp.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
