file(REMOVE_RECURSE
  "libcryptoml_core.a"
)
