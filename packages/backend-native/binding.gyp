{
  "targets": [
    {
      "target_name": "ringtrain_dnnl",
      "sources": [
        "native/addon.cc",
        "native/runtime.cc",
        "native/conv.cc",
        "native/pool.cc",
        "native/matmul.cc",
        "native/elementwise.cc",
        "native/reduce.cc"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-fopenmp", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["-ldnnl", "-fopenmp"]
    }
  ]
}
