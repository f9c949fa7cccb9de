file(REMOVE_RECURSE
  "CMakeFiles/cryptoml_core.dir/src/core/config.cpp.o"
  "CMakeFiles/cryptoml_core.dir/src/core/config.cpp.o.d"
  "CMakeFiles/cryptoml_core.dir/src/core/features.cpp.o"
  "CMakeFiles/cryptoml_core.dir/src/core/features.cpp.o.d"
  "CMakeFiles/cryptoml_core.dir/src/core/indicators.cpp.o"
  "CMakeFiles/cryptoml_core.dir/src/core/indicators.cpp.o.d"
  "CMakeFiles/cryptoml_core.dir/src/core/log_level.cpp.o"
  "CMakeFiles/cryptoml_core.dir/src/core/log_level.cpp.o.d"
  "CMakeFiles/cryptoml_core.dir/src/core/lstm.cpp.o"
  "CMakeFiles/cryptoml_core.dir/src/core/lstm.cpp.o.d"
  "CMakeFiles/cryptoml_core.dir/src/core/model.cpp.o"
  "CMakeFiles/cryptoml_core.dir/src/core/model.cpp.o.d"
  "CMakeFiles/cryptoml_core.dir/src/core/trading.cpp.o"
  "CMakeFiles/cryptoml_core.dir/src/core/trading.cpp.o.d"
  "CMakeFiles/cryptoml_core.dir/src/core/xgb.cpp.o"
  "CMakeFiles/cryptoml_core.dir/src/core/xgb.cpp.o.d"
  "libcryptoml_core.a"
  "libcryptoml_core.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/cryptoml_core.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
