{
  "targets": [
    {
      "target_name": "toa",
      "sources": ["src/native/addon.c", "src/native/lookup.c"],
      "cflags": ["-O2", "-std=gnu11", "-Wall", "-Wextra"]
    }
  ]
}
