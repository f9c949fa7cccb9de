# Empty compiler generated dependencies file for cryptoml_unit.
# This may be replaced when dependencies are built.
