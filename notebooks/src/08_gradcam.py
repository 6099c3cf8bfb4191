# %% [markdown]
# # 08 · GradCAM and GradCAM++ in depth
#
# Every chapter so far drew class activation maps with `pytorch_grad_cam`. This chapter opens the
# box: the two methods from their equations, a from-scratch implementation checked number for
# number against the library, the maps of every AlexNet variant on the same eight test images,
# and — because "attention gives more focused maps" should be a measurement, not an impression —
# the maps' quality measured with the metrics `pytorch_grad_cam` ships. Last, LIME explains one
# prediction a completely different way, as seed 002 does.

# %%
# On Colab: fetch the course and install course_lib (elsewhere this cell does nothing).
import os
import subprocess
import sys

COURSE_REPO = os.environ.get("COURSE_REPO", "https://github.com/cnn-attention-course/course")
if "google.colab" in sys.modules and not os.path.exists("/content/course"):
    subprocess.run(["git", "clone", "--depth", "1", COURSE_REPO, "/content/course"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "/content/course"], check=True)
    sys.path.insert(0, "/content/course")
    os.environ["COURSE_DOWNLOAD"] = "1"  # Colab is online: torchvision may fetch CIFAR-10

# %% tags=["parameters"]
from course_lib.profiles import get_profile

P = get_profile()  # COURSE_PROFILE, or automatic: paper on a GPU, quick on a CPU
profile = P.name
image_size = P.image_size
epochs = P.epochs
batch_size = P.batch_size
lr = P.lr
seed = P.seed  # the run whose curves, predictions and CAMs are shown
seeds = list(P.seeds)  # every seed trained; [seed] alone is faster, but shows no spread
n_images = 8  # test images shown per model
quality_images = 4 if P.name == "smoke" else 16  # test images the quality metrics average over

# %%
import inspect

import matplotlib.pyplot as plt
import numpy as np
import torch

from course_lib.chapter import fixed_test_images, load_course_data, train_variant
from course_lib.data import EvalTransform
from course_lib.device import device_name
from course_lib.explain import (
    ScratchCAM,
    ScratchGradCAM,
    ScratchGradCAMPlusPlus,
    cam_quality,
    compute_cam,
    lime_explanation,
    overlay,
    plot_cam_grid,
    target_layer,
)

P = get_profile(profile, image_size=image_size, epochs=epochs, batch_size=batch_size, lr=lr,
                seed=seed, seeds=tuple(seeds))
plt.rcParams.update({"figure.dpi": 72})
print(f"profile {P.name} | device {device_name()} | {P}")

# %% [markdown]
# ## 1 · The math
#
# Let $A^k \in \mathbb R^{h\times w}$ be the $k$-th channel of a convolutional layer's output and
# $y^c$ the score (logit) of class $c$. **GradCAM** (Selvaraju et al., ICCV 2017) asks how much
# the score rises when channel $k$ rises, averaged over the map:
# $$ \alpha_k^c = \frac{1}{Z}\sum_{i,j} \frac{\partial y^c}{\partial A^k_{ij}}, \qquad
#    L^c_{\text{GradCAM}} = \mathrm{ReLU}\Big(\sum_k \alpha_k^c A^k\Big). $$
# The ReLU keeps the regions that speak *for* the class. Because $A$ sits after several
# poolings, $L^c$ is coarse ($h\times w$) and is upsampled to the image.
#
# **GradCAM++** (Chattopadhay et al., WACV 2018) notices that averaging gradients lets a large
# object drown a small one: a channel that fires strongly on a small region gets a small mean
# gradient. It weights each position instead,
# $$ w_k^c = \sum_{i,j} a^{kc}_{ij}\,\mathrm{ReLU}\Big(\frac{\partial y^c}{\partial A^k_{ij}}\Big),
#    \qquad a^{kc}_{ij} = \frac{g_{ij}^2}{2 g_{ij}^2 + \sum_{a,b} A^k_{ab}\, g_{ij}^3}, $$
# with $g = \partial y^c/\partial A^k$: the closed form of the paper's higher-order derivatives
# when the score is passed through an exponential (their Sec. 3.2), which is also what their code
# and `pytorch_grad_cam` use.
#
# Where to look: the output of the last convolutional block (AlexNet: the ReLU after conv5 and its
# attention module). Never an attention module's internal gate — Triplet Attention's gates live
# on rotated tensors whose axes are not (channel, height, width).

# %%
print(inspect.getsource(ScratchCAM.raw_maps))
print(inspect.getsource(ScratchGradCAM.channel_weights))
print(inspect.getsource(ScratchGradCAMPlusPlus.channel_weights))

# %% [markdown]
# ## 2 · From scratch against the library
#
# Same model, same layer, same classes: the maps must agree (both normalise each map to [0, 1]
# and upsample bilinearly). Stated tolerance: $10^{-4}$ on [0, 1] maps.

# %%
data = load_course_data(P)
names = {"AlexNet": None, "AlexNet-TA": "triplet", "AlexNet-SimAM": "simam", "AlexNet-SE": "se",
         "AlexNet-CBAM": "cbam", "AlexNet-PSA": "psa"}
runs = {name: train_variant(data, P, attention=att, seeds=[P.seed])[0] for name, att in names.items()}
images = fixed_test_images(data, n=n_images)
transform = EvalTransform(P.image_size, data.mean, data.std)
inputs = transform(data.test_images[images])
classes = data.test_labels[images].tolist()

# %%
# NBVAL_CHECK_OUTPUT
for name in ("AlexNet", "AlexNet-TA"):
    model = runs[name].model
    layer = next(n for n, m in model.named_modules() if m is target_layer(model))
    print(f"{name}: target layer features.{layer.split('.')[-1]}" if "." in layer else f"{name}: {layer}")
    for method, scratch in (("gradcam", ScratchGradCAM), ("gradcam++", ScratchGradCAMPlusPlus)):
        library = compute_cam(model, inputs, method, classes)
        ours = scratch(model)(inputs.to(next(model.parameters()).device), classes)
        print(f"  {method:9s} largest difference below 1e-4: {np.abs(library - ours).max() < 1e-4}")

# %% [markdown]
# ## 3 · Every model, the same eight images
#
# Rows: GradCAM and GradCAM++ for each AlexNet variant of chapters 01-05, all trained with the same
# recipe, profile and seed; columns: eight fixed test images, with their true class (the maps
# explain the true class).

# %%
maps = {}
for name, run in runs.items():
    for method, label in (("gradcam", "CAM"), ("gradcam++", "CAM++")):
        maps[f"{name}\n{label}"] = compute_cam(run.model, inputs, method, classes)
fig = plot_cam_grid(data.test_images[images], maps, [data.classes[c] for c in classes], cell=0.8)
plt.show()

# %% [markdown]
# ## 4 · Map quality as numbers
#
# Two metrics from `pytorch_grad_cam.metrics`, averaged over the first `quality_images` fixed
# test images:
#
# * **ROAD** (Rong et al., ICML 2022) removes the pixels a map ranks most relevant (MoRF) or least
#   relevant (LeRF) — 20, 40, 60, 80 % of them, filled in by noisy linear imputation so that the
#   removal itself leaves no tell-tale shape — and measures the class probability. The combined
#   score $(\Delta_{LeRF} - \Delta_{MoRF})/2$ is high when removing what the map highlights hurts
#   and removing the rest does not.
# * **Confidence change**: the class probability of the image multiplied by its map, minus that of
#   the image. Near zero or positive: the map kept what the model needs.
#
# A higher ROAD score for a variant would back the claim that its maps are more faithful — for this
# model at this profile, and only if the difference is larger than the spread across images.

# %%
q_images = fixed_test_images(data, n=quality_images)
q_inputs = transform(data.test_images[q_images])
q_classes = data.test_labels[q_images].tolist()
print(f"{'model':15s} {'method':9s} {'ROAD combined':>14s} {'confidence change':>18s}")
for name, run in runs.items():
    for method in ("gradcam", "gradcam++"):
        cams = compute_cam(run.model, q_inputs, method, q_classes)
        q = cam_quality(run.model, q_inputs, cams, q_classes)
        print(f"{name:15s} {method:9s} {q['road_combined']:14.4f} {q['confidence_change']:18.4f}")

# %% [markdown]
# ## 5 · LIME for one prediction
#
# LIME (Ribeiro et al., KDD 2016) needs no gradients and no layer: it switches groups of pixels
# off (here the cells of an 8 × 8 grid), asks the model about each perturbed image, and fits a
# sparse linear model whose coefficients say how much each cell pushes the class score. Seed 002
# explains one MogaNet prediction this way; here it stands beside GradCAM for the baseline and
# AlexNet-TA.

# %%
index = 0
fig, axes = plt.subplots(2, 3, figsize=(6.5, 4.4))
for row, name in enumerate(("AlexNet", "AlexNet-TA")):
    model = runs[name].model
    lime = lime_explanation(model, inputs[index], classes[index], cells=8,
                            samples=100 if P.name == "smoke" else 400)
    cam = compute_cam(model, inputs[index:index + 1], "gradcam", classes[index:index + 1])[0]
    axes[row, 0].imshow(data.test_images[images[index]].permute(1, 2, 0), interpolation="nearest")
    axes[row, 0].set_ylabel(name, fontsize=9)
    axes[row, 1].imshow(overlay(data.test_images[images[index]], cam))
    limit = float(lime.abs().max()) or 1.0
    axes[row, 2].imshow(lime, cmap="RdBu_r", vmin=-limit, vmax=limit)
for ax, title in zip(axes[0], (data.classes[classes[index]], "GradCAM", "LIME (red: for)")):
    ax.set_title(title, fontsize=9)
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Exercises
#
# 1. Compute GradCAM at conv3 instead of conv5 (`compute_cam(..., layer=model.features.relu3)`).
#    Sharper or noisier, and why?
# 2. Explain the *predicted* class instead of the true one for a misclassified image. What does
#    the map show?
# 3. Run the quality table with more images (`quality_images = 64`). Do the differences between
#    variants survive?
# 4. Replace the grid in LIME by 4 × 4 and 16 × 16 cells. How does the explanation change?
