"""Pytrees to ``.npz`` and back, without pickle.

A checkpoint stores each leaf of a pytree under its path (``learner.online.params...``),
as plain arrays. Loading needs a *template*: the same pytree built fresh from the
run's config, whose structure, shapes and dtypes the file must match leaf for leaf. So
a file from someone else can only ever fill arrays into a structure qlearn built
itself; nothing in it is executed.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from qlearn.core.errors import QlearnError


def _name(path) -> str:
    parts = []
    for entry in path:
        for attr in ("name", "key", "idx"):
            if hasattr(entry, attr):
                parts.append(str(getattr(entry, attr)))
                break
    return ".".join(parts) or "root"


def flatten(tree: Any, prefix: str = "") -> dict[str, np.ndarray]:
    """``{path: array}`` for every leaf of ``tree`` (paths prefixed by ``prefix``)."""
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {prefix + _name(path): np.asarray(leaf) for path, leaf in leaves}


def unflatten(template: Any, arrays: dict[str, np.ndarray], source: str, prefix: str = "") -> Any:
    """``template`` with every leaf replaced by the array saved under its path.

    Refuses (QlearnError) a file with a missing leaf or a leaf of another shape or
    dtype: it was written by another configuration or is not a qlearn checkpoint.
    """
    paths, treedef = jax.tree_util.tree_flatten_with_path(template)
    leaves = []
    for path, leaf in paths:
        name = prefix + _name(path)
        if name not in arrays:
            raise QlearnError(
                f"{source} does not match this run's configuration (missing {name!r}); "
                "it was written by another configuration or is not a qlearn checkpoint"
            )
        value = arrays[name]
        shape, dtype = tuple(np.shape(leaf)), np.dtype(leaf.dtype)
        if value.shape != shape or value.dtype != dtype:
            raise QlearnError(
                f"{source}: {name!r} has shape {value.shape} {value.dtype}, this run's "
                f"configuration needs {shape} {dtype}"
            )
        leaves.append(value)
    return jax.tree_util.tree_unflatten(treedef, leaves)
