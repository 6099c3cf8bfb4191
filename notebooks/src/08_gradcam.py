# %% [markdown]
# # 08 · GradCAM and GradCAM++ in depth — and whether to trust them
#
# Every chapter so far drew class activation maps with `pytorch_grad_cam`. This chapter opens the
# box: the two methods from their equations, a from-scratch implementation checked number for
# number against the library, the resolution a CAM really has, the maps of every AlexNet variant
# with their predictions, and then three questions a map must answer before it is believed:
# does it beat maps that know nothing about the model (a random map, a centred blob), does it
# change when the model's weights are destroyed (the sanity check of Adebayo et al., 2018), and
# does a method that works completely differently (LIME, as in source 002) point at the same
# regions? Every number in the prose is computed in the cell that prints it.

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

P = get_profile()  # COURSE_PROFILE, or automatic: gpu on a CUDA machine, quick on a CPU
profile = P.name
image_size = P.image_size
epochs = P.epochs
batch_size = P.batch_size
lr = P.lr
seed = P.seed  # the run whose curves, predictions and CAMs are shown
seeds = list(P.seeds)  # every seed trained; [seed] alone is faster, but shows no spread
n_images = 8  # test images shown per model
# test images the quality metrics score; ROAD costs ~0.8 s per image and map at 128 px on one
# CPU core (quick: about 25 minutes for the whole section, once: the scores are kept in each
# run's folder, keyed by the weights, images and maps, and read back on the next execution)
quality_images = {"smoke": 8, "quick": 200}.get(P.name, 500)
# the first of them on which every other model's GradCAM meets its own baselines (3 maps each)
variant_images = {"smoke": 8, "quick": 100}.get(P.name, 250)
sanity_images = {"smoke": 6, "quick": 64}.get(P.name, 128)  # images of the randomisation check
agreement_images = {"smoke": 3, "quick": 20}.get(P.name, 50)  # images LIME and GradCAM compare on
lime_segmentation = "slic"  # source 002: "quickshift" (lime's defaults); "grid": cheap, no segments
lime_segments = 50  # SLIC's target number of superpixels (grid: cells per side = 8)
lime_samples = {"smoke": 60, "quick": 1000}.get(P.name, 2000)  # source 002: 10_000

# %%
from course_lib import chapter

P = chapter.start(profile, image_size=image_size, epochs=epochs, batch_size=batch_size, lr=lr,
                  seed=seed, seeds=seeds)

# %%
import inspect

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from skimage.segmentation import mark_boundaries

from course_lib.data import EvalTransform
from course_lib.explain import (
    ScratchCAM,
    ScratchGradCAM,
    ScratchGradCAMPlusPlus,
    alexnet_cascade,
    blob_maps,
    cascading_randomisation,
    compute_cam,
    gradcam_explainer,
    grid_segments,
    lime_explanation,
    overlay,
    plot_cam_grid,
    random_maps,
    region_agreement,
    road_scores,
    spearman_per_image,
    superpixel_segments,
    target_layer,
)
from course_lib.models import alexnet_feature_sizes, alexnet_receptive_fields
from course_lib.plots import show_as_jpeg
from course_lib.reading import central_fraction, central_peak_chance
from course_lib.profiles import PROFILES
from course_lib.experiments.stats import compare_pairs, compare_to_baseline, format_p, summarize_finite
from course_lib.train import predict


def interval(values, digits=4):
    """'mean [low, high] (n = ...)' of finite values, with the 95 % t-interval."""
    s = summarize_finite(values)
    if s.n < 2:
        return f"{s.mean:.{digits}f} (n = {s.n}, no interval)"
    return f"{s.mean:.{digits}f} [{s.low:.{digits}f}, {s.high:.{digits}f}] (n = {s.n})"


def diff_text(d, digits=4):
    """A paired difference in words: estimate, interval, Holm p and the verdict of stats."""
    if np.isnan(d.low):
        return f"{d.diff:+.{digits}f} ({d.verdict()})"
    return (f"{d.diff:+.{digits}f} [{d.low:+.{digits}f}, {d.high:+.{digits}f}], "
            f"p (Holm) = {format_p(d.p_holm)}, {d.n_pairs} images: {d.verdict()}")

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
# and `pytorch_grad_cam` use. Both add a small $\varepsilon$ to the denominator so that it never
# divides by 0 — `pytorch_grad_cam` a fixed $10^{-6}$. Whether that is small depends on the
# gradients' scale; section 3 measures it.
#
# Where to look: the output of the last convolutional block (AlexNet: the ReLU after conv5 and its
# attention module). Never an attention module's internal gate — Triplet Attention's gates live
# on rotated tensors whose axes are not (channel, height, width).

# %%
print(inspect.getsource(ScratchCAM.raw_maps))
print(inspect.getsource(ScratchGradCAM.channel_weights))
print(inspect.getsource(ScratchGradCAMPlusPlus.channel_weights))

# %% [markdown]
# ## 2 · How fine is a CAM?
#
# GradCAM's map has the resolution of the layer it looks at, and is only *upsampled* to the image:
# everything finer than one cell of that layer is interpolation, not evidence. AlexNet's ReLU
# after conv5 (the default target) sits after conv1's stride 4 and two 3/2 max-pools; relu2 after
# one pool only. Two sizes describe a cell, and they are easy to confuse: how far apart the
# cells are (the map's resolution) and how much of the input one cell *sees* (its receptive
# field, which grows by every kernel on the way). Both computed from the architecture:

# %%
# NBVAL_CHECK_OUTPUT
def side(size, layer):
    return dict(alexnet_feature_sizes(size))[layer]


def receptive_field(size, layer):
    return {name: field for name, _, field, _ in alexnet_receptive_fields(size)}[layer]


rows = ["| profile | image | relu2 (conv2) | relu5 (conv5, the default) | relu5 cells apart, stretched "
        "over the image | one relu5 cell sees |", "|---|---|---|---|---|---|"]
for name, prof in PROFILES.items():
    s = prof.image_size
    rows.append(f"| {name} | {s} px | {side(s, 'conv2')} × {side(s, 'conv2')} | "
                f"{side(s, 'conv5')} × {side(s, 'conv5')} | {s / side(s, 'conv5'):.0f} px | "
                f"{receptive_field(s, 'conv5')} px |")
display(Markdown("\n".join(rows)))
cam_side, shallow_side = side(P.image_size, "conv5"), side(P.image_size, "conv2")
field = receptive_field(P.image_size, "conv5")
display(Markdown(
    f"In this run ({P.name}, {P.image_size} px) the default CAM is a **{cam_side} × {cam_side}** "
    f"map: {cam_side * cam_side} numbers per image, {P.image_size / cam_side:.0f} px apart once "
    f"stretched over the resized image ({32 / cam_side:.1f} px of the original 32 px CIFAR-10 "
    f"image). That is the map's resolution, not what a cell sees: each relu5 cell's receptive "
    f"field is {field} px, {'more than the whole' if field > P.image_size else 'much of the'} "
    f"{P.image_size} px image (the padding included). A bright cell says that the gradient-weighted "
    f"activation at that position is large, not that only its {P.image_size / cam_side:.0f} px "
    f"square mattered. relu2 gives {shallow_side} × {shallow_side}, cells of "
    f"{receptive_field(P.image_size, 'conv2')} px."
))

# %% [markdown]
# ## 3 · From scratch against the library
#
# Same model, same layer, same classes: the maps must agree (both normalise each map to [0, 1]
# and upsample bilinearly). Stated tolerance: $10^{-4}$ on [0, 1] maps.

# %%
data = chapter.load_course_data(P)
names = {"AlexNet": None, "AlexNet-TA": "triplet", "AlexNet-SimAM": "simam", "AlexNet-SE": "se",
         "AlexNet-CBAM": "cbam"}  # chapters 01-04's runs (seed 42); PSA's are chapter 05's
runs = {name: chapter.train_variant(data, P, attention=att, seeds=[P.seed])[0] for name, att in names.items()}
images = chapter.fixed_test_images(data, n=n_images)
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
# ### GradCAM++'s ε against the gradients' scale
#
# The denominator $2g^2 + \sum_{ab} A_{ab}\, g^3$ is of the order of $g^2$. If the class-score
# gradients at relu5 are small, $g^2$ can be smaller than the library's fixed $\varepsilon =
# 10^{-6}$, and then $a_{ij} \approx g_{ij}^2/\varepsilon$: the weights stop following the equation
# and become the squared gradients, scaled. `ScratchGradCAMPlusPlus(eps="relative")` sets ε to
# $10^{-6}$ of each map's own largest denominator, so that the weights follow the equation at any
# gradient scale. The cell measures the gradients, how often ε dominates, and how much the maps
# change (Spearman's ρ per image between the library's GradCAM++ maps and the relative-ε ones,
# and against GradCAM's).

# %%
eps_rows = {}
for name in ("AlexNet", "AlexNet-TA"):
    model = runs[name].model
    device = next(model.parameters()).device
    acts, grads = ScratchGradCAMPlusPlus(model).activations_and_gradients(inputs.to(device), classes)
    g = grads[grads != 0].abs()
    denominator = (2 * grads**2 + acts.sum(dim=(2, 3), keepdim=True) * grads**3).abs()
    dominated = float((denominator[grads != 0] < 1e-6).float().mean())
    fixed = compute_cam(model, inputs, "gradcam++", classes)
    relative = ScratchGradCAMPlusPlus(model, eps="relative")(inputs.to(device), classes)
    plain = compute_cam(model, inputs, "gradcam", classes)
    eps_rows[name] = {
        "median_abs_gradient": float(g.median()), "share_eps_dominates": dominated,
        "rho_fixed_vs_relative": spearman_per_image(fixed, relative).tolist(),
        "rho_fixed_vs_gradcam": spearman_per_image(fixed, plain).tolist(),
        "rho_relative_vs_gradcam": spearman_per_image(relative, plain).tolist(),
    }
    print(f"{name}: median |g| at relu5 {float(g.median()):.2e} (g² {float(g.median()) ** 2:.1e}); "
          f"the denominator is below ε = 1e-6 at {dominated * 100:.0f} % of the positions")
    print(f"   Spearman ρ per image: library GradCAM++ vs relative ε {interval(eps_rows[name]['rho_fixed_vs_relative'], 2)}; "
          f"library GradCAM++ vs GradCAM {interval(eps_rows[name]['rho_fixed_vs_gradcam'], 2)}; "
          f"relative ε vs GradCAM {interval(eps_rows[name]['rho_relative_vs_gradcam'], 2)}")

# %% [markdown]
# ## 4 · Every model, the same eight images
#
# Rows: GradCAM and GradCAM++ (at relu5) of each AlexNet variant of chapters 01-05, all trained
# with the same recipe, profile and seed; columns: eight fixed test images with their true class.
# The maps explain the **true** class; under each map the model's prediction, framed green when
# right and red when wrong (a map of a wrong prediction shows evidence for a class the model did
# not choose). Each map is scaled to [0, 1] on its own: the colour bar is relative, a red spot on
# one map is not "more" than on another.

# %%
predicted, correct = {}, {}
for name, run in runs.items():
    logits = predict(run.model, data.test_images[images], transform,
                     device=next(run.model.parameters()).device)
    pred = logits.argmax(1).tolist()
    for label in ("CAM", "CAM++"):
        predicted[f"{name}\n{label}"] = [data.classes[p] for p in pred]
        correct[f"{name}\n{label}"] = [p == c for p, c in zip(pred, classes)]
maps = {}
for name, run in runs.items():
    for method, label in (("gradcam", "CAM"), ("gradcam++", "CAM++")):
        maps[f"{name}\n{label}"] = compute_cam(run.model, inputs, method, classes)
fig = plot_cam_grid(data.test_images[images], maps, [data.classes[c] for c in classes], cell=1.0,
                    predictions=predicted, correct=correct)
show_as_jpeg(fig)

# %% [markdown]
# CIFAR-10 has no object boxes, so "the map sits on the object" cannot be checked exactly. A
# proxy: its objects are mostly centred, so count how much of each map's mass lies in the
# central square of half the side (a quarter of the image: 25 % for a flat map) and how many
# maps have their peak outside it. The chance level of the second is not 25 %: a map upsampled
# from a 7 × 7 layer can only peak at its cells' centres, and of the 49 centres only 9 fall in
# the central square (`central_peak_chance`, tested against the upsampling GradCAM uses).

# %%
def central_share(cams):
    h = cams.shape[-1]
    inner = cams[:, h // 4: h - h // 4, h // 4: h - h // 4].sum(axis=(1, 2))
    return inner / np.maximum(cams.sum(axis=(1, 2)), 1e-12)


def peak_outside(cams):
    h = cams.shape[-1]
    rows_, cols_ = np.unravel_index(cams.reshape(len(cams), -1).argmax(1), cams.shape[1:])
    inside = (rows_ >= h // 4) & (rows_ < h - h // 4) & (cols_ >= h // 4) & (cols_ < h - h // 4)
    return int((~inside).sum())


shares = {k: central_share(v) for k, v in maps.items()}
outside = {k: peak_outside(v) for k, v in maps.items()}
n_wrong = {name: sum(not c for c in correct[f"{name}\nCAM"]) for name in runs}
lines = [f"- {k.replace(chr(10), ' ')}: {100 * shares[k].mean():.0f} % of the mass in the centre, "
         f"peak outside it in {outside[k]} of {len(images)} maps" for k in maps]
h_map = next(iter(maps.values())).shape[-1]
inside_share = central_fraction(h_map, h_map)  # a flat map's share of mass in the centre
peak_chance = central_peak_chance(cam_side, h_map)  # a peak at a random cell lands there this often
display(Markdown(
    f"Wrong predictions among the {len(images)} images: "
    + ", ".join(f"{n} {w}" for n, w in n_wrong.items()) + ".\n\n" + "\n".join(lines)
    + f"\n\nChance levels: a flat map puts {inside_share * 100:.0f} % of its mass in the central "
    f"square, and a peak at a random one of the {cam_side * cam_side} cells lies outside it in "
    f"{(1 - peak_chance) * 100:.1f} % of maps. In all, {sum(outside.values())} of "
    f"{len(images) * len(maps)} maps ({sum(outside.values()) / (len(images) * len(maps)) * 100:.0f} %) "
    f"peak outside the central quarter. "
    "A map that peaks away from the centre is not wrong by itself "
    "(a model may use context: water for a ship, sky for a plane), but it is not \"the object\" "
    "either; the quality numbers below say whether those pixels matter to the model."
))

# %% [markdown]
# ### Two depths
#
# The same GradCAM at relu2 and at relu5 of the baseline: the shallow layer has finer cells but
# its channels respond to edges and textures, not yet to classes, and the gradient that weights
# them has passed through three more convolutions.

# %%
base, base_dir = runs["AlexNet"].model, runs["AlexNet"].run_dir
depth_maps = {
    f"relu2\n{shallow_side}×{shallow_side}": compute_cam(base, inputs, "gradcam", classes,
                                                         layer=base.features.relu2),
    f"relu5\n{cam_side}×{cam_side}": compute_cam(base, inputs, "gradcam", classes,
                                                 layer=base.features.relu5),
}
fig = plot_cam_grid(data.test_images[images], depth_maps, [data.classes[c] for c in classes],
                    cell=1.0)
show_as_jpeg(fig)
depth_rho = spearman_per_image(*depth_maps.values())
display(Markdown(
    f"Spearman correlation between the relu2 and relu5 maps of the same image: "
    f"{interval(depth_rho, 2)}. The closer to 1, the more the two depths tell the same story; "
    "near 0, the shallow map is mostly texture."
))

# %% [markdown]
# ## 5 · Map quality, per image, against maps that know nothing
#
# Two metrics from `pytorch_grad_cam.metrics`, computed **per image** on the first
# `quality_images` fixed test images (as many per class as possible):
#
# * **ROAD** (Rong et al., ICML 2022) removes the pixels a map ranks most relevant (MoRF) or least
#   relevant (LeRF) — 20, 40, 60, 80 % of them, filled in by noisy linear imputation so that the
#   removal itself leaves no tell-tale shape — and measures the class probability. The combined
#   score $(\Delta_{LeRF} - \Delta_{MoRF})/2$ is high when removing what the map highlights hurts
#   and removing the rest does not.
# * **Confidence change**: the class probability of the image multiplied by its map, minus that of
#   the image. Near zero or positive: the map kept what the model needs.
#
# Two baselines are scored the same way: a **random map** (uniform noise on the CAM's own grid,
# upsampled like a CAM) and a **centred blob** (a Gaussian in the middle of the image: the prior
# "CIFAR objects are centred"). A method earns trust only by beating both. Differences are
# **paired by image** (same image, same noise draws in the imputation), with a 95 % t-interval
# and Holm-corrected p-values over the comparisons in a family.

# %%
q_images = chapter.fixed_test_images(data, n=quality_images)
q_inputs = transform(data.test_images[q_images])
q_classes = data.test_labels[q_images].tolist()
keys = [int(i) for i in q_images]  # pairs are keyed by the test image's index
baseline_maps = {"random map": random_maps(len(q_images), P.image_size, cells=cam_side, seed=0),
                 "centred blob": blob_maps(len(q_images), P.image_size)}
scores = {}  # (model, method) -> {"road_combined": array, "confidence_change": array}
brightness = {}  # method -> each map's mean value (the share of the image it keeps)
for method in ("gradcam", "gradcam++"):
    cams = compute_cam(base, q_inputs, method, q_classes)
    scores["AlexNet", method] = road_scores(base, q_inputs, cams, q_classes, cache_dir=base_dir)
    brightness[method] = cams.reshape(len(cams), -1).mean(1)
for label, cams in baseline_maps.items():
    scores["AlexNet", label] = road_scores(base, q_inputs, cams, q_classes, cache_dir=base_dir)
    brightness[label] = np.asarray(cams).reshape(len(cams), -1).mean(1)

print(f"AlexNet, {len(keys)} test images; mean [95 % CI] over images")
print(f"{'map':14s} {'ROAD combined':>32s} {'confidence change':>34s}")
for (_, method), s in scores.items():
    print(f"{method:14s} {interval(s['road_combined']):>32s} {interval(s['confidence_change']):>34s}")

# %%
def family(metric, base_name):
    per_method = {m: dict(zip(keys, s[metric].tolist())) for (mo, m), s in scores.items()
                  if mo == "AlexNet"}
    return {d.name: d for d in compare_to_baseline(per_method, base_name)}


vs_random, vs_blob = family("road_combined", "random map"), family("road_combined", "centred blob")
conf_vs_random = family("confidence_change", "random map")
lines = [f"- ROAD, {m} − random map: {diff_text(vs_random[m])}" for m in ("gradcam", "gradcam++")]
lines += [f"- ROAD, {m} − centred blob: {diff_text(vs_blob[m])}" for m in ("gradcam", "gradcam++")]
pp = compare_to_baseline({m: dict(zip(keys, scores["AlexNet", m]["road_combined"].tolist()))
                          for m in ("gradcam", "gradcam++")}, "gradcam")[0]
lines.append(f"- ROAD, GradCAM++ − GradCAM: {diff_text(pp)}")
lines += [f"- confidence change, {m} − random map: {diff_text(conf_vs_random[m])}"
          for m in ("gradcam", "gradcam++")]
beats_random = [m for m in ("gradcam", "gradcam++") if vs_random[m].significant and vs_random[m].diff > 0]
beats_blob = [m for m in ("gradcam", "gradcam++") if vs_blob[m].significant and vs_blob[m].diff > 0]
below_blob = [m for m in ("gradcam", "gradcam++") if vs_blob[m].significant and vs_blob[m].diff < 0]
display(Markdown(
    "Paired differences of the per-image scores (Holm within each family: against the random "
    "map, against the blob):\n\n" + "\n".join(lines) + "\n\n"
    + (f"Significantly better than a random map: {', '.join(beats_random)}. " if beats_random
       else "Neither method is significantly better than a random map here. ")
    + (f"Significantly better than the centred blob: {', '.join(beats_blob)}." if beats_blob
       else "Neither is significantly better than the centred blob: on these images, what the maps "
            "add beyond \"look at the centre\" is not measurable.")
    + (f" Significantly *worse* than the blob: {', '.join(below_blob)}." if below_blob else "")
))

# %% [markdown]
# ### Why confidence change and ROAD disagree
#
# Confidence change multiplies the (normalised) image by the map and asks how much class
# probability is left. Multiplying by a value below 1 pulls a pixel towards 0, the mean colour, so
# a map's mean value is roughly the share of the image it keeps: uniform noise keeps about half
# of every pixel everywhere, a GradCAM map keeps its peak and darkens most of the rest. The
# hypothesis: a *brighter* map keeps more of the image and loses less confidence, whatever it
# points at. ROAD does not have this problem: it removes the same share of pixels (20-80 %) for
# every map, ranked by the map, and only the ranking matters. The cell tests the hypothesis at
# two levels: across the four kinds of map (mean value against mean confidence change) and
# across single maps (all maps pooled).

# %%
from scipy.stats import spearmanr

mean_value = {m: float(v.mean()) for m, v in brightness.items()}
mean_change = {m: float(scores["AlexNet", m]["confidence_change"].mean()) for m in brightness}
pooled_brightness = np.concatenate([brightness[m] for m in brightness])
pooled_change = np.concatenate([scores["AlexNet", m]["confidence_change"] for m in brightness])
rho_brightness = spearmanr(pooled_brightness, pooled_change).statistic
by_value = sorted(mean_value, key=mean_value.get)
by_change = sorted(mean_change, key=mean_change.get)
print("kind of map     mean value   mean confidence change")
for m in by_value:
    print(f"{m:14s} {mean_value[m]:10.2f} {mean_change[m]:+24.3f}")
print(f"the four kinds ranked by mean value and by mean confidence change: "
      f"{'the same order' if by_value == by_change else 'different orders'}")
print(f"Spearman ρ between a map's mean value and its confidence change, all maps pooled "
      f"({len(pooled_change)}): {rho_brightness:.2f}")

# %% [markdown]
# ### Every model against its own baselines
#
# ROAD measures a map in the probabilities of the model it explains, so the ROAD scores of two
# models are not on one scale: a model that is more certain loses more probability when pixels
# go, whatever its maps. Each variant's GradCAM is therefore judged against maps that know
# nothing **for the same model**: its own random map and centred blob, paired by image (Holm
# within each model's two comparisons), on the first `variant_images` of the quality images (each
# model costs three ROAD passes). No variant is ranked against another.

# %%
per_model = {}
v_inputs, v_classes, v_keys = q_inputs[:variant_images], q_classes[:variant_images], keys[:variant_images]
for name, run in runs.items():
    if name != "AlexNet":
        cams = compute_cam(run.model, v_inputs, "gradcam", v_classes)
        scores[name, "gradcam"] = road_scores(run.model, v_inputs, cams, v_classes,
                                              cache_dir=run.run_dir)
        for label, maps_ in baseline_maps.items():
            scores[name, label] = road_scores(run.model, v_inputs, maps_[:variant_images], v_classes,
                                              cache_dir=run.run_dir)
    by_map = {m: dict(zip(v_keys, scores[name, m]["road_combined"][:variant_images].tolist()))
              for m in ("gradcam", *baseline_maps)}
    found = compare_pairs(by_map, [("gradcam", "random map"), ("gradcam", "centred blob")])
    per_model[name] = {d.baseline: d for d in found}
print(f"ROAD combined per model, GradCAM at relu5, the first {len(v_keys)} images (AlexNet: its "
      f"scores above on the same images); GradCAM minus each baseline, "
      "paired by image, Holm within the model")
for name, diffs in per_model.items():
    print(f"{name:14s} GradCAM {interval(scores[name, 'gradcam']['road_combined'][:variant_images])}")
    for base_name, d in diffs.items():
        print(f"{'':14s}   − {base_name:13s} {diff_text(d)}")

# %% [markdown]
# ## 6 · Sanity check: do the maps depend on what the model learned?
#
# Adebayo et al. ("Sanity Checks for Saliency Maps", NeurIPS 2018) re-initialise a trained
# model's layers one after another from the output down (*cascading randomisation*) and compare
# the maps before and after by Spearman rank correlation. A method whose maps barely change when
# the weights are random shows the image (edges, bright blobs), not the model. For GradCAM at
# relu5, randomising fc3 already changes the class gradient; randomising conv5 and below also
# changes the activations themselves. Both depths are checked, on `sanity_images` images.

# %%
s_images = chapter.fixed_test_images(data, n=sanity_images)
s_inputs = transform(data.test_images[s_images])
s_classes = data.test_labels[s_images].tolist()
steps = alexnet_cascade(base)
sanity = {
    layer: cascading_randomisation(base, s_inputs, s_classes,
                                   gradcam_explainer("gradcam", f"features.{layer}"), steps)
    for layer in ("relu5", "relu2")
}
fig, ax = plt.subplots(figsize=(6.5, 3.2), dpi=100)
for layer, corr in sanity.items():
    stats_ = [summarize_finite(c) for c in corr.values()]
    ax.errorbar(range(len(steps)), [s.mean for s in stats_],
                yerr=[0 if s.n < 2 else s.ci95 for s in stats_], marker="o", capsize=3,
                label=f"GradCAM at {layer}")
ax.axhline(0, color="k", lw=0.8)
ax.set(xticks=range(len(steps)), xticklabels=[f"+{s}" for s, _ in steps], ylim=(-1.05, 1.05),
       xlabel="layers randomised (cumulative, from the output down)",
       ylabel="Spearman ρ with the trained\nmodel's map (mean, 95 % CI)",
       title=f"cascading randomisation, AlexNet, {len(s_images)} images")
ax.legend(fontsize=8)
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()
first, last = steps[0][0], steps[-1][0]
lines = []
for layer, corr in sanity.items():
    nan = sum(int(np.isnan(c).sum()) for c in corr.values())
    lines.append(f"- GradCAM at {layer}: after randomising {first}, ρ = {interval(corr[first], 2)};"
                 f" after conv5, ρ = {interval(corr['conv5'], 2)}; with every layer random "
                 f"(down to {last}), ρ = {interval(corr[last], 2)}"
                 + (f" ({nan} constant maps left out)" if nan else ""))
top_mean = summarize_finite(sanity["relu5"][first]).mean
display(Markdown(
    "\n".join(lines) + "\n\n"
    + (f"With only the last layer random, the relu5 maps keep a rank correlation of "
       f"{top_mean:.2f} with the trained maps: "
       + ("most of the map's structure survives, so much of what the map shows comes from the "
          "image and the convolutional features rather than from the learned class weights."
          if top_mean > 0.5 else
          "the maps change substantially as soon as the learned weights go, which is what a "
          "method that explains the model must do."))
))

# %% [markdown]
# ## 7 · LIME: a second opinion that needs no gradients
#
# LIME (Ribeiro et al., KDD 2016) needs no gradients and no layer: it switches groups of pixels
# off (set to the mean colour), asks the model about each perturbed image, and fits a weighted
# linear model (ridge, as the `lime` package) whose coefficients say how much each group pushes
# the class score. Written out, for an image $x$ cut into $K$ regions: draw $n$ on/off vectors
# $z' \in \{0,1\}^K$ (each region on with probability ½), build each perturbed image $z$ (regions
# that are off set to 0, the mean colour after normalisation), and fit
# $$ \min_{w,\,b} \sum_{z} \pi_x(z)\,\big(f(z) - w^\top z' - b\big)^2 + \lambda \lVert w\rVert^2,
#    \qquad \pi_x(z) = \exp\!\Big(-\frac{d(x, z)^2}{2\sigma^2}\Big), $$
# where $f(z)$ is the model's logit of the class, $d$ the cosine distance between the two images
# (as pixel vectors), $\sigma = 1$ and $\lambda = 1$ (captum's `Lime` with its default kernel
# and a ridge). A region's weight $w_k$ is its explanation. With these defaults the kernel is
# nearly flat: $z$ keeps a subset of $x$'s pixels and zeroes the rest, so
# $\cos(x, z) = \lVert z\rVert / \lVert x\rVert \in [0, 1]$, $d \in [0, 1]$ and
# $\pi_x(z) \in [e^{-1/2}, 1] \approx [0.61, 1]$ — every perturbation counts almost as much as
# any other, and LIME here is close to a plain ridge fit over random masks. The groups here are **superpixels** — regions that follow the image's edges —
# from scikit-image's SLIC; source 002 used quickshift (the `lime` package's defaults through
# InterpretDL) with **10,000 samples**. Both are parameters: `lime_segmentation = "quickshift"`
# and `lime_samples = 10_000` reproduce source 002's setting, `lime_segmentation = "grid"` is the
# cheap option (8 × 8 cells, no segmentation, cells cut through objects).

# %%
display(Markdown(
    f"This run: **{lime_segmentation}** segments, **{lime_samples:,} samples** per explanation "
    f"(source 002: quickshift, 10,000 samples; fewer samples here to keep a CPU run short — each "
    f"sample is one forward pass), at {P.image_size} px."
))


def segments_of(index):
    if lime_segmentation == "grid":
        return grid_segments(P.image_size, 8)
    return superpixel_segments(data.test_images[index], P.image_size, lime_segmentation,
                               n_segments=lime_segments)


def resized(index):
    x = data.test_images[index].float()[None] / 255
    x = torch.nn.functional.interpolate(x, size=(P.image_size,) * 2, mode="bilinear",
                                        align_corners=False)
    return x[0].permute(1, 2, 0).clamp(0, 1).numpy()


a_images = chapter.fixed_test_images(data, n=agreement_images)
a_inputs = transform(data.test_images[a_images])
a_classes = data.test_labels[a_images].tolist()
lime_models = ("AlexNet", "AlexNet-TA")
explained = {}  # model -> list of (segments, lime weights, gradcam map)
for name in lime_models:
    model = runs[name].model
    cams = compute_cam(model, a_inputs, "gradcam", a_classes)
    explained[name] = []
    for k, index in enumerate(a_images.tolist()):
        seg = segments_of(index)
        weights = lime_explanation(model, a_inputs[k], a_classes[k], segments=seg,
                                   samples=lime_samples, seed=k)
        again = lime_explanation(model, a_inputs[k], a_classes[k], segments=seg,
                                 samples=lime_samples, seed=1000 + k)  # the same, other samples
        explained[name].append((seg, weights.numpy(), cams[k], again.numpy()))

fig, axes = plt.subplots(len(lime_models), 4, figsize=(9.5, 2.5 * len(lime_models)), dpi=100,
                         squeeze=False)
for row, name in enumerate(lime_models):
    seg, weights, cam, _ = explained[name][0]
    grid_weights = lime_explanation(runs[name].model, a_inputs[0], a_classes[0], cells=8,
                                    samples=lime_samples, seed=0).numpy()
    image = resized(int(a_images[0]))
    axes[row, 0].imshow(mark_boundaries(image, seg.numpy(), color=(1, 1, 0)))
    axes[row, 1].imshow(overlay(data.test_images[int(a_images[0])], cam))
    for col, (w, title) in enumerate(((weights, f"LIME, {lime_segmentation}"),
                                      (grid_weights, "LIME, 8 × 8 grid")), start=2):
        limit = float(np.abs(w).max()) or 1.0
        axes[row, col].imshow(image)
        shown = axes[row, col].imshow(w, cmap="RdBu_r", vmin=-limit, vmax=limit, alpha=0.6)
        if row == 0:
            axes[row, col].set_title(title + " (red: for)", fontsize=9)
        fig.colorbar(shown, ax=axes[row, col], fraction=0.046, pad=0.02).ax.tick_params(labelsize=7)
    axes[row, 0].set_ylabel(name, fontsize=9)
axes[0, 0].set_title(f"{data.classes[a_classes[0]]}: superpixels", fontsize=9)
axes[0, 1].set_title("GradCAM (relu5)", fontsize=9)
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
fig.tight_layout()
show_as_jpeg(fig)

# %% [markdown]
# ### Do LIME and GradCAM agree?
#
# Both maps are averaged over each superpixel and the two region vectors compared by Spearman's
# rank correlation: 1 when both rank the regions the same way, 0 when unrelated. A yardstick for
# that number: LIME against itself, run again with other random masks (another seed) on the same
# regions. GradCAM cannot be expected to agree with LIME better than LIME agrees with itself.

# %%
agreement = {name: [region_agreement(cam, w, seg.numpy()) for seg, w, cam, _ in explained[name]]
             for name in lime_models}
# the yardstick: LIME against LIME with other random samples, on the same regions
self_agreement = {name: [region_agreement(w2, w, seg.numpy()) for seg, w, _, w2 in explained[name]]
                  for name in lime_models}
lines = [f"- {name}: GradCAM against LIME ρ = {interval(values, 2)}; LIME against LIME with "
         f"other random samples ρ = {interval(self_agreement[name], 2)} ({len(a_images)} images)"
         for name, values in agreement.items()]
mean_rho = {n: summarize_finite(a).mean for n, a in agreement.items()}
display(Markdown(
    "Rank agreement of GradCAM and LIME per superpixel:\n\n" + "\n".join(lines) + "\n\n"
    + "What it means: the two methods ask different questions. GradCAM asks which positions of "
    "the last convolutional layer's features raise the class score *at this image* (a local "
    "gradient, at " + f"{cam_side} × {cam_side}" + " resolution); LIME asks which regions, when "
    "greyed out *together with random others*, lower the score (a global, perturbation-based "
    "answer at the resolution of the superpixels). Where they agree, the evidence is robust to "
    "the method; where they disagree, at least one of them describes its own assumptions more "
    "than the model — a coarse CAM cannot separate neighbouring superpixels, and LIME's answer "
    "changes with the segmentation and with the number of samples. "
    + ("Here the agreement is weak (mean ρ below 0.3 for " + ", ".join(
        n for n, r in mean_rho.items() if r < 0.3) + "): neither map alone should be read as "
       "\"what the model looks at\"." if any(r < 0.3 for r in mean_rho.values())
       else "Here the agreement is at least moderate for every model.")
))

# %% [markdown]
# ## Summary
#
# The numbers this chapter measured are written to `results/findings/` (one file per profile
# setting and notebook parameters), and the summary below is written from that file: the
# committed numbers, the same ones a reader of the website sees.

# %%
from dataclasses import asdict

from course_lib.experiments.findings import write_findings


def as_floats(values):
    return [float(v) for v in values]


findings = {
    "cam_side": cam_side,
    "accuracy": {name: float(run.metrics["accuracy"]) for name, run in runs.items()},
    "gradcampp_eps": eps_rows,
    "road_images": len(keys),
    "road_vs_random": {m: asdict(d) for m, d in vs_random.items()},
    "road_vs_blob": {m: asdict(d) for m, d in vs_blob.items()},
    "road_gradcampp_vs_gradcam": asdict(pp),
    "road_mean": {m: float(s["road_combined"].mean()) for (mo, m), s in scores.items() if mo == "AlexNet"},
    "confidence_vs_random": {m: asdict(d) for m, d in conf_vs_random.items()},
    "mean_map_value": mean_value,
    "mean_confidence_change": mean_change,
    "rho_brightness_confidence": float(rho_brightness),
    "variant_images": len(v_keys),
    "per_model_vs_baselines": {n: {b: asdict(d) for b, d in diffs.items()} for n, diffs in per_model.items()},
    "central_share": {k.replace("\n", " "): float(v.mean()) for k, v in shares.items()},
    "peak_outside": {k.replace("\n", " "): v for k, v in outside.items()},
    "central_chance": float(inside_share),
    "peak_chance": float(peak_chance),
    "shown_images": len(images),
    "sanity_steps": [name for name, _ in steps],
    "sanity": {layer: {step: as_floats(c) for step, c in corr.items()} for layer, corr in sanity.items()},
    "lime_models": list(lime_models),
    "gradcam_vs_lime": {n: as_floats(v) for n, v in agreement.items()},
    "lime_vs_lime": {n: as_floats(v) for n, v in self_agreement.items()},
    "agreement_images": len(a_images),
}
parameters = {"n_images": n_images, "quality_images": quality_images, "variant_images": variant_images,
              "sanity_images": sanity_images, "agreement_images": agreement_images,
              "lime_segmentation": lime_segmentation, "lime_segments": lime_segments,
              "lime_samples": lime_samples}
written = write_findings("08_gradcam", P, parameters, findings,
                         device=runs["AlexNet"].metrics["device"],
                         data_source=runs["AlexNet"].metrics["data_source"])
print(f"wrote {written.relative_to(written.parents[2])}")

# %% tags=["reading"]
import numpy as np
from IPython.display import Markdown, display

from course_lib import claims
from course_lib.experiments.findings import read_findings
from course_lib.experiments.stats import Difference, format_p, summarize_finite
from course_lib.profiles import get_profile

Q = get_profile("quick")
record = read_findings("08_gradcam", Q)
F = record["findings"]


def diff(d):
    return Difference(**d)


def mean_ci(values):
    s = summarize_finite(values)
    return f"{s.mean:.2f} [{s.low:.2f}, {s.high:.2f}]"


def brief(d, digits=3):
    return (f"{d.diff:+.{digits}f} [{d.low:+.{digits}f}, {d.high:+.{digits}f}], {d.verdict()}")


gc_random, gc_blob = diff(F["road_vs_random"]["gradcam"]), diff(F["road_vs_blob"]["gradcam"])
gpp_random, gpp_blob = diff(F["road_vs_random"]["gradcam++"]), diff(F["road_vs_blob"]["gradcam++"])
pp_vs_gc = diff(F["road_gradcampp_vs_gradcam"])
conf_gc, conf_gpp = (diff(F["confidence_vs_random"][m]) for m in ("gradcam", "gradcam++"))
order = [n for n in ("AlexNet", "AlexNet-TA", "AlexNet-SimAM", "AlexNet-SE", "AlexNet-CBAM")
         if n in F["per_model_vs_baselines"]]
own = {n: diff(F["per_model_vs_baselines"][n]["random map"]) for n in order}
own_blob = {n: diff(F["per_model_vs_baselines"][n]["centred blob"]) for n in order}
first_step, last_step = F["sanity_steps"][0], F["sanity_steps"][-1]
acc = F["accuracy"]
eps, eps_ta = F["gradcampp_eps"]["AlexNet"], F["gradcampp_eps"]["AlexNet-TA"]
value, change = F["mean_map_value"], F["mean_confidence_change"]
by_value = sorted(value, key=value.get)
same_order = by_value == sorted(change, key=change.get)
n_maps = len(F["peak_outside"]) * F["shown_images"]
outside_share = sum(F["peak_outside"].values()) / n_maps
centre_mass = [100 * v for v in F["central_share"].values()]
from scipy.stats import binomtest

# a peak at a random cell of the CAM's grid lands outside the centre with 1 - peak_chance
n_outside = sum(F["peak_outside"].values())
more_central = binomtest(n_outside, n_maps, 1 - F["peak_chance"], alternative="less").pvalue
less_central = binomtest(n_outside, n_maps, 1 - F["peak_chance"], alternative="greater").pvalue
sanity_first = {layer: summarize_finite(F["sanity"][layer][first_step])
                for layer in ("relu5", "relu2")}
lime_gc = {n: summarize_finite(F["gradcam_vs_lime"][n]) for n in F["lime_models"]}
lime_self = {n: summarize_finite(F["lime_vs_lime"][n]) for n in F["lime_models"]}
display(Markdown("\n".join([
    f"**Reading** — *from the committed findings: `{Q.name}` profile, {record['image_size']} px, "
    f"the AlexNet variants of chapters 01-04 (seed {record['seed']}, {record['epochs']} epochs), "
    f"{record['device']}, commit {record['git_commit'][:12]}, {record['data_source']}.*\n",
    f"- **Resolution.** At {record['image_size']} px a relu5 CAM is {F['cam_side']} × "
    f"{F['cam_side']}: each cell stands for {record['image_size'] / F['cam_side']:.0f} px of the "
    "resized image, and every finer detail of an upsampled map is interpolation.",
    "- **GradCAM++'s ε.** The from-scratch maps match `pytorch_grad_cam` to 1e-4. The class-score "
    f"gradients at relu5 are not small here: median |g| {eps['median_abs_gradient']:.1e} for "
    f"AlexNet ({eps_ta['median_abs_gradient']:.1e} for AlexNet-TA), so g² is about "
    f"{eps['median_abs_gradient'] ** 2:.0e}, far above the fixed ε = 1e-6. The denominator falls "
    f"below ε at {eps['share_eps_dominates'] * 100:.0f} % of AlexNet's positions "
    f"({eps_ta['share_eps_dominates'] * 100:.0f} % of AlexNet-TA's). There g is either close to 0 "
    "or negative (2g² + Σ A·g³ = g²(2 + g·Σ A) can only shrink towards 0 for g < 0, and "
    "ReLU(g) drops those positions from the weight anyway), so they add almost nothing to a "
    "channel's weight; with ε set relative to "
    f"each map's scale the maps keep ρ = {mean_ci(eps['rho_fixed_vs_relative'])} with the "
    "library's: for these models the fixed ε does not change GradCAM++. GradCAM++ and GradCAM "
    f"themselves are different maps (ρ = {mean_ci(eps['rho_fixed_vs_gradcam'])}).",
    f"- **Against maps that know nothing** (ROAD, AlexNet, {F['road_images']} images): GradCAM "
    f"beats the random map ({brief(gc_random)}) and so does GradCAM++ ({brief(gpp_random)}), but "
    f"neither beats the centred blob (GradCAM {brief(gc_blob)}, GradCAM++ {brief(gpp_blob)}; "
    f"this design detects differences of {gc_blob.detectable:.3f}). GradCAM++ scores below "
    f"GradCAM ({brief(pp_vs_gc)}). So the maps carry information about what the model uses — "
    "more than noise — but on these images that information is not measurably more than "
    "\"the object is in the middle\".",
    f"- **Confidence change** points the other way: against the random map GradCAM is "
    f"{brief(conf_gc)} and GradCAM++ {brief(conf_gpp)}. The four kinds of map rank "
    + ("in the same order" if same_order else "in different orders")
    + " by their mean value and by their mean confidence change ("
    + ", ".join(f"{m} {value[m]:.2f} → {change[m]:+.3f}" for m in reversed(by_value))
    + "): at the level of kinds of map the metric rewards the maps that keep more of the image, "
    "as the hypothesis says. For single maps the link is weak (ρ = "
    f"{F['rho_brightness_confidence']:.2f} over all maps pooled): what one image loses depends "
    "more on the image than on how bright its map is. A metric that a map wins by keeping more "
    "of the image cannot compare maps of different brightness, so the chapter reports it and "
    "does not count it.",
    f"- **Every model against its own baselines** (ROAD, {F['variant_images']} images): each "
    "variant's GradCAM beats its own random map ("
    + ", ".join(f"{n} {own[n].diff:+.3f}" for n in order)
    + ", all significant after Holm) and none beats its own centred blob ("
    + ", ".join(f"{n} {own_blob[n].diff:+.3f}" for n in order)
    + ", all within noise). ROAD is measured in each model's own probabilities, so the models "
    "are not ranked against each other.",
    f"- **Where the maps peak.** On the {F['shown_images']} images of the grid, "
    f"{outside_share * 100:.0f} % of the {n_maps} maps peak outside the central quarter, where a "
    f"peak at a random cell of the {F['cam_side']} × {F['cam_side']} map would be "
    f"{(1 - F['peak_chance']) * 100:.1f} % of the time"
    + (f"; more often than that (one-sided binomial p = {format_p(less_central)}), so these maps lean "
       "away from the centre" if less_central < 0.05 else
       f" (one-sided binomial p = {format_p(less_central)} for more often, {format_p(more_central)} for less "
       "often), so they show no preference either way")
    + " (the p-values are optimistic: the ten maps of one image are not independent). Their mass "
    f"in the centre is {min(centre_mass):.0f}-{max(centre_mass):.0f} % against "
    f"{F['central_chance'] * 100:.0f} % for a flat map. These maps do not favour the centre, and "
    "yet a blob in the centre does as well as them on ROAD: eight images are few, and a peak "
    "says less than the ranking of all pixels that ROAD uses.",
    f"- **Sanity check.** Randomising only {first_step} leaves the relu5 maps at ρ = "
    f"{mean_ci(F['sanity']['relu5'][first_step])} with the trained maps (relu2: "
    f"{mean_ci(F['sanity']['relu2'][first_step])}): the maps change as soon as the learned class "
    "weights go, so GradCAM here shows the model, not only the image. With every layer random "
    f"(down to {last_step}) ρ = {mean_ci(F['sanity']['relu5'][last_step])}: a little of the "
    "image's own structure shows through random filters.",
    "- **LIME.** GradCAM and LIME agree weakly per superpixel ("
    + "; ".join(f"{n} ρ = {mean_ci(F['gradcam_vs_lime'][n])}" for n in F["lime_models"])
    + "), while LIME agrees with itself run on other random samples ("
    + "; ".join(f"{n} ρ = {mean_ci(F['lime_vs_lime'][n])}" for n in F["lime_models"])
    + f", {F['agreement_images']} images). The disagreement is therefore not LIME's sampling "
    "noise: the two methods describe different things (a local gradient on a 7 × 7 grid, and "
    "the effect of greying out regions together with random others).",
    "",
    f"What to take away for this course's AlexNets (test accuracy {min(acc.values()) * 100:.0f}-"
    f"{max(acc.values()) * 100:.0f} % after {record['epochs']} epochs, seed {record['seed']}): a GradCAM map is evidence that the model relies on the "
    "highlighted area more than on a random one, and it depends on the learned weights; it is "
    "not evidence that the model found the object, it is not better than a centred blob on "
    "ROAD, and another method paints a different picture. The attention variants do not change "
    "that: each passes and fails the same tests.",
])))

# %% tags=["remove-cell", "reading-check"]
with claims.guard("chapter 08: summary") as claim:
    claim.larger(eps["median_abs_gradient"] ** 2, 100 * 1e-6, "g² far above the fixed ε")
    claim.larger(0.25, eps["share_eps_dominates"], "ε dominates only at a minority of positions")
    claim.larger(0.25, eps_ta["share_eps_dominates"], "also for AlexNet-TA")
    claim.larger(summarize_finite(eps["rho_fixed_vs_relative"]).mean, 0.99, "relative ε: the same maps")
    claim.larger(0.9, summarize_finite(eps["rho_fixed_vs_gradcam"]).mean, "GradCAM++ and GradCAM differ")
    for d, what in ((gc_random, "GradCAM"), (gpp_random, "GradCAM++")):
        claim.significant(d, f"{what} beats the random map")
        claim.positive(d.diff, f"{what} above the random map")
    claim.not_significant(gc_blob, "GradCAM does not beat the blob")
    claim.not_significant(gpp_blob, "nor does GradCAM++")
    claim.significant(pp_vs_gc, "GradCAM++ differs from GradCAM")
    claim.negative(pp_vs_gc.diff, "GradCAM++ below GradCAM")
    for d, what in ((conf_gc, "GradCAM"), (conf_gpp, "GradCAM++")):
        claim.significant(d, f"confidence change: {what} differs from the random map")
        claim.negative(d.diff, f"confidence change: {what} below the random map")
    claim.that(same_order, "the kinds of map rank alike by mean value and confidence change")
    claim.larger(0.3, abs(F["rho_brightness_confidence"]), "weak link for single maps")
    for n in order:
        claim.significant(own[n], f"{n}: GradCAM beats its own random map")
        claim.positive(own[n].diff, f"{n}: above its random map")
        claim.not_significant(own_blob[n], f"{n}: not above its own blob")
    claim.inside(min(acc.values()), 0.35, 0.65, "the weakest model: roughly half right")
    claim.inside(max(acc.values()), 0.35, 0.65, "the strongest too")
    claim.larger(sanity_first["relu5"].mean, -0.2, "relu5 sanity: near 0, not negative")
    claim.that(summarize_finite(F["sanity"]["relu5"][last_step]).mean > 0, "a little structure with all random")
    claim.that(more_central > 0.05, "the maps do not peak in the centre more often than random cells",
               f"{outside_share:.2f} outside against {1 - F['peak_chance']:.3f}, p {more_central:.3f}")
    claim.larger(0.2, sanity_first["relu5"].mean, "the relu5 maps change with fc3 randomised")
    claim.larger(0.2, sanity_first["relu2"].mean, "so do the relu2 maps")
    for n in F["lime_models"]:
        claim.larger(0.3, lime_gc[n].mean, f"{n}: GradCAM and LIME agree weakly")
        claim.larger(lime_self[n].mean, 0.7, f"{n}: LIME agrees with itself")
        claim.larger(lime_self[n].low, lime_gc[n].high, f"{n}: self-agreement clearly higher")

# %% [markdown]
# ## Exercises
#
# 1. Compute the quality table with GradCAM at relu2 (`compute_cam(..., layer=base.features.relu2)`)
#    and add it to the family against the random map. Does the finer map score better?
# 2. Explain the *predicted* class instead of the true one for a misclassified image. What does
#    the map show?
# 3. Double `quality_images`. Which intervals shrink, and does any verdict change?
# 4. Run LIME with source 002's settings (`lime_segmentation = "quickshift"`,
#    `lime_samples = 10_000`). How many superpixels does quickshift make on an upsampled 32 px
#    image, and does the agreement with GradCAM change?
