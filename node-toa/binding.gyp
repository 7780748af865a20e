{
  "targets": [
    {
      "target_name": "toa",
      "sources": ["src/native/addon.cc", "src/native/lookup.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_DISABLE_CPP_EXCEPTIONS", "NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "cflags_cc": ["-O2", "-fno-exceptions", "-std=c++17", "-Wall", "-Wextra"]
    }
  ]
}
