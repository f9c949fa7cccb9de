file(REMOVE_RECURSE
  "CMakeFiles/cryptoml_bench.dir/bench/indicators_bench.cpp.o"
  "CMakeFiles/cryptoml_bench.dir/bench/indicators_bench.cpp.o.d"
  "CMakeFiles/cryptoml_bench.dir/bench/lstm_bench.cpp.o"
  "CMakeFiles/cryptoml_bench.dir/bench/lstm_bench.cpp.o.d"
  "CMakeFiles/cryptoml_bench.dir/bench/xgb_bench.cpp.o"
  "CMakeFiles/cryptoml_bench.dir/bench/xgb_bench.cpp.o.d"
  "cryptoml_bench"
  "cryptoml_bench.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/cryptoml_bench.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
