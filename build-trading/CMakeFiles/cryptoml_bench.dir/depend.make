# Empty dependencies file for cryptoml_bench.
# This may be replaced when dependencies are built.
