# Empty compiler generated dependencies file for cryptoml_core.
# This may be replaced when dependencies are built.
