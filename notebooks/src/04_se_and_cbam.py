# %% [markdown]
# # 04 · The references: Squeeze-and-Excitation and CBAM
#
# *Hu, Shen, Sun — "Squeeze-and-Excitation Networks", CVPR 2018.*
# *Woo, Park, Lee, Kweon — "CBAM: Convolutional Block Attention Module", ECCV 2018.*
#
# Triplet Attention and SimAM both measure themselves against these two modules. SE learns one
# weight per channel from the channel's global average; CBAM adds a max-pooled descriptor and
# then a spatial gate — which is exactly Triplet Attention's H-W branch. This chapter builds both,
# counts their parameters by formula, trains them with the same recipe, and puts all five
# AlexNet variants of chapters 01-04 side by side.

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
reduction = 16  # r, the SE / CBAM bottleneck ratio (the papers' value)
train_all = False  # also train TA and SimAM if chapters 02-03 have not (else: load when finished)

# %%
from course_lib import chapter

P = chapter.start(profile, image_size=image_size, epochs=epochs, batch_size=batch_size, lr=lr,
                  seed=seed, seeds=seeds)

# %%
import inspect

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

from course_lib import reading as read
from course_lib.attention import CBAM, SqueezeExcite, TripletAttention
from course_lib.attention.se import se_hidden_channels
from course_lib.experiments.bench import recorded_overheads
from course_lib.experiments.measure import count_flops, count_params
from course_lib.models import build_model
from course_lib.plots import plot_seed_curves

# %% [markdown]
# ## 1 · Squeeze-and-Excitation
#
# **Squeeze:** global average pooling turns each channel $c$ of $X \in \mathbb R^{C\times H\times W}$
# into one number, $z_c = \frac{1}{HW}\sum_{i,j} x_c(i,j)$.
# **Excite:** a two-layer bottleneck MLP maps $z$ to channel weights,
# $s = \sigma\big(W_2\,\delta(W_1 z)\big)$ with $W_1 \in \mathbb R^{h\times C}$,
# $W_2 \in \mathbb R^{C\times h}$, $\delta$ = ReLU and $h = C/r$.
# **Scale:** $\tilde x_c = s_c\, x_c$.
#
# Parameters (with biases): $Ch + h + hC + C$. `course_lib` keeps $h \ge 8$ so that AlexNet's
# 48-channel layer does not get a 3-unit bottleneck (the paper's $C/16$ would).
#
# *For context, the papers' own numbers (ImageNet, 224 px, single crop, top-1 error):* SE
# (Hu et al., CVPR 2018, Table 2) took ResNet-50 from 24.80 % (their re-implementation) to
# 23.29 %; CBAM (Woo et al., ECCV 2018, Table 4) reports ResNet-50 24.56 %, with SE 23.14 % and
# with CBAM 22.66 %. Those are gains of 1.5-1.9 points on a 1000-class problem with 1.28 million
# training images and 90-100 epochs — a different regime from a few epochs of CIFAR-10 on a CPU.

# %%
print(inspect.getsource(SqueezeExcite.gate))

# %% [markdown]
# ## 2 · CBAM: channel, then space
#
# **Channel attention** uses both an average- and a max-pooled descriptor through one shared MLP:
# $$ M_c(F) = \sigma\big(\mathrm{MLP}(\mathrm{AvgPool}(F)) + \mathrm{MLP}(\mathrm{MaxPool}(F))\big),
#    \qquad F' = M_c(F) \otimes F . $$
# **Spatial attention** pools across channels (max and mean: Triplet Attention's Z-pool) and runs
# a $7\times7$ convolution:
# $$ M_s(F') = \sigma\big(f^{7\times7}([\mathrm{MaxPool}_c(F');\ \mathrm{AvgPool}_c(F')])\big),
#    \qquad F'' = M_s(F') \otimes F' . $$
# Following the official code, the convolution has no bias and is followed by a BatchNorm.
# Parameters: $2Ch + h + C$ for the MLP and $2k^2 + 2$ for the spatial gate.
#
# Where Triplet Attention differs: its two other branches replace CBAM's channel MLP, which sees
# the channel only as a global average, by gates over (C, W) and (C, H) planes that keep one
# spatial axis — and they cost 200 parameters at any width instead of $2Ch + h + C$.

# %%
print(inspect.getsource(CBAM.forward))

# %% [markdown]
# CBAM's spatial gate *is* Triplet Attention's H-W branch: Z-pool over channels (max, mean), a
# 7×7 convolution without bias, BatchNorm, sigmoid. Copy one's weights into the other and the
# gates agree to the last bit of float32:

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
cbam_module, ta_module = CBAM(48).eval(), TripletAttention(48).eval()
ta_module.hw.load_state_dict(cbam_module.spatial.state_dict())
cbam_module.spatial.fast = False  # both in their plain form (the fast one rounds differently)
feature_map = torch.randn(4, 48, 15, 17)
with torch.no_grad():
    difference = (cbam_module.spatial.gate(feature_map) - ta_module.hw.gate(feature_map)).abs().max()
print(f"largest difference between CBAM's spatial gate and TA's H-W gate: {float(difference):.1e}")

# %% [markdown]
# ## 3 · Parameters by formula, checked

# %%
# NBVAL_CHECK_OUTPUT
print(f"{'C':>5s} {'h':>4s} {'SE formula':>11s} {'SE model':>9s} {'CBAM formula':>13s} {'CBAM model':>11s}")
for c in (48, 128, 192):
    h = se_hidden_channels(c, reduction)
    se_formula = c * h + h + h * c + c
    cbam_formula = 2 * c * h + h + c + 2 * 7 * 7 + 2
    print(f"{c:5d} {h:4d} {se_formula:11,d} {count_params(SqueezeExcite(c, reduction)):9,d} "
          f"{cbam_formula:13,d} {count_params(CBAM(c, reduction)):11,d}")

print()
for size in (224, 128):
    counts = {a or "none": count_params(build_model("alexnet", attention=a, image_size=size))
              for a in (None, "se", "cbam", "triplet", "simam")}
    base = counts["none"]
    print(f"{size} px: " + ", ".join(f"{k} +{v - base:,d}" for k, v in counts.items() if k != "none"))

# %% [markdown]
# ## 4 · Training
#
# The same recipe, data and seeds as chapters 01-03. The baseline is loaded from chapter 01 (or
# trained here); Triplet Attention and SimAM join the comparison when chapters 02 and 03 have
# finished their runs with these settings (set `train_all = True` to train them here: about 35
# more minutes on a 2-core CPU). Every variant is compared with the baseline of the same seed.

# %%
data = chapter.load_course_data(P)
# a reduction other than the papers' 16 is passed to SE and CBAM (and names other runs)
bottleneck = None if reduction == 16 else {"attention_kwargs": {"reduction": reduction}}
variants = {name: chapter.train_variant(data, P, attention=att, model_kwargs=kwargs, load_only=optional)
            for name, att, kwargs, optional in
            [("AlexNet", None, None, False), ("AlexNet-SE", "se", bottleneck, False),
             ("AlexNet-CBAM", "cbam", bottleneck, False),
             ("AlexNet-TA", "triplet", None, not train_all),
             ("AlexNet-SimAM", "simam", None, not train_all)]}
for name in [n for n, runs in variants.items() if not runs]:
    print(f"{name}: no finished runs with these settings (run its chapter first, or train_all = True)")
    del variants[name]
main = {name: runs[0] for name, runs in variants.items()}
flops = {name: count_flops(run.model, P.image_size) for name, run in main.items()}
print(chapter.compare_runs(main, flops))

# %%
focus = ("AlexNet", "AlexNet-SE", "AlexNet-CBAM")
fig = plot_seed_curves({n: [r.history for r in variants[n]] for n in focus}, title=f"{P.image_size} px")
plt.show()
display(Markdown("\n\n".join(read.describe_curves(n, variants[n]) for n in focus)))

# %% [markdown]
# **All five, over seeds.** Every variant against the baseline, paired by seed: the difference,
# its 95 % interval and a paired t-test, Holm-corrected for the four comparisons (with four
# tests at 5 % each, the chance of at least one false "significant" would be up to 19 %).

# %%
comparison = chapter.compare_variants(variants, baseline="AlexNet")
print(comparison.table())
display(Markdown(read.describe_comparison(comparison)))

# %%
names = list(variants)
fig, ax = plt.subplots(figsize=(7.5, 3.2))
for y, name in enumerate(names):
    accs = [r.metrics["accuracy"] * 100 for r in variants[name]]
    ax.scatter(accs, [y] * len(accs), color="0.5", s=16, zorder=2, label="one seed" if y == 0 else None)
    s_ = comparison.summaries[name]
    if s_.n > 1:
        ax.errorbar(s_.mean * 100, y, xerr=s_.ci95 * 100, fmt="D", color="C0", capsize=4,
                    label="mean, 95 % CI" if y == 0 else None)
ax.set(yticks=range(len(names)), yticklabels=names, xlabel="test accuracy (%)",
       title=f"five variants, {P.image_size} px, {P.epochs} epochs")
ax.grid(alpha=0.3, axis="x")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
spread = comparison.summaries["AlexNet"]
display(Markdown(
    f"Every seed is a grey point. The baseline's seeds span "
    f"{min(r.metrics['accuracy'] for r in variants['AlexNet']) * 100:.2f}-"
    f"{max(r.metrics['accuracy'] for r in variants['AlexNet']) * 100:.2f} %; a variant whose points "
    f"overlap that range cannot be ranked above or below it from these runs alone — the paired "
    f"differences in the table above are the sharper test, because they remove what the runs of "
    f"one seed share."
))

# %% [markdown]
# ## 5 · Predictions and GradCAM

# %%
display(Markdown(chapter.strip_section(main, data, "AlexNet-CBAM")))

# %%
cams = chapter.cam_section({n: main[n] for n in focus}, data)
flat = {name: [float(m.max() - m.min()) for m in maps] for name, maps in cams.items()}
blank = {n: sum(r < 0.05 for r in v) for n, v in flat.items()}
display(Markdown(
    read.describe_cams(cams)
    + ". Maps that are blank (almost constant: "
    + ", ".join(f"{n} {b} of {len(flat[n])}" for n, b in blank.items())
    + ") arise when no conv5 channel has a positive gradient-weighted activation for the true "
    "class — GradCAM keeps only the positive part, so a model that is not confident in that "
    "class (often: it predicts another one) gives an empty map, not a wrong one."
))

# %% [markdown]
# ## 6 · Results

# %%
for name in ("AlexNet-SE", "AlexNet-CBAM"):
    for run in variants[name]:
        print(chapter.report(run, "04_se_and_cbam"))

# %% [markdown]
# ## Summary
#
# - SE reweights channels from their global average; CBAM adds the max-pooled descriptor and a
#   spatial gate that is exactly Triplet Attention's H-W branch (checked above).
# - On ImageNet the papers report 1.5-1.9 points lower top-1 error for ResNet-50.

# %%
lines = []
for d in comparison.differences.values():
    lines.append(f"- {d.sentence()}")
significant = [d.name for d in comparison.differences.values() if d.significant]
bench = recorded_overheads(P.image_size, main["AlexNet"].metrics["precision"])
speed = "" if bench is None else (
    f"Cost per training step relative to AlexNet, measured by `python -m course_lib bench` on an "
    f"idle machine ({bench['device']}, {P.image_size} px, {bench['date']}): "
    + ", ".join(f"{name} {bench['overheads'][a]:.2f}×" for name, a in
                (("SE", "se"), ("CBAM", "cbam"), ("TA", "triplet"), ("SimAM", "simam"))
                if a in bench["overheads"]) + " (the runs above shared the machine: their speeds "
    "are not comparable).")
display(Markdown(
    f"**At this profile** ({P.image_size} px, {P.epochs} epochs, {len(data.train_labels):,} training "
    f"images, {read.data_source(main['AlexNet'])}):\n\n" + "\n".join(lines) + "\n\n"
    + (f"Differences that survive the correction: {', '.join(significant)}. " if significant else
       "No difference survives the Holm correction: at this profile none of the four modules can "
       "be told apart from the baseline with three seeds. ")
    + speed
))

# %% [markdown]
# ## Exercises
#
# 1. Remove the max-pooled descriptor from CBAM's channel attention. What is left, and how does
#    it differ from SE?
# 2. Set `reduction = 4`. How many parameters does AlexNet-SE gain, and does the paired
#    difference to the baseline move by more than its interval?
# 3. Reverse CBAM's order (spatial first, then channel) by composing `SpatialAttention` and
#    `ChannelAttention` yourself, register it with `register_attention`, and train it.
# 4. Count the FLOPs of SE's MLP at 224 px. Why does `FlopCounterMode` report almost nothing for
#    SE, and which operation does it miss?
