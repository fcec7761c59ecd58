// Turns a NodeDef (op name, attributes, weights) into a ready-to-run Op with its weights
// packed for the chosen ISA, through the op's entry in the op registry (op_registry.hpp),
// which is the one place that knows the attribute names of FORMAT.md; ops themselves
// take plain C++ parameters.
#pragma once

#include <memory>
#include <string>

#include "mien/model/graph.hpp"
#include "mien/model/op_registry.hpp"

namespace mien {

namespace detail {

inline std::unique_ptr<Op> make_op_unchecked(const GraphDef& g, const NodeDef& n, Isa isa) {
  const OpSpec* spec = find_op_spec(n.op);
  if (!spec) spec = find_internal_op_spec(n.op);
  if (!spec) throw_error("unsupported op '", n.op, "'");
  const int arity = int(n.inputs.size());
  if (spec->min_inputs == spec->max_inputs)
    MIEN_CHECK(arity == spec->min_inputs, n.op, " takes ", spec->min_inputs, " input(s), got ",
               arity);
  else if (spec->max_inputs < 0)
    MIEN_CHECK(arity >= spec->min_inputs, n.op, " takes at least ", spec->min_inputs,
               " input(s), got ", arity);
  else
    MIEN_CHECK(arity >= spec->min_inputs && arity <= spec->max_inputs, n.op, " takes ",
               spec->min_inputs, " to ", spec->max_inputs, " inputs, got ", arity);
  return spec->make(OpContext(*spec, g, n, isa));
}

}  // namespace detail

inline std::unique_ptr<Op> make_op(const GraphDef& g, const NodeDef& n, Isa isa) {
  try {
    return detail::make_op_unchecked(g, n, isa);
  } catch (Error& e) {
    e.set_node(n.name);
    throw;
  }
}

}  // namespace mien
