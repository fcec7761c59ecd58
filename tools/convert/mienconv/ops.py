"""The one table of .mien ops on the Python side (include/mien/model/FORMAT.md, "Ops").

Everything else reads it: mienfile.GraphBuilder refuses ops and activations not listed here,
numpy_runner checks that it implements exactly these ops and how many inputs each takes,
writer types attribute values by it (float64 stays float even when written 1), and the
conversion passes take WEIGHTED_OPS / FUSES_ACTIVATION from here. It is a plain literal on
purpose (ast.literal_eval reads it; `python3 -m mienconv.ops` prints it as JSON), so that a
test can compare it with the C++ op registry.

OPS: op name -> {
    "inputs":  [min, max] number of input values (max -1 = any number),
    "weights": {role: "required" | "optional"}   tensors "<node>/<role>",
    "attrs":   {attribute: FORMAT.md type}       all optional, defaults as FORMAT.md says,
}
To add an op: a row here, its kernel in numpy_runner.py (op_<name>), its export in
mien_to_onnx.py, and whichever front ends emit it (and a case in test_converters.py).
"""

OPS = {
    "conv2d": {
        "inputs": [1, 1],
        "weights": {"weight": "required", "bias": "optional", "slopes": "optional"},
        "attrs": {
            "strides": "int64[2]", "dilations": "int64[2]", "padding": "string",
            "pads": "int64[4]", "activation": "string", "alpha": "float64",
            "clip": "float64[2]",
        },
    },
    # int8 conv2d written by `mien quantize`: weight holds int8 values (dtype i8), weight_scale
    # one float per output channel; the input is quantized with input_scale/input_zero_point.
    "qconv2d": {
        "inputs": [1, 1],
        "weights": {"weight": "required", "weight_scale": "required", "bias": "optional",
                    "slopes": "optional"},
        "attrs": {
            "strides": "int64[2]", "dilations": "int64[2]", "padding": "string",
            "pads": "int64[4]", "activation": "string", "alpha": "float64",
            "clip": "float64[2]", "input_scale": "float64", "input_zero_point": "int64",
        },
    },
    "depthwise_conv2d": {
        "inputs": [1, 1],
        "weights": {"weight": "required", "bias": "optional", "slopes": "optional"},
        "attrs": {
            "strides": "int64[2]", "dilations": "int64[2]", "padding": "string",
            "pads": "int64[4]", "activation": "string", "alpha": "float64",
            "clip": "float64[2]",
        },
    },
    "dense": {
        "inputs": [1, 1],
        "weights": {"weight": "required", "bias": "optional", "slopes": "optional"},
        "attrs": {
            "activation": "string", "alpha": "float64", "clip": "float64[2]",
        },
    },
    "max_pool": {
        "inputs": [1, 1],
        "weights": {},
        "attrs": {
            "kernel": "int64[2]", "strides": "int64[2]", "padding": "string",
            "pads": "int64[4]",
        },
    },
    "avg_pool": {
        "inputs": [1, 1],
        "weights": {},
        "attrs": {
            "kernel": "int64[2]", "strides": "int64[2]", "padding": "string",
            "pads": "int64[4]",
        },
    },
    "global_avg_pool": {
        "inputs": [1, 1],
        "weights": {},
        "attrs": {},
    },
    "add": {
        "inputs": [2, 2],
        "weights": {"slopes": "optional"},
        "attrs": {
            "activation": "string", "alpha": "float64", "clip": "float64[2]",
        },
    },
    "mul": {
        "inputs": [1, 2],
        "weights": {"scale": "optional"},
        "attrs": {},
    },
    "concat": {
        "inputs": [1, -1],
        "weights": {},
        "attrs": {},
    },
    "pad": {
        "inputs": [1, 1],
        "weights": {},
        "attrs": {
            "pads": "int64[6]", "value": "float64",
        },
    },
    "upsample_nearest": {
        "inputs": [1, 1],
        "weights": {},
        "attrs": {
            "scale": "int64",
        },
    },
    "resize_bilinear": {
        "inputs": [1, 1],
        "weights": {},
        "attrs": {
            "size": "int64[2]", "align_corners": "int64", "half_pixel_centers": "int64",
        },
    },
    "reshape": {
        "inputs": [1, 1],
        "weights": {},
        "attrs": {
            "shape": "int64[3]",
        },
    },
    "flatten": {
        "inputs": [1, 1],
        "weights": {},
        "attrs": {},
    },
    "batch_norm": {
        "inputs": [1, 1],
        "weights": {"scale": "required", "shift": "required"},
        "attrs": {},
    },
    "activation": {
        "inputs": [1, 1],
        "weights": {"slopes": "optional"},
        "attrs": {
            "type": "string", "alpha": "float64", "clip": "float64[2]",
        },
    },
    "softmax": {
        "inputs": [1, 1],
        "weights": {},
        "attrs": {},
    },
    "squeeze_excite": {
        "inputs": [1, 1],
        "weights": {"w1": "required", "b1": "required", "w2": "required", "b2": "required"},
        "attrs": {},
    },
}

# Values of `activation` (and of the activation op's `type`).
ACTIVATIONS = ("none", "relu", "relu6", "clip", "leaky_relu", "prelu", "sigmoid", "tanh",
               "swish", "hard_swish")

# Ops whose weight ends in the output-channel axis, so a following batch_norm folds into
# them (weight * scale, bias * scale + shift).
WEIGHTED_OPS = ("conv2d", "depthwise_conv2d", "dense")

# Ops with an `activation` epilogue that a following activation node can be fused into.
FUSES_ACTIVATION = tuple(op for op, spec in OPS.items() if "activation" in spec["attrs"])


if __name__ == "__main__":
    import json
    print(json.dumps({"ops": OPS, "activations": list(ACTIVATIONS)}, indent=1))
