"""The converter IR: one graph model for every front end (tfjs, faceapi, keras, onnx).

A Graph is .mien's graph while it is being built and rewritten: NHWC values, each node
produces one value named after the node, weights per node as {role: float32 ndarray},
nodes in topological order. Front ends add nodes; passes.py rewrites them; writer.py hands
the result to mienfile.GraphBuilder. A node may carry the shape ([H, W, C], -1 = any size)
and TF rank of its value for front ends that track them (tfjs); the file does not store them.
"""

import numpy as np


class ConvertError(Exception):
    """An input model that a converter cannot express; the message says what and where."""


class Node:
    __slots__ = ("op", "name", "inputs", "attrs", "weights", "shape", "rank")

    def __init__(self, op, name, inputs, attrs=None, weights=None, shape=None, rank=4):
        self.op = op
        self.name = name
        self.inputs = list(inputs)
        self.attrs = dict(attrs or {})
        self.weights = {k: np.asarray(v, dtype=np.float32) for k, v in (weights or {}).items()}
        self.shape = shape
        self.rank = rank

    def act(self):
        return self.attrs.get("activation", "none")

    def __repr__(self):
        return "Node(%s %s <- %s %s)" % (self.op, self.name, self.inputs, self.attrs)


class Graph:
    def __init__(self):
        self.inputs = []   # (name, h, w, c), -1 = any size
        self.nodes = []    # topological order
        self.outputs = []  # value names
        self._names = set()

    # -- construction ---------------------------------------------------------------
    def unique(self, base):
        base = base or "node"
        name, k = base, 1
        while name in self._names:
            name = "%s_%d" % (base, k)
            k += 1
        return name

    def has_name(self, name):
        return name in self._names

    def reserve(self, name):
        """Keeps `name` from being given to a new node (a front end's future output name)."""
        self._names.add(name)

    def reserve_all(self, names):
        self._names.update(names)

    def release(self, name):
        self._names.discard(name)

    def add_input(self, name, h, w, c):
        if name in self._names:
            raise ConvertError("duplicate graph input name '%s'" % name)
        self._names.add(name)
        self.inputs.append((name, int(h), int(w), int(c)))
        return name

    def add(self, op, name, inputs, attrs=None, weights=None, shape=None, rank=4):
        """Adds a node (named `name`, or `name_<k>` when taken); returns its value name."""
        name = self.unique(name)
        self._names.add(name)
        self.nodes.append(Node(op, name, inputs, attrs, weights, shape, rank))
        return name

    # -- queries ----------------------------------------------------------------------
    def producer_map(self):
        return {n.name: n for n in self.nodes}

    def reader_counts(self):
        counts = {}
        for n in self.nodes:
            for i in n.inputs:
                counts[i] = counts.get(i, 0) + 1
        for o in self.outputs:
            counts[o] = counts.get(o, 0) + 1000  # never fuse a graph output away
        return counts

    def readers_of(self, value):
        return [n for n in self.nodes if value in n.inputs]

    def value_names(self):
        return set(i[0] for i in self.inputs) | set(n.name for n in self.nodes)

    def op_counts(self):
        counts = {}
        for n in self.nodes:
            counts[n.op] = counts.get(n.op, 0) + 1
        return dict(sorted(counts.items()))

    # -- edits ------------------------------------------------------------------------
    def rename_value(self, old, new):
        for n in self.nodes:
            n.inputs = [new if i == old else i for i in n.inputs]
        self.outputs = [new if o == old else o for o in self.outputs]

    def rename_node(self, node, new):
        if new == node.name:
            return
        if new in self._names and not any(n is node for n in self.nodes if n.name == new):
            raise ConvertError("cannot rename '%s' to '%s': name taken" % (node.name, new))
        old = node.name
        node.name = new
        self._names.discard(old)
        self._names.add(new)
        self.rename_value(old, new)

    def remove(self, node):
        self.nodes = [n for n in self.nodes if n is not node]
        self._names.discard(node.name)

    def merge_into(self, producer, consumer, keep="producer"):
        """Removes `consumer`, whose work `producer` now does; its readers read the producer.
        keep="producer": the producer keeps its name, except that a graph output keeps its
        name (the producer takes it over). keep="consumer": the producer always takes the
        consumer's name (TF.js front end: a fused value is named after the last TF op, as
        TF's own fused ops are)."""
        cname = consumer.name
        self.remove(consumer)
        if keep == "consumer" or cname in self.outputs:
            self.rename_node(producer, cname)
        else:
            self.rename_value(cname, producer.name)
        if consumer.shape is not None:
            producer.shape, producer.rank = consumer.shape, consumer.rank

    # -- checks -----------------------------------------------------------------------
    def validate(self):
        defined = set(i[0] for i in self.inputs)
        for n in self.nodes:
            for i in n.inputs:
                if i not in defined:
                    raise ConvertError("node '%s' reads undefined value '%s'" % (n.name, i))
            if n.name in defined:
                raise ConvertError("value '%s' defined twice" % n.name)
            defined.add(n.name)
        for o in self.outputs:
            if o not in defined:
                raise ConvertError("graph output '%s' is not produced" % o)
