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
import inspect
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from course_lib.attention import (
    AttentionGate,
    MeanGateProduct,
    ThreeAxisZPool,
    TripletAttention,
    ZPool,
)
from course_lib.attention.same_conv import row_band_kernel, same_conv2d
from course_lib.chapter import (
    cam_comparison,
    compare_runs,
    fixed_test_images,
    load_course_data,
    prediction_strip,
    report,
    seed_table,
    train_variant,
)
from course_lib.data import EvalTransform
from course_lib.device import device_name
from course_lib.measure import count_flops, count_params
from course_lib.models import build_model
from course_lib.plots import plot_history

P = get_profile(profile, image_size=image_size, epochs=epochs, batch_size=batch_size, lr=lr,
                seed=seed, seeds=tuple(seeds))
plt.rcParams.update({"figure.dpi": 72})
print(f"profile {P.name} | device {device_name()} | {P}")

# %% [markdown]
# ## 1 · The idea: cross-dimension interaction
#
# For an input $\chi \in \mathbb R^{C\times H\times W}$, each branch looks at one plane of the
# tensor and pools the third axis away:
#
# | branch | plane the gate sees | axis pooled | rotation in the official code |
# |---|---|---|---|
# | C-H | (C, W) ... seen from H | H | `permute(0, 2, 1, 3)`: $(B,C,H,W) \to (B,H,C,W)$ |
# | C-W | (H, C) ... seen from W | W | `permute(0, 3, 2, 1)`: $(B,C,H,W) \to (B,W,H,C)$ |
# | H-W | (H, W), CBAM's spatial attention | C | none |
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
x = torch.randn(2, 48, 15, 15)  # (B, C, H, W): AlexNet's conv1 output at 64 px
z = ZPool()
for name, rotated in [("C-H", x.permute(0, 2, 1, 3)), ("C-W", x.permute(0, 3, 2, 1)), ("H-W", x)]:
    print(f"{name}: rotated {tuple(rotated.shape)} -> Z-pool {tuple(z(rotated).shape)} "
          f"-> gate {tuple(AttentionGate().gate(rotated).shape)}")
ta = TripletAttention(48)
print("output:", tuple(ta(x).shape))

# %% [markdown]
# ## 2 · Three broadcast gates: the cheaper exact form
#
# Look at what a branch computes. In the C-H branch the gate is a function of the Z-pool over H,
# a map of shape $(C, W)$; multiplying the rotated tensor by it and rotating back is the same as
# multiplying $\chi$ by that gate *broadcast along H*. The same holds for every branch, so
# $$ y = \chi \odot \tfrac13\big(G_{CH}[\,C,1,W\,] + G_{CW}[\,C,H,1\,] + G_{HW}[\,1,H,W\,]\big). $$
# The pooled maps can be read straight off $\chi$ (max and mean over H, over W, over C): no
# rotated copy of the input is ever made, and the input is multiplied once instead of three
# times. `TripletAttention.forward_fast` (the default) does this; `forward_literal` keeps the
# official rotate-gate-rotate for teaching. The code of both:

# %%
print(inspect.getsource(TripletAttention.forward_literal))
print(inspect.getsource(TripletAttention.pooled_maps))
print(inspect.getsource(TripletAttention.forward_fast))

# %% [markdown]
# Three more pieces of bookkeeping make the fast form fast on a CPU without changing a formula.
#
# * The six reductions (max and mean over H, over W, over C) are one autograd node,
#   `ThreeAxisZPool`, with a hand-written backward: the gradient of a mean spreads $1/n$ of the
#   upstream gradient over the pooled axis, the gradient of a max goes to the arg-max entry, and
#   all six are written into one tensor instead of six that autograd would add up.
# * The product $\chi \odot \frac13(G_{CH} + G_{CW} + G_{HW})$ is another node,
#   `MeanGateProduct`. Its backward needs $\sum_h \partial L/\partial y \odot \chi$ for
#   $G_{CH}$ (and the same over $w$ and over $c$); it computes the sums over H and W as pooling
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
    for bn in (fast.gate_ch.bn, fast.gate_cw.bn, fast.gate_hw.bn):  # non-trivial BN state
        bn.running_mean.fill_(0.3)
        bn.running_var.fill_(2.0)
    literal = TripletAttention(48, literal=True)
    literal.load_state_dict(fast.state_dict())
    fast.train(train)
    literal.train(train)
    x1 = torch.randn(4, 48, 15, 15, requires_grad=True)
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
literal_s = step_time(TripletAttention(48, literal=True), x)
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
data = load_course_data(P)
variants = {"AlexNet": train_variant(data, P, attention=None),
            "AlexNet-TA": train_variant(data, P, attention="triplet")}
main = {name: runs[0] for name, runs in variants.items()}
flops = {name: count_flops(run.model, P.image_size) for name, run in main.items()}
print(compare_runs(main, flops))

# %%
fig = plot_history({n: r.history for n, r in main.items()}, title=f"{P.image_size} px, seed {P.seed}")
plt.show()

# %% [markdown]
# **Is the difference real?** The table puts the mean over seeds beside the run-to-run spread
# and applies Welch's t-test (two-sided, unequal variances): a difference is called significant
# only when p < 0.05; otherwise it is within noise at this number of runs.

# %%
print(seed_table(variants, baseline="AlexNet"))

# %% [markdown]
# ## 6 · The three gates of one image
#
# The gates of the first module (after conv1) for one test image, from the trained model: the H-W
# gate is a spatial map; the C-H and C-W gates are maps over (channel, width) and (channel,
# height) — which columns (rows) matter for which channel.

# %%
ta_model = main["AlexNet-TA"].model.eval()
index = int(fixed_test_images(data, n=8)[0])
x = EvalTransform(P.image_size, data.mean, data.std)(data.test_images[index:index + 1])
with torch.no_grad():
    conv1_out = ta_model.features.conv1(x.to(next(ta_model.parameters()).device))
    gates = ta_model.features.attn1.gates(conv1_out)
fig, axes = plt.subplots(1, 4, figsize=(11, 2.6))
axes[0].imshow(data.test_images[index].permute(1, 2, 0), interpolation="nearest")
axes[0].set_title(data.classes[int(data.test_labels[index])])
panels = [("hw", "H-W gate (H × W)", gates["hw"][0, 0]),
          ("ch", "C-H gate (C × W)", gates["ch"][0, :, 0, :]),
          ("cw", "C-W gate (C × H)", gates["cw"][0, :, :, 0])]
for ax, (key, title, g) in zip(axes[1:], panels):
    im = ax.imshow(g.cpu(), vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_title(title, fontsize=9)
fig.colorbar(im, ax=axes, fraction=0.02)
for ax in axes:
    ax.set_xticks([])
    ax.set_yticks([])
plt.show()

# %% [markdown]
# ## 7 · Predictions and GradCAM beside the baseline

# %%
fig = prediction_strip(main["AlexNet-TA"], data, fixed_test_images(data, n=18))
plt.show()

# %%
fig = cam_comparison(main, data, fixed_test_images(data, n=8))
plt.show()

# %% [markdown]
# ## 8 · Results
#
# The seed (000) reported 82.42 % → 87.77 % at 224 px after 50 epochs (official CIFAR-10, one run
# each), and 562 → 544 images/s at inference. Our rows:

# %%
for run in variants["AlexNet-TA"]:
    print(report(run, "02_triplet_attention"))

# %% [markdown]
# ## Exercises
#
# 1. Train without the H-W branch: `train_variant(data, P, "triplet", model_kwargs={"attention_kwargs":
#    {"no_spatial": True}})`. How much of the
#    effect comes from the spatial branch?
# 2. Replace Z-pool by the mean alone. Does the equivalence of the two forms still hold? (It should:
#    why?)
# 3. Change the gate's kernel to 3. How many parameters per module now?
# 4. In the Paddle convention, which `momentum` value reproduces PyTorch's 0.01?
