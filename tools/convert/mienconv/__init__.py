"""mien's model converters: TF.js, face-api, Keras HDF5 and ONNX -> .mien, .mien -> ONNX.

Run the tools as modules from tools/convert (or with PYTHONPATH=tools/convert):

    python3 -m mienconv.tfjs_to_mien      TF.js graph model -> .mien
    python3 -m mienconv.faceapi_to_mien   face-api FaceExpressionNet -> .mien
    python3 -m mienconv.keras_to_mien     Keras 2 HDF5 -> .mien
    python3 -m mienconv.onnx_to_mien      ONNX -> .mien
    python3 -m mienconv.mien_to_onnx      .mien -> ONNX (peer benchmarks)
    python3 -m mienconv.numpy_runner      run / check a .mien with the numpy interpreter
    python3 -m mienconv.convert_defaults  re-create weights/*.mien (convert_defaults.sh)

One pipeline for every front end:
    front end (tfjs/faceapi/keras/onnx_to_mien) builds an ir.Graph
    -> passes.simplify (BN folding, activation fusion, ...: the only copy in Python)
    -> writer.to_builder -> mienfile.GraphBuilder (+ test vectors) -> .mien file
Modules: ops (the one op table: op -> inputs, weights, attributes), ir (Graph, Node),
passes (rewrites), writer (ir -> GraphBuilder, value typing), mienfile (the file format and
GraphBuilder), numpy_runner (float64 interpreter of .mien graphs), kernels (float64 NHWC
kernels of the Keras reference pass), cli (shared flags, test inputs, checks),
tfjs_weights (TF.js manifests), onnx_reference (numpy ONNX interpreter), the front ends
and convert_defaults / update_crop_metadata (the shipped weights/).
"""
