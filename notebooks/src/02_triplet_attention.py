# %% [markdown]
# # 02 · Triplet Attention
#
# *Misra, Nalamada, Arasanipalai, Hou — "Rotate to Attend: Convolutional Triplet Attention
# Module", WACV 2021.*
#
# SE and CBAM compute a channel's weight from that channel squeezed to one number (global
# pooling): what happens *where* in the image is lost before the weight is chosen. Triplet
# Attention keeps a spatial axis in every branch: it pairs the channel axis with the height, the
# channel axis with the width, and height with width, and learns a gate for each pair — with 300
# parameters at any width. This chapter derives the module, shows that its three rotations can
# be replaced by broadcasting (same output, much cheaper), explains a BatchNorm trap in the Paddle
# port, and trains AlexNet-TA against the baseline of chapter 01.

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

# %%
from course_lib import chapter

P = chapter.start(profile, image_size=image_size, epochs=epochs, batch_size=batch_size, lr=lr,
                  seed=seed, seeds=seeds)

# %%
import inspect
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from IPython.display import Markdown, display

from course_lib import reading as read
from course_lib.attention import AttentionGate, TripletAttention, ZPool
from course_lib.attention._fast import (
    MeanGateProduct,
    ThreeAxisZPool,
    row_band_kernel,
    same_conv2d,
    triplet_forward,
    triplet_gates,
)
from course_lib.data import EvalTransform
from course_lib.runtime.device import device_name
from course_lib.experiments.bench import recorded_overheads
from course_lib.experiments.measure import count_flops, count_params
from course_lib.models import alexnet_feature_sizes, build_model
from course_lib.plots import plot_seed_curves

# %% [markdown]
# ## 1 · The idea: cross-dimension interaction
#
# For an input $\chi \in \mathbb R^{C\times H\times W}$, each branch looks at one plane of the
# tensor and pools the third axis away. A branch is named by the plane its convolution sees:
#
# | branch (paper) | plane the 7×7 conv sees | axis pooled | rotation in the official code | official name |
# |---|---|---|---|---|
# | C-H (first) | (H, C) | W | `permute(0, 3, 2, 1)`: $(B,C,H,W) \to (B,W,H,C)$ | `hc` |
# | C-W (second) | (C, W) | H | `permute(0, 2, 1, 3)`: $(B,C,H,W) \to (B,H,C,W)$ | `cw` |
# | H-W (third) | (H, W), CBAM's spatial attention | C | none | `hw` |
#
# The rotation brings the axis to be pooled to the front (dimension 1), where Z-pool reduces it;
# `course_lib` names the three gates `cw`, `hc` and `hw` as the official code does.
#
# **Z-pool** reduces the first axis of a rotated tensor to two maps, its maximum and its mean:
# $$ \text{Z-pool}(\chi) = \big[\max_{0d}(\chi),\ \operatorname{avg}_{0d}(\chi)\big], $$
# cheap (no parameters) and richer than either alone. Each **gate** then runs a $7\times7$
# convolution from 2 channels to 1, a BatchNorm and a sigmoid, and multiplies the rotated tensor
# by the result; the tensor is rotated back and the three branches are averaged:
# $$ y = \tfrac13\Big( \overline{\hat\chi_1 \sigma(\psi_1(\hat\chi_1^*))} +
# \overline{\hat\chi_2 \sigma(\psi_2(\hat\chi_2^*))} + \chi\,\sigma(\psi_3(\chi^*)) \Big), $$
# with $\hat\chi_i$ the rotated inputs, $^*$ Z-pool, $\psi_i$ the conv + BN, and the bar the
# rotation back. On a toy tensor, the shapes along the literal path:

# %%
# NBVAL_CHECK_OUTPUT
x = torch.randn(2, 48, 32, 32)  # (B, C, H, W): AlexNet's conv1 output at 128 px
z = ZPool()
for name, rotated in [("C-H", x.permute(0, 3, 2, 1)), ("C-W", x.permute(0, 2, 1, 3)), ("H-W", x)]:
    print(f"{name}: rotated {tuple(rotated.shape)} -> Z-pool {tuple(z(rotated).shape)} "
          f"-> gate {tuple(AttentionGate().gate(rotated).shape)}")
ta = TripletAttention(48)
print("output:", tuple(ta(x).shape))

# %% [markdown]
# ## 2 · Three broadcast gates: the cheaper exact form
#
# Look at what a branch computes. In the C-W branch the gate is a function of the Z-pool over H,
# a map of shape $(C, W)$; multiplying the rotated tensor by it and rotating back is the same as
# multiplying $\chi$ by that gate *broadcast along H*. The same holds for every branch, so
# $$ y = \chi \odot \tfrac13\big(G_{CW}[\,C,1,W\,] + G_{HC}[\,C,H,1\,] + G_{HW}[\,1,H,W\,]\big). $$
# The pooled maps can be read straight off $\chi$ (max and mean over H, over W, over C): no
# rotated copy of the input is ever made, and the input is multiplied once instead of three
# times. The teaching class `TripletAttention` keeps the official rotate-gate-rotate
# (`forward_literal`) and reads the broadcast gates off it (`gates`); the default forward
# (`fast=True`) calls the library's private fast path, `course_lib.attention._fast`, which
# computes the same gates from pooled maps read straight off $\chi$. The code of both:

# %%
print(inspect.getsource(TripletAttention.forward_literal))
print(inspect.getsource(TripletAttention.gates))
print(inspect.getsource(triplet_gates))
print(inspect.getsource(triplet_forward))

# %% [markdown]
# Three more pieces of bookkeeping make the fast form fast on a CPU without changing a formula.
#
# * The six reductions (max and mean over H, over W, over C) are one autograd node,
#   `ThreeAxisZPool`, with a hand-written backward: the gradient of a mean spreads $1/n$ of the
#   upstream gradient over the pooled axis, the gradient of a max goes to the arg-max entry, and
#   all six are written into one tensor instead of six that autograd would add up.
# * The product $\chi \odot \frac13(G_{CW} + G_{HC} + G_{HW})$ is another node,
#   `MeanGateProduct`. Its backward needs $\sum_h \partial L/\partial y \odot \chi$ for
#   $G_{CW}$ (and the same over $w$ and over $c$); it computes the sums over H and W as pooling
#   windows, up to 20× faster on a CPU than `sum` over a strided axis.
# * Each gate's $7\times7$ convolution of a 2-channel map with $R$ rows is computed as a 1-D
#   convolution along the rows whose $2R$ input channels are the (channel, row) pairs and whose
#   $R$ outputs are the output rows: output row $i$ sees input row $r$ through kernel row
#   $r - i + 3$, and zeros when $|r-i| > 3$ (`same_conv2d`, with the longer axis of the map
#   taken as the rows' length). It does more multiply-adds, but as one well-shaped convolution
#   oneDNN runs it about 2× faster (forward and backward) than the 2→1-channel original.
#
# The test suite checks each of them against its plain form (finite differences for the two
# backwards, `F.conv2d` for the convolution).

# %%
print(inspect.getsource(ThreeAxisZPool.backward))
print(inspect.getsource(MeanGateProduct.backward))
print(inspect.getsource(row_band_kernel))

# %%
# NBVAL_CHECK_OUTPUT
# the rows-as-channels convolution against the plain one, on a conv1-sized (C, W) map
torch.manual_seed(0)
pooled, kernel = torch.randn(4, 2, 48, 16), torch.randn(1, 2, 7, 7)
difference = (same_conv2d(pooled, kernel) - F.conv2d(pooled, kernel, padding=3)).abs().max()
print(f"same_conv2d equals F.conv2d: {bool(difference < 1e-4)}")

# %% [markdown]
# The two forms must agree — outputs, input gradients and parameter gradients up to float32
# rounding (relative difference below $10^{-5}$), with
# BatchNorm in training mode (batch statistics) and in evaluation mode (running statistics):

# %%
# NBVAL_CHECK_OUTPUT
def compare_forms(train: bool) -> tuple[float, float, float]:
    torch.manual_seed(0)
    fast = TripletAttention(48)
    for bn in (fast.cw.bn, fast.hc.bn, fast.hw.bn):  # non-trivial BN state
        bn.running_mean.fill_(0.3)
        bn.running_var.fill_(2.0)
    literal = TripletAttention(48, fast=False)
    literal.load_state_dict(fast.state_dict())
    fast.train(train)
    literal.train(train)
    x1 = torch.randn(4, 48, 15, 17, requires_grad=True)  # H != W: a swapped axis would show
    x2 = x1.detach().clone().requires_grad_(True)
    y1, y2 = fast(x1), literal(x2)
    y1.square().sum().backward()
    y2.square().sum().backward()
    def relative(a, b):  # largest difference, relative to the largest value
        return float((a - b).abs().max() / b.abs().max())

    grads = [relative(a.grad, b.grad) for a, b in zip(fast.parameters(), literal.parameters())]
    return relative(y1.detach(), y2.detach()), relative(x1.grad, x2.grad), max(grads)

for train in (True, False):
    out, gin, gpar = compare_forms(train)
    print(f"{'train' if train else 'eval '} mode: equal outputs {out < 1e-5}, "
          f"equal input grads {gin < 1e-5}, equal parameter grads {gpar < 1e-5}")

# %% [markdown]
# And the point of it, the time of a training step (forward and backward) of one module on a
# conv1-sized batch, on this machine:

# %%
def step_time(module, x, repeats=5) -> float:
    times = []
    for _ in range(repeats):
        xi = x.detach().requires_grad_(True)
        start = time.perf_counter()
        module(xi).sum().backward()
        times.append(time.perf_counter() - start)
    return min(times)

x = torch.randn(32, 48, 56, 56)  # conv1 at 224 px, batch 32
literal_s = step_time(TripletAttention(48, fast=False), x)
fast_s = step_time(TripletAttention(48), x)
print(f"{device_name()}: literal {literal_s * 1e3:.0f} ms, fast {fast_s * 1e3:.0f} ms, "
      f"speed-up {literal_s / fast_s:.1f}x (best of 5)")

# %% [markdown]
# ## 3 · Parameters: 300 per module, and the seed's +1530
#
# Each gate has a $7\times7$ convolution from 2 channels to 1 without bias ($2\cdot 49 = 98$
# weights) and a one-channel BatchNorm (a scale and a shift, 2 parameters): 100 per gate, 300 per
# module, **whatever the number of channels**. The BatchNorm also keeps a running mean and a
# running variance (2 buffers per gate, 6 per module) — not trained, but saved with the model.
# AlexNet-TA has five modules, so 1,500 more parameters than AlexNet. The seed reported
# 14,603,460 − 14,601,930 = 1,530 = 5 × (300 + 6): Paddle's summary counted the running
# statistics too.

# %%
# NBVAL_CHECK_OUTPUT
for width in (8, 48, 192):
    print(f"TripletAttention({width}): {count_params(TripletAttention(width))} parameters")
plain, ta_net = (build_model("alexnet", attention=a, image_size=224) for a in (None, "triplet"))
running = sum(b.numel() for n, b in ta_net.named_buffers() if "running" in n)
print(f"AlexNet {count_params(plain):,d} | AlexNet-TA {count_params(ta_net):,d} "
      f"(+{count_params(ta_net) - count_params(plain)}) | + running statistics: "
      f"+{count_params(ta_net) - count_params(plain) + running}")
print(f"FLOPs at 224 px: {count_flops(plain, 224) / 1e6:.1f} M -> {count_flops(ta_net, 224) / 1e6:.1f} M")

# %% [markdown]
# ## 4 · The BatchNorm momentum trap
#
# Both frameworks keep running statistics with an exponential moving average, but they name the
# weight the other way round:
# $$ \text{PyTorch: } \hat\mu \leftarrow (1-m)\,\hat\mu + m\,\mu_{batch}, \qquad
#    \text{Paddle: } \hat\mu \leftarrow m\,\hat\mu + (1-m)\,\mu_{batch}. $$
# The official PyTorch code uses `momentum=0.01`: the running mean moves 1 % towards each batch,
# a smooth average over ~100 batches. The seed's Paddle port kept the literal `momentum=0.01`,
# which in Paddle means the running mean is 99 % the *last* batch: at test time the gate is
# normalised with one batch's statistics. The simulation below feeds both rules the same noisy
# batch means around 1.0:

# %%
torch.manual_seed(0)
batch_means = 1.0 + 0.3 * torch.randn(300)
pytorch_rule, paddle_rule = [0.0], [0.0]
for mu in batch_means:
    pytorch_rule.append(0.99 * pytorch_rule[-1] + 0.01 * float(mu))  # PyTorch, momentum 0.01
    paddle_rule.append(0.01 * paddle_rule[-1] + 0.99 * float(mu))  # Paddle, momentum 0.01
fig, ax = plt.subplots(figsize=(7, 2.6))
ax.plot(batch_means, lw=0.5, color="grey", label="batch mean")
ax.plot(pytorch_rule, label="running mean, PyTorch momentum=0.01")
ax.plot(paddle_rule, lw=0.8, label="running mean, Paddle momentum=0.01")
ax.set(xlabel="training step", ylabel="mean")
ax.legend(fontsize=7)
fig.tight_layout()
plt.show()
print(f"spread of the last 100 running means: PyTorch rule {torch.tensor(pytorch_rule[-100:]).std():.3f}, "
      f"Paddle rule {torch.tensor(paddle_rule[-100:]).std():.3f}")

# %% [markdown]
# In `course_lib`, `AttentionGate` uses `nn.BatchNorm2d(1, eps=1e-5, momentum=0.01)`, the
# official setting in PyTorch's convention (Paddle's equivalent is `momentum=0.99`).
#
# ## 5 · Training AlexNet-TA
#
# The same recipe, data, profile and seeds as the baseline, which is loaded from its finished
# run in `runs/` (or trained, if chapter 01 has not run with these settings).

# %%
data = chapter.load_course_data(P)
variants = {"AlexNet": chapter.train_variant(data, P, attention=None),
            "AlexNet-TA": chapter.train_variant(data, P, attention="triplet")}
main = {name: runs[0] for name, runs in variants.items()}
flops = {name: count_flops(run.model, P.image_size) for name, run in main.items()}
print(chapter.compare_runs(main, flops))
bench = recorded_overheads(P.image_size, main["AlexNet"].metrics["precision"])
slowdown = None if bench is None else bench["overheads"].get("triplet")
params_added = count_params(main["AlexNet-TA"].model) - count_params(main["AlexNet"].model)
display(Markdown(
    f"Triplet Attention adds {params_added:,} parameters "
    f"({params_added / count_params(main['AlexNet'].model) * 100:.3f} %) and "
    f"{(flops['AlexNet-TA'] / flops['AlexNet'] - 1) * 100:.1f} % FLOPs (convolutions and matrix "
    f"products only)"
    + ("" if slowdown is None else
       f", yet a training step costs {slowdown:.2f}× plain AlexNet's (`python -m course_lib bench`, "
       f"{bench['device']}, {P.image_size} px, {bench['date']}; the runs above shared the machine)")
    + ": the module's cost is not in multiply-adds but in full-size passes over the feature maps "
    "(pooling three ways, the gate products), which FLOP counts do not see."
))

# %%
fig = plot_seed_curves({n: [r.history for r in runs] for n, runs in variants.items()},
                       title=f"{P.image_size} px")
plt.show()
display(Markdown("\n\n".join(read.describe_curves(n, runs) for n, runs in variants.items())
                 + "\n\n" + read.describe_epochwise("AlexNet-TA", variants["AlexNet-TA"], "AlexNet",
                                                 variants["AlexNet"])
                 + " Seed 000 describes Triplet Attention as converging faster; at this profile "
                   "the curves above are what that claim has to match."))

# %% [markdown]
# **Is the difference real?** Each seed trains both networks with the same batch order and
# augmentation draws, so the runs pair up by seed: the difference within a pair removes the
# part of the noise the two runs share. The table gives each variant's test accuracy over
# seeds, then the paired difference with its 95 % interval and a paired t-test. "Significant"
# needs at least three pairs and p < 0.05.

# %%
comparison = chapter.compare_variants(variants, baseline="AlexNet")
print(comparison.table())
display(Markdown(read.describe_comparison(comparison)))

# %% [markdown]
# ## 6 · The three gates of one image
#
# The gates of the first module (after conv1) for one test image, from the trained model: the H-W
# gate is a spatial map; the C-H and C-W gates are maps over (channel, width) and (channel,
# height) — which columns (rows) matter for which channel.

# %%
ta_model = main["AlexNet-TA"].model.eval()
index = int(chapter.fixed_test_images(data, n=8)[0])
x = EvalTransform(P.image_size, data.mean, data.std)(data.test_images[index:index + 1])
with torch.no_grad():
    conv1_out = ta_model.features.conv1(x.to(next(ta_model.parameters()).device))
    gates = ta_model.features.attn1.gates(conv1_out)
fig, axes = plt.subplots(1, 4, figsize=(13, 3.2))
axes[0].imshow(data.test_images[index].permute(1, 2, 0), interpolation="nearest")
axes[0].set_title(f"test image: {data.classes[int(data.test_labels[index])]}", fontsize=9)
axes[0].set_xticks([])
axes[0].set_yticks([])
panels = [("H-W gate: (H, W) plane", gates["hw"][0, 0], "W", "H"),
          ("C-W gate: (C, W) plane", gates["cw"][0, :, 0, :], "W", "channel"),
          ("C-H gate: (H, C) plane", gates["hc"][0, :, :, 0].T, "channel", "H")]
for ax, (title, g, xlabel, ylabel) in zip(axes[1:], panels):
    im = ax.imshow(g.cpu(), vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.title.set_size(9)
fig.colorbar(im, ax=axes, fraction=0.02, label="gate value (sigmoid)")
plt.show()
stats = {name: (float(g.mean()), float(g.min()), float(g.max())) for name, g in
         (("H-W", gates["hw"]), ("C-W", gates["cw"]), ("C-H", gates["hc"]))}
display(Markdown(
    f"The gates of the first module (after conv1, {conv1_out.shape[-1]}×{conv1_out.shape[-1]} "
    f"maps of 48 channels) for one test image. Mean and range: "
    + "; ".join(f"{n} gate {m:.2f} ({lo:.2f}-{hi:.2f})" for n, (m, lo, hi) in stats.items())
    + ". The module multiplies each activation by the mean of its three gates, so a gate near "
    "0.5 everywhere would only halve the map (which conv2's weights can undo); what carries "
    "information is the variation across positions and channels: in the H-W panel, whether the "
    "object's region stands out from the background; in the C-W and C-H panels, horizontal "
    "(vertical) bands, channels that are switched up or down along one spatial axis."
))

# %% [markdown]
# ## 7 · Predictions and GradCAM beside the baseline

# %%
display(Markdown(chapter.strip_section(main, data, "AlexNet-TA") + " On 18 images a difference of one or "
                 "two is noise: each image is right or wrong with probability close to the test accuracy."))

# %%
cams = chapter.cam_section(main, data)
display(Markdown(
    read.describe_cams(cams)
    + ". Triplet Attention changes the features conv5 computes, so its maps differ from the "
    "baseline's even where both networks are right; whether they are *better* explanations "
    "cannot be read off eight images — chapter 08 measures map quality over hundreds."
))

# %% [markdown]
# ## 8 · Results
#
# The seed (000) reported 82.42 % → 87.77 % at 224 px after 50 epochs (official CIFAR-10, one run
# each, best epoch on the test set), and 562 → 544 images/s at inference. On an H100 (README,
# `paper` profile, one seed) AlexNet-TA stood at 82.33 % after 21 of 50 epochs, when the two
# plain AlexNet runs stood at 72.45 % and 71.96 %: a lead of about ten points at equal epochs,
# from one TA run, so far without an interval. Our rows at this profile:

# %%
for run in variants["AlexNet-TA"]:
    print(chapter.report(run, "02_triplet_attention"))

# %% [markdown]
# ## Summary
#
# - Triplet Attention gates every activation by the mean of three gates, each computed from a
#   two-map Z-pool over one axis and a 7×7 convolution: 300 parameters per module at any width.
#   Its branches are named by the plane the convolution sees: (H, C), (C, W), (H, W).
# - Rotating, gating and rotating back equals multiplying by broadcast gates: the library's fast
#   form, checked equal to the literal one in outputs and gradients.
# - The Paddle port's BatchNorm momentum makes its running statistics follow the last batch.

# %%
d = comparison.differences["AlexNet-TA"]
display(Markdown(
    f"- **At this profile** ({P.image_size} px, {P.epochs} epochs, {len(data.train_labels):,} "
    f"training images, {d.n_pairs} seed pairs, {read.data_source(main['AlexNet'])}): {d.sentence()}. "
    + ("" if slowdown is None else f"A training step costs {slowdown:.2f}× plain AlexNet's. ")
    + ("The seed's +5.35 points (224 px, 50 epochs, one run each) is not reproduced at this "
       "profile; the GPU run of README points the same way as the seed at 224 px." if not d.significant
       else "The direction agrees with the seed's +5.35 points at 224 px and 50 epochs.")
))

# %% [markdown]
# ## Exercises
#
# 1. Train without the H-W branch: `chapter.train_variant(data, P, "triplet", model_kwargs={"attention_kwargs":
#    {"no_spatial": True}})` and compare it with `chapter.compare_variants`. How much of the effect comes
#    from the spatial branch, and is the difference larger than the interval?
# 2. Replace Z-pool by the mean alone. Does the equivalence of the two forms still hold? (It should:
#    why?)
# 3. Change the gate's kernel to 3. How many parameters per module now?
# 4. In the Paddle convention, which `momentum` value reproduces PyTorch's 0.01?
