"""Running a network for inspection: evaluation mode for a block of code, then the network as it
was — its training/eval mode restored and the hooks that read it removed."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from torch import nn
from torch.utils.hooks import RemovableHandle


@contextmanager
def inspecting(model: nn.Module, hooks: Iterable[RemovableHandle] = ()) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode for the block; afterwards (also after an error) remove
    ``hooks`` and give the model back its training or eval mode."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
