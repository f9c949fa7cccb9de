file(REMOVE_RECURSE
  "CMakeFiles/cryptoml_unit.dir/test/unit/config_test.cpp.o"
  "CMakeFiles/cryptoml_unit.dir/test/unit/config_test.cpp.o.d"
  "CMakeFiles/cryptoml_unit.dir/test/unit/features_test.cpp.o"
  "CMakeFiles/cryptoml_unit.dir/test/unit/features_test.cpp.o.d"
  "CMakeFiles/cryptoml_unit.dir/test/unit/indicators_shared_data_test.cpp.o"
  "CMakeFiles/cryptoml_unit.dir/test/unit/indicators_shared_data_test.cpp.o.d"
  "CMakeFiles/cryptoml_unit.dir/test/unit/indicators_test.cpp.o"
  "CMakeFiles/cryptoml_unit.dir/test/unit/indicators_test.cpp.o.d"
  "CMakeFiles/cryptoml_unit.dir/test/unit/log_level_test.cpp.o"
  "CMakeFiles/cryptoml_unit.dir/test/unit/log_level_test.cpp.o.d"
  "CMakeFiles/cryptoml_unit.dir/test/unit/lstm_test.cpp.o"
  "CMakeFiles/cryptoml_unit.dir/test/unit/lstm_test.cpp.o.d"
  "CMakeFiles/cryptoml_unit.dir/test/unit/model_test.cpp.o"
  "CMakeFiles/cryptoml_unit.dir/test/unit/model_test.cpp.o.d"
  "CMakeFiles/cryptoml_unit.dir/test/unit/trading_test.cpp.o"
  "CMakeFiles/cryptoml_unit.dir/test/unit/trading_test.cpp.o.d"
  "CMakeFiles/cryptoml_unit.dir/test/unit/xgb_test.cpp.o"
  "CMakeFiles/cryptoml_unit.dir/test/unit/xgb_test.cpp.o.d"
  "cryptoml_unit"
  "cryptoml_unit.pdb"
  "cryptoml_unit[1]_tests.cmake"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/cryptoml_unit.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
