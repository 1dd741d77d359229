"""Check an ONNX graph against what the TensorRT 10 ONNX parser accepts, without TensorRT.

The supported operators, their data types and the attribute constraints that bite (no
``Equal`` on BOOL, pooling dilation 1, UINT8 only at the graph's inputs/outputs, Resize
modes, ...) are data: ``tensorrt_onnx_ops.yaml`` next to this file. Every export runs this
check, so a graph that TensorRT would reject fails on a machine without a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import onnx
import yaml

RULES_FILE = Path(__file__).with_name("tensorrt_onnx_ops.yaml")


@dataclass(frozen=True)
class Violation:
    """One reason TensorRT's parser would reject (or silently change) the graph."""

    node: str
    op_type: str
    reason: str

    def __str__(self) -> str:
        return f"{self.op_type} node {self.node!r}: {self.reason}"


class TensorRTCompatibilityError(ValueError):
    """The graph uses operators, types or attributes the TensorRT ONNX parser rejects."""


@cache
def load_rules(path: str | Path = RULES_FILE) -> dict:
    """The parsed rules file (cached)."""
    with open(path, encoding="utf-8") as handle:
        rules = yaml.safe_load(handle)
    ops = {}
    for name, spec in rules["operators"].items():
        if isinstance(spec, dict):
            ops[name] = (tuple(spec["types"]), int(spec.get("type_input", 0)))
        else:
            ops[name] = (tuple(spec), 0)
    rules["operators"] = ops
    return rules


def check_tensorrt_compat(model: str | Path | onnx.ModelProto, rules: dict | None = None) -> list[Violation]:
    """All violations of the TensorRT parser rules in ``model`` (empty list: compatible).

    Args:
        model: an ONNX file path or a loaded ``onnx.ModelProto``.
        rules: parsed rules (default: :func:`load_rules` of the packaged YAML).
    """
    rules = rules or load_rules()
    proto = onnx.load(str(model), load_external_data=False) if isinstance(model, (str, Path)) else model
    proto = onnx.shape_inference.infer_shapes(proto)
    graph = proto.graph
    types = _tensor_types(graph)
    constants = {init.name for init in graph.initializer}
    constants |= {out for node in graph.node if node.op_type == "Constant" for out in node.output}
    io_names = {v.name for v in graph.input} | {v.name for v in graph.output}
    violations: list[Violation] = []

    for opset in proto.opset_import:
        if opset.domain in ("", "ai.onnx") and not rules["opset"]["min"] <= opset.version <= rules["opset"]["max"]:
            violations.append(
                Violation(
                    "<model>",
                    "opset",
                    f"opset {opset.version} outside TensorRT's {rules['opset']['min']}..{rules['opset']['max']}",
                )
            )
    forbidden = set(rules["forbidden_types"])
    for name, type_name in types.items():
        if type_name in forbidden:
            violations.append(Violation(name, "tensor", f"type {type_name} is not a TensorRT type"))

    for index, node in enumerate(graph.node):
        label = node.name or f"#{index}"
        if node.domain not in ("", "ai.onnx"):
            violations.append(Violation(label, node.op_type, f"custom domain {node.domain!r} needs a plugin"))
            continue
        spec = rules["operators"].get(node.op_type)
        if spec is None:
            violations.append(Violation(label, node.op_type, "operator not supported by the TensorRT ONNX parser"))
            continue
        allowed, type_input = spec
        if type_input < len(node.input) and node.input[type_input]:
            data_type = types.get(node.input[type_input])
            if data_type is not None and data_type not in allowed:
                violations.append(Violation(label, node.op_type, f"input type {data_type} not in {list(allowed)}"))
        if rules.get("uint8_only_at_io_or_cast") and node.op_type != "Cast":
            for tensor in list(node.input) + list(node.output):
                if types.get(tensor) == "UINT8" and tensor not in io_names:
                    violations.append(
                        Violation(
                            label,
                            node.op_type,
                            f"UINT8 tensor {tensor!r} inside the graph "
                            "(TensorRT allows UINT8 only at network I/O, through Cast)",
                        )
                    )
        violations.extend(_attribute_violations(node, label, rules, constants))
    return violations


def assert_tensorrt_compat(model: str | Path | onnx.ModelProto) -> None:
    """Raise :class:`TensorRTCompatibilityError` listing every violation, if any."""
    violations = check_tensorrt_compat(model)
    if violations:
        listing = "\n  ".join(str(v) for v in violations[:30])
        more = f"\n  ... and {len(violations) - 30} more" if len(violations) > 30 else ""
        raise TensorRTCompatibilityError(
            f"{len(violations)} TensorRT ONNX-parser violation(s) in {getattr(model, 'name', model)}:"
            f"\n  {listing}{more}"
        )


def _tensor_types(graph) -> dict[str, str]:
    """Tensor name -> ONNX element type name, for every typed value in the graph."""
    types = {}
    for value in list(graph.input) + list(graph.output) + list(graph.value_info):
        elem = value.type.tensor_type.elem_type
        if elem:
            types[value.name] = onnx.TensorProto.DataType.Name(elem)
    for init in graph.initializer:
        types[init.name] = onnx.TensorProto.DataType.Name(init.data_type)
    for node in graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    types[node.output[0]] = onnx.TensorProto.DataType.Name(attr.t.data_type)
    return types


def _attribute_violations(node, label: str, rules: dict, constants) -> list[Violation]:
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    out: list[Violation] = []
    if node.op_type in rules["pooling_dilations_must_be_one"]:
        dilations = attrs.get("dilations")
        if dilations and any(int(d) != 1 for d in dilations):
            out.append(Violation(label, node.op_type, f"pooling dilations {list(dilations)} (TensorRT needs 1)"))
        kernel = attrs.get("kernel_shape", [])
        if kernel and len(kernel) not in rules["pooling_spatial_dims"]:
            out.append(Violation(label, node.op_type, f"{len(kernel)}-D pooling (TensorRT: 2-D or 3-D only)"))
    if node.op_type == "MaxPool" and not rules["maxpool_indices_output"] and len(node.output) > 1 and node.output[1]:
        out.append(Violation(label, node.op_type, "MaxPool Indices output is not supported"))
    if node.op_type == "Resize":
        for key, allowed in rules["resize"].items():
            default = {
                "mode": "nearest",
                "coordinate_transformation_mode": "half_pixel",
                "nearest_mode": "round_prefer_floor",
            }[key]
            value = attrs.get(key, default)
            value = value.decode() if isinstance(value, bytes) else value
            if value not in allowed:
                out.append(Violation(label, node.op_type, f"{key}={value!r} (TensorRT supports {allowed})"))
        if attrs.get("antialias"):
            out.append(Violation(label, node.op_type, "antialias resize is not supported"))
    if (
        node.op_type in ("ArgMax", "ArgMin")
        and int(attrs.get("select_last_index", 0)) != rules["argmax_select_last_index"]
    ):
        out.append(Violation(label, node.op_type, "select_last_index=1 is not supported"))
    if node.op_type in ("Conv", "ConvTranspose") and rules["conv_weights_constant"]:
        if len(node.input) > 1 and node.input[1] not in constants:
            out.append(Violation(label, node.op_type, "weights are not an initializer/Constant"))
    return out
