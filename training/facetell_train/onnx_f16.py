"""Float16 storage of an exported classifier's weights, and its inverse.

export.py stores each float32 weight tensor as float16 plus a `Cast` back to float32 at the start
of the graph (half the file; the engines compute in float32 as before); quantize_check.py needs
the plain float32 graph back. Both directions live here so that they agree on the naming.
"""
import numpy as np
import onnx
from onnx import numpy_helper

# The float16 copy of weight `w` is the initializer `w` + SUFFIX, cast back into `w`.
SUFFIX = "_f16"


def store_weights_as_float16(path):
    """Rewrites the ONNX file at `path` so that each float32 weight tensor (64 values or more, all
    exactly representable in float16, as `model.as_shipped` makes them) is stored as float16 and
    cast back to float32 by a `Cast` node at the start of the graph. Returns how many were."""
    model = onnx.load(str(path))
    graph = model.graph
    casts = []
    for init in graph.initializer:
        if init.data_type != onnx.TensorProto.FLOAT:
            continue
        w = numpy_helper.to_array(init)
        half = w.astype(np.float16)
        if w.size < 64 or not np.array_equal(half.astype(np.float32), w):
            continue
        name = init.name
        init.CopyFrom(numpy_helper.from_array(half, name + SUFFIX))
        casts.append(onnx.helper.make_node("Cast", [name + SUFFIX], [name], to=onnx.TensorProto.FLOAT))
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return len(casts)


def weights_as_float32(path, out):
    """Writes to `out` the graph at `path` with the weights `store_weights_as_float16` stored as
    float16 turned back into float32 constants and their `Cast` nodes removed (same values)."""
    model = onnx.load(str(path))
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    keep = []
    for node in graph.node:
        stored = node.input[0] if node.op_type == "Cast" else None
        if stored in inits and stored.endswith(SUFFIX):
            w = numpy_helper.to_array(inits[stored]).astype(np.float32)
            inits[stored].CopyFrom(numpy_helper.from_array(w, node.output[0]))
        else:
            keep.append(node)
    del graph.node[:]
    graph.node.extend(keep)
    onnx.save(model, str(out))
