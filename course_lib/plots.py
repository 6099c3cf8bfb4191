"""The figures every chapter draws: learning curves, prediction strips, confusion matrices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.ticker import MaxNLocator

from .data import ImageDataset


def to_numpy_image(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) uint8 or float in [0, 1] -> (H, W, 3) float in [0, 1] for imshow."""
    x = image.detach().cpu().float()
    if image.dtype == torch.uint8:
        x = x / 255.0
    return x.clamp(0, 1).permute(1, 2, 0).numpy()


def show_as_jpeg(fig, quality: int = 88) -> None:
    """Display a figure of photographs (image grids, CAM overlays) as a JPEG and close it.

    Photographs compress badly as PNG: a CAM grid of a few models is over 1 MB as PNG and a
    fifth of that as JPEG, which keeps the notebooks small enough to open on Colab and GitHub.
    Figures of lines and text stay PNG (``plt.show()``).
    """
    import io

    from IPython.display import Image, display

    buffer = io.BytesIO()
    fig.savefig(buffer, format="jpeg", dpi=fig.dpi, pil_kwargs={"quality": quality},
                bbox_inches="tight")  # fmt: skip
    plt.close(fig)
    display(Image(data=buffer.getvalue(), format="jpeg"))


def plot_class_grid(data: ImageDataset, per_class: int = 8, seed: int = 0):
    """A grid with ``per_class`` training images of every class, one row per class."""
    generator = torch.Generator().manual_seed(seed)
    fig, axes = plt.subplots(
        data.num_classes, per_class, figsize=(per_class * 0.8, data.num_classes * 0.8)
    )
    for row, name in enumerate(data.classes):
        idx = (data.train_labels == row).nonzero().flatten()
        pick = idx[torch.randperm(len(idx), generator=generator)[:per_class]]
        for col, i in enumerate(pick):
            ax = axes[row, col]
            ax.imshow(to_numpy_image(data.train_images[i]), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    fig.tight_layout(pad=0.2)
    return fig


def plot_history(histories: Mapping[str, object], title: str | None = None):
    """Learning curves of single runs, one per name: :func:`plot_seed_curves` with n = 1."""
    return plot_seed_curves({name: [h] for name, h in histories.items()}, title)


def plot_seed_curves(
    variants: Mapping[str, Sequence[object]], title: str | None = None, figsize=(13, 3.6)
):
    """Learning curves over several seeds: for each variant the mean over its runs (line) and
    the range from the lowest to the highest seed (band). Panels: the training loss every logged
    step; the validation loss per epoch; training (dashed) and validation (solid) accuracy."""
    fig, (ax_step, ax_loss, ax_acc) = plt.subplots(1, 3, figsize=figsize, dpi=100)

    def band(ax, x, series, color, label, **style):
        y = np.array(series, dtype=float)
        ax.plot(x, y.mean(0), color=color, label=label, **style)
        if len(y) > 1:
            ax.fill_between(x, y.min(0), y.max(0), color=color, alpha=0.18, lw=0)

    for i, (name, histories) in enumerate(variants.items()):
        color, n = f"C{i}", len(histories)
        label = f"{name} (n={n})"
        steps = min(len(h.step) for h in histories)
        band(ax_step, histories[0].step[:steps], [h.step_loss[:steps] for h in histories],
             color, label, lw=0.8)  # fmt: skip
        epochs = histories[0].epoch
        band(ax_loss, epochs, [h.val_loss for h in histories], color, label, marker="o", ms=3)
        band(ax_acc, epochs, [h.train_acc for h in histories], color, f"{name} train", ls="--")
        band(ax_acc, epochs, [h.val_acc for h in histories], color, f"{name} val",
             marker="o", ms=3)  # fmt: skip
    ax_step.set(xlabel="step", ylabel="training loss", title="training loss (every logged step)")
    ax_loss.set(xlabel="epoch", ylabel="validation loss", title="validation loss per epoch")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy: train (dashed), val (solid)")
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    for ax in (ax_step, ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    several = any(len(h) > 1 for h in variants.values())
    note = "lines: mean over seeds, bands: min to max" if several else ""
    fig.suptitle("; ".join(t for t in (title, note) if t), fontsize=9)
    fig.tight_layout()
    return fig


def plot_predictions(
    images: torch.Tensor,
    labels: Sequence[int],
    preds: Sequence[int],
    classes: Sequence[str],
    columns: int = 9,
):
    """The source notebooks' strip of test images with predicted and true labels (red when wrong).

    ``images`` are uint8 (N, 3, H, W) as stored, so no de-normalisation (and no clipping) is
    needed; pass ``denormalize(x, mean, std)`` instead for normalised inputs.
    """
    n = len(images)
    rows = (n + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.35, rows * 1.9), dpi=100)
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, image, y, p in zip(np.ravel(axes), images, labels, preds, strict=False):
        ax.imshow(to_numpy_image(image), interpolation="nearest")
        ok = int(y) == int(p)
        ax.set_title(
            f"pred {classes[int(p)]}\ntrue {classes[int(y)]}",
            fontsize=7,
            color="black" if ok else "red",
        )
    fig.tight_layout(pad=0.3, h_pad=0.8)
    return fig


def plot_confusion(matrix, classes: Sequence[str], title: str = "confusion matrix"):
    """Rows: true class; columns: predicted class; each row normalised to 1."""
    m = np.asarray(matrix, dtype=float)
    m = m / m.sum(axis=1, keepdims=True).clip(min=1)
    fig, ax = plt.subplots(figsize=(6.4, 5.6), dpi=100)
    im = ax.imshow(m, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=45, fontsize=9, ha="right")
    ax.set_yticks(range(len(classes)), classes, fontsize=9)
    for i in range(len(classes)):
        for j in range(len(classes)):
            if m[i, j] >= 0.05:
                ax.text(
                    j,
                    i,
                    f"{m[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=7.5,
                    color="white" if m[i, j] > 0.5 else "black",
                )
    ax.set(xlabel="predicted", ylabel="true", title=title)
    fig.colorbar(im, ax=ax, fraction=0.046, label="fraction of the true class's images")
    fig.tight_layout()
    return fig
