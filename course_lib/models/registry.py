"""Models by name, the same in the CLI and the notebooks::

build_model("alexnet", attention="triplet", image_size=224, num_classes=10)
"""

from __future__ import annotations

import inspect

from torch import nn

from ..attention.registry import attention_key
from ..registry import Registry

MODELS = Registry("model")
register_model = MODELS.register


def build_model(name: str, **kwargs) -> nn.Module:
    """The model called ``name``; keyword arguments go to its constructor.

    The model gets a ``spec`` attribute (its name and arguments) that checkpoints record, so that
    a checkpoint is never loaded into a different model by mistake.
    """
    factory = MODELS.get(name)
    model = factory(**kwargs)
    # every argument, defaults included: a default changed in the library is a different model
    signature = inspect.signature(factory)
    arguments = signature.bind(**kwargs)
    arguments.apply_defaults()
    values = {}
    for key, value in arguments.arguments.items():
        if signature.parameters[key].kind is inspect.Parameter.VAR_KEYWORD:
            values.update(value)  # a factory's **kwargs: record the arguments themselves
        else:
            values[key] = value
    # an argument added to a model after runs were named, left at the default that builds the
    # model as it was before, is not recorded: the runs trained before keep their names
    for key in getattr(factory, "added_later", ()):
        if key in values and values[key] == signature.parameters[key].default:
            del values[key]
    plain = {k: v for k, v in values.items() if _plain(v)}
    if "attention" in plain:  # "none", "None" and None name the same model
        plain["attention"] = attention_key(plain["attention"])
    model.spec = {"name": name.lower(), **plain}
    return model


def check_model_request(name: str, attention: str | None = None, **kwargs) -> None:
    """Refuse, before any data is loaded or anything trained, a model that :func:`build_model`
    would refuse: an unknown model or attention name, an argument the model does not take, an
    attention module given to a model with its own, an image too small for the architecture.
    The model is built on PyTorch's meta device (shapes only, no memory, no weights), so the
    check is the constructor itself and says what it says."""
    import torch

    from ..attention.registry import ATTENTION

    factory = MODELS.get(name)
    if attention_key(attention) is not None:
        ATTENTION.get(attention_key(attention))
    try:
        with torch.device("meta"):
            build_model(name, attention=attention, **kwargs)
    except TypeError as err:  # an argument the model does not take
        takes = ", ".join(p for p in inspect.signature(factory).parameters if p != "kwargs")
        raise ValueError(f"model {name!r}: {err}; its arguments: {takes}") from None


def check_models(models: list[str], attentions: list[str | None], image_size: int,
                 model_kwargs: dict | None = None) -> None:  # fmt: skip
    """:func:`check_model_request` for every model with every attention module, as the runs
    would build them; the first one refused stops the caller."""
    for model in models:
        for attention in attentions:
            check_model_request(
                model, attention, image_size=image_size, num_classes=10, **(model_kwargs or {})
            )


def reject_attention(model_name: str, attention: str | None) -> None:
    """A clear error for a model with attention built in (EPSANet, MogaNet, ...) that is given
    an attention module by name."""
    if attention_key(attention) is not None:
        raise ValueError(
            f"{model_name} has its own attention built in and takes attention=None, got "
            f"{attention!r}; to try an attention module by name, use "
            "build_model('alexnet', attention=...)"
        )


def _plain(value) -> bool:
    return value is None or isinstance(value, (bool, int, float, str, list, tuple, dict))


def list_models() -> list[str]:
    return MODELS.names()
