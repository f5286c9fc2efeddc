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
        "native/reduce.cc",
        "native/batch_norm_train.cc",
        "native/sgd.cc"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-ffp-contract=off", "-fopenmp", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["-ldnnl", "-fopenmp"]
    }
  ]
}
