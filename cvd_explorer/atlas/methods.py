"""Which explanation methods an atlas can use: layer maps computed for every layer in one pass."""

from __future__ import annotations

from cvd_explorer.explain.registry import DEFAULT_METHOD, PIXEL, method_spec


def atlas_method(name: str | None) -> str:
    """``name`` checked for the atlas (None: the registry's default method).

    Raises:
        ExplainError: an unknown method, one computed one layer at a time (costly), or one with no layer.
    """
    from cvd_explorer.explain.errors import ExplainError

    spec = method_spec(DEFAULT_METHOD if name is None else name)
    if spec.per_layer:
        raise ExplainError(f"{spec.name} is computed one layer at a time; the atlas needs every layer in one pass")
    if not spec.uses_layer or spec.family == PIXEL:
        raise ExplainError(
            f"{spec.name} is a pixel attribution; the atlas measures layer maps across depth, choose a CAM"
        )
    return spec.name


def method_name(name: str | None) -> str:
    """``name`` as registered (None: the default method), without importing the method's class.

    What reading an existing atlas needs: :func:`atlas_method`'s checks read the class's traits, which
    imports TensorFlow; an atlas folder only exists for a method that passed them when it was computed.

    Raises:
        ExplainError: an unknown method.
    """
    return method_spec(DEFAULT_METHOD if name is None else name).name
