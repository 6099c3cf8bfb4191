# %% [markdown]
# # 08 · GradCAM and GradCAM++ in depth — and whether to trust them
#
# Every chapter so far drew class activation maps with `pytorch_grad_cam`. This chapter opens the
# box: the two methods from their equations, a from-scratch implementation checked number for
# number against the library, the resolution a CAM really has, the maps of every AlexNet variant
# with their predictions, and then three questions a map must answer before it is believed:
# does it beat maps that know nothing about the model (a random map, a centred blob), does it
# change when the model's weights are destroyed (the sanity check of Adebayo et al., 2018), and
# does a method that works completely differently (LIME, as in seed 002) point at the same
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

P = get_profile()  # COURSE_PROFILE, or automatic: paper on a GPU, quick on a CPU
profile = P.name
image_size = P.image_size
epochs = P.epochs
batch_size = P.batch_size
lr = P.lr
seed = P.seed  # the run whose curves, predictions and CAMs are shown
seeds = list(P.seeds)  # every seed trained; [seed] alone is faster, but shows no spread
n_images = 8  # test images shown per model
# test images the quality metrics score; ROAD costs ~0.8 s per image and map at 128 px on one
# CPU core (quick: about 25 minutes for the whole section)
quality_images = {"smoke": 8, "quick": 200}.get(P.name, 500)
sanity_images = {"smoke": 6, "quick": 64}.get(P.name, 128)  # images of the randomisation check
agreement_images = {"smoke": 3, "quick": 20}.get(P.name, 50)  # images LIME and GradCAM compare on
lime_segmentation = "slic"  # seed 002: "quickshift" (lime's defaults); "grid": cheap, no segments
lime_segments = 50  # SLIC's target number of superpixels (grid: cells per side = 8)
lime_samples = {"smoke": 60, "quick": 1000}.get(P.name, 2000)  # seed 002: 10_000

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
from course_lib.models import alexnet_feature_sizes
from course_lib.plots import show_as_jpeg
from course_lib.profiles import PROFILES
from course_lib.experiments.stats import compare_to_baseline, format_p, summarize
from course_lib.train import predict


def interval(values, digits=4):
    """'mean [low, high] (n = ...)' of finite values, with the 95 % t-interval."""
    s = summarize([float(v) for v in values if np.isfinite(v)])
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
# ## 2 · How fine is a CAM?
#
# GradCAM's map has the resolution of the layer it looks at, and is only *upsampled* to the image:
# everything finer than one cell of that layer is interpolation, not evidence. AlexNet's ReLU
# after conv5 (the default target) sits after conv1's stride 4 and two 3/2 max-pools; relu2 after
# one pool only. The sides, computed from the architecture:

# %%
# NBVAL_CHECK_OUTPUT
def side(size, layer):
    return dict(alexnet_feature_sizes(size))[layer]


rows = ["| profile | image | relu2 (conv2) | relu5 (conv5, the default) | one relu5 cell covers |",
        "|---|---|---|---|---|"]
for name, prof in PROFILES.items():
    s = prof.image_size
    rows.append(f"| {name} | {s} px | {side(s, 'conv2')} × {side(s, 'conv2')} | "
                f"{side(s, 'conv5')} × {side(s, 'conv5')} | {s / side(s, 'conv5'):.0f} px |")
display(Markdown("\n".join(rows)))
cam_side, shallow_side = side(P.image_size, "conv5"), side(P.image_size, "conv2")
display(Markdown(
    f"In this run ({P.name}, {P.image_size} px) the default CAM is a **{cam_side} × {cam_side}** "
    f"map: {cam_side * cam_side} numbers per image, each standing for a "
    f"{P.image_size / cam_side:.0f} px square of the resized image (a {32 / cam_side:.1f} px "
    f"square of the original 32 px CIFAR-10 image). relu2 gives {shallow_side} × {shallow_side}."
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
# maps have their peak outside it.

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
display(Markdown(
    f"Wrong predictions among the {len(images)} images: "
    + ", ".join(f"{n} {w}" for n, w in n_wrong.items()) + ".\n\n" + "\n".join(lines)
    + f"\n\nIn all, {sum(outside.values())} of {len(images) * len(maps)} maps peak outside the "
    "central quarter — on the background or at the border. Such a map is not wrong by itself "
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
base = runs["AlexNet"].model
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
for method in ("gradcam", "gradcam++"):
    cams = compute_cam(base, q_inputs, method, q_classes)
    scores["AlexNet", method] = road_scores(base, q_inputs, cams, q_classes)
for label, cams in baseline_maps.items():
    scores["AlexNet", label] = road_scores(base, q_inputs, cams, q_classes)

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
# ### The variants, paired by image
#
# The same GradCAM ROAD score for every variant on the same images, each minus the baseline
# AlexNet's (paired by image, Holm over the variants). A difference mixes two things: a better map
# and a different model (ROAD uses each model's own probabilities), so it says "this model's
# GradCAM is more faithful to this model", not "attention makes maps better" in general.

# %%
for name, run in runs.items():
    if name != "AlexNet":
        cams = compute_cam(run.model, q_inputs, "gradcam", q_classes)
        scores[name, "gradcam"] = road_scores(run.model, q_inputs, cams, q_classes)
by_variant = {name: dict(zip(keys, scores[name, "gradcam"]["road_combined"].tolist()))
              for name in runs}
variant_diffs = compare_to_baseline(by_variant, "AlexNet")
lines = [f"- {name}: ROAD {interval(scores[name, 'gradcam']['road_combined'])}" for name in runs]
lines += [f"- {d.name} − AlexNet: {diff_text(d)}" for d in variant_diffs]
better = [d.name for d in variant_diffs if d.significant and d.diff > 0]
worse = [d.name for d in variant_diffs if d.significant and d.diff < 0]
display(Markdown(
    "GradCAM's ROAD score per variant, and each minus AlexNet's:\n\n" + "\n".join(lines)
    + "\n\n" + (f"Significantly more faithful maps than AlexNet: {', '.join(better)}. " if better
                 else "No variant's maps are significantly more faithful than AlexNet's. ")
    + (f"Significantly less: {', '.join(worse)}. " if worse else "")
    + f"Each variant here is one trained model (seed {P.seed}): the images are the sample, not the "
    "training runs, so a difference says how these particular models' maps behave — another "
    "seed's models could order them differently."
))

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
    stats_ = [summarize([v for v in c if np.isfinite(v)]) for c in corr.values()]
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
top_mean = summarize([v for v in sanity["relu5"][first] if np.isfinite(v)]).mean
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
# the class score. The groups here are **superpixels** — regions that follow the image's edges —
# from scikit-image's SLIC; seed 002 used quickshift (the `lime` package's defaults through
# InterpretDL) with **10,000 samples**. Both are parameters: `lime_segmentation = "quickshift"`
# and `lime_samples = 10_000` reproduce seed 002's setting, `lime_segmentation = "grid"` is the
# cheap option (8 × 8 cells, no segmentation, cells cut through objects).

# %%
display(Markdown(
    f"This run: **{lime_segmentation}** segments, **{lime_samples:,} samples** per explanation "
    f"(seed 002: quickshift, 10,000 samples; fewer samples here to keep a CPU run short — each "
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
        explained[name].append((seg, weights.numpy(), cams[k]))

fig, axes = plt.subplots(len(lime_models), 4, figsize=(9.5, 2.5 * len(lime_models)), dpi=100,
                         squeeze=False)
for row, name in enumerate(lime_models):
    seg, weights, cam = explained[name][0]
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
# rank correlation: 1 when both rank the regions the same way, 0 when unrelated.

# %%
agreement = {name: [region_agreement(cam, w, seg.numpy()) for seg, w, cam in explained[name]]
             for name in lime_models}
lines = [f"- {name}: ρ = {interval(values, 2)} over {len(a_images)} images"
         for name, values in agreement.items()]
mean_rho = {n: summarize([v for v in a if np.isfinite(v)]).mean for n, a in agreement.items()}
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

# %%
gc_random, gc_blob = vs_random["gradcam"], vs_blob["gradcam"]
display(Markdown("\n".join([
    f"- At {P.image_size} px a relu5 CAM is {cam_side} × {cam_side}: each cell covers "
    f"{P.image_size / cam_side:.0f} px; the detail in an upsampled map is interpolation.",
    f"- From-scratch GradCAM and GradCAM++ match `pytorch_grad_cam` to 1e-4.",
    f"- ROAD on {len(keys)} images (AlexNet): GradCAM − random map {diff_text(gc_random)}; "
    f"GradCAM − centred blob {diff_text(gc_blob)}.",
    f"- Variants: " + (", ".join(better) + " gave significantly more faithful GradCAMs than AlexNet"
                       if better else "no variant's GradCAM was significantly more faithful than "
                       "AlexNet's") + f" (ROAD, {len(keys)} images, Holm; one trained model per variant, seed {P.seed}).",
    f"- Randomising only fc3 leaves the relu5 maps at ρ = {interval(sanity['relu5'][first], 2)} "
    f"with the trained maps; with every layer random, ρ = {interval(sanity['relu5'][last], 2)}.",
    f"- LIME ({lime_segmentation}, {lime_samples:,} samples) and GradCAM agree per superpixel with "
    + "; ".join(f"ρ = {interval(agreement[n], 2)} for {n}" for n in lime_models) + ".",
    f"- Profile {P.name}: these are {'a smoke test’s numbers — tiny models, few images; nothing here is evidence' if P.name == 'smoke' else 'the numbers of this profile only'}.",
])))

# %% [markdown]
# ## Exercises
#
# 1. Compute the quality table with GradCAM at relu2 (`compute_cam(..., layer=base.features.relu2)`)
#    and add it to the family against the random map. Does the finer map score better?
# 2. Explain the *predicted* class instead of the true one for a misclassified image. What does
#    the map show?
# 3. Double `quality_images`. Which intervals shrink, and does any verdict change?
# 4. Run LIME with seed 002's settings (`lime_segmentation = "quickshift"`,
#    `lime_samples = 10_000`). How many superpixels does quickshift make on an upsampled 32 px
#    image, and does the agreement with GradCAM change?
