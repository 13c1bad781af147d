"""An iterative topological sort of a Keras functional graph, so depth is not limited by
Python's recursion limit.

`keras.Model(inputs, outputs)` orders the graph's nodes with `_build_map`, a depth-first search
that recurses once per node on the longest path: ResNet-1202 (He et al. 2016, section 4.2)
has about 4,000 nodes in a row and ends in `RecursionError` at the default limit of 1,000;
~700 sequential blocks do too. Raising the recursion limit would only move the wall (and
uses C stack in GUI worker threads), so `install()` replaces that one function with the same
depth-first search driven by an explicit stack. It visits the nodes in exactly the same order
(`tests/core/test_deep_models.py` compares both on a branching graph), so layer order and the
weights of a seeded build are unchanged.

`_build_map` is Keras-internal (keras.src, reached through core/keras_private.py); if a Keras
upgrade moves it, `install()` does nothing and the test above fails loudly rather than the app
breaking.
"""

from __future__ import annotations

from typing import Any

from resnet_studio.core import keras_private

_installed = False
_keras_build_map: Any = None  # Keras's own, kept for the test that compares the two


def build_map(inputs: Any, outputs: Any) -> tuple[list[Any], dict[Any, int]]:
    """Drop-in for `keras.src.ops.function._build_map` without recursion.

    Returns:
        (nodes from inputs to outputs, operation -> index of first traversal), as Keras's.

    Raises:
        ValueError: the graph has a cycle (Keras's message).
    """
    import keras

    tree = keras.tree
    finished: set[Any] = set()
    in_progress: set[Any] = set()
    ordered: list[Any] = []
    operation_indices: dict[Any, int] = {}
    flat_inputs = tree.flatten(inputs)

    def enter(tensor: Any) -> Any:
        """Keras's checks on arriving at `tensor`; the node to expand, or None."""
        operation, node_index, _ = keras_private.keras_history(tensor)
        if not operation:
            return None
        node = keras_private.inbound_nodes(operation)[node_index]
        if node in finished:
            return None
        if not node.is_input and any(tensor is t for t in flat_inputs):
            finished.add(node)
            return None
        if node in in_progress:
            raise ValueError(
                f"Tensor {tensor} from operation '{operation.name}' is part of a cycle.")
        if operation not in operation_indices:
            operation_indices[operation] = len(operation_indices)
        in_progress.add(node)
        return node

    done = object()
    for output in tree.flatten(outputs):
        node = enter(output)
        if node is None:
            continue
        stack = [(node, iter(() if node.is_input else node.input_tensors))]
        while stack:
            node, pending = stack[-1]
            tensor = next(pending, done)
            if tensor is done:
                stack.pop()
                finished.add(node)
                in_progress.remove(node)
                ordered.append(node)
                continue
            child = enter(tensor)
            if child is not None:
                stack.append((child, iter(() if child.is_input else child.input_tensors)))
    return ordered, operation_indices


def install() -> None:
    """Makes Keras use `build_map` (idempotent)."""
    global _installed, _keras_build_map
    if _installed:
        return
    keras_build_map = keras_private.replace_build_map(build_map)
    if keras_build_map is None:
        return
    _keras_build_map = keras_build_map
    _installed = True
