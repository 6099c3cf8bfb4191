# %% [markdown]
# # 01 · The AlexNet baseline
#
# Every attention module in this course is judged against one network: the AlexNet of the seed
# posts, trained on CIFAR-10 with one recipe. This chapter takes it apart — the size of every
# layer's output, the parameter count by hand, the FLOPs — then trains it and looks at what it
# learned: learning curves, predictions, the confusion matrix and GradCAM / GradCAM++ maps.
# Chapters 02-07 change one thing (the attention module) and compare against these numbers.

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
import matplotlib.pyplot as plt
import torch

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
from course_lib.device import device_name
from course_lib.measure import count_flops, count_params
from course_lib.models import ALEXNET_CONVS, alexnet_feature_sizes, build_model, conv_output_size
from course_lib.plots import plot_confusion, plot_history

P = get_profile(profile, image_size=image_size, epochs=epochs, batch_size=batch_size, lr=lr,
                seed=seed, seeds=tuple(seeds))
plt.rcParams.update({"figure.dpi": 72})
print(f"profile {P.name} | device {device_name()} | {P}")

# %% [markdown]
# ## 1 · The architecture
#
# Five convolutions (48-128-192-192-128 channels; kernels 11 with stride 4, then 5, 3, 3, 3), three
# 3×3 max-pools with stride 2, and a classifier of two 2048-wide fully connected layers with
# dropout 0.5. Half the width of Krizhevsky's original (which was split over two GPUs), as in the
# seeds. `attention=` would insert a module after every convolution, before its ReLU; here it is
# `None`.

# %%
model = build_model("alexnet", image_size=224)
print(model)

# %% [markdown]
# ### The size of every output
#
# A convolution or pooling with kernel $k$, stride $s$ and padding $p$ maps a side of $n$ pixels to
# $$ n' = \left\lfloor \frac{n + 2p - k}{s} \right\rfloor + 1 . $$
# At 224 px: conv1 gives $\lfloor (224 + 10 - 11)/4 \rfloor + 1 = 56$, pool1
# $\lfloor (56-3)/2 \rfloor + 1 = 27$, conv2 keeps 27 (padding 2 for a 5×5 kernel), pool2 gives
# 13, conv3-5 keep 13, pool5 gives 6: the classifier sees $128 \times 6 \times 6 = 4608$ numbers.
# The seeds hard-code that 4608; `course_lib` derives it from `image_size`, so the same class runs
# at 128 px (SimAM's seed) and 64 px (the CPU profile). Below, the formula for three input sizes,
# checked against the shapes the model really produces:

# %%
# NBVAL_CHECK_OUTPUT
def measured_sizes(size: int) -> dict:
    net = build_model("alexnet", image_size=size)
    seen = {}
    hooks = [layer.register_forward_hook(lambda m, i, o, n=name: seen.__setitem__(n, o.shape[-1]))
             for name, layer in net.features.named_children() if name[:4] in ("conv", "pool")]
    net(torch.zeros(1, 3, size, size))
    for h in hooks:
        h.remove()
    return seen

print(f"{'layer':6s}" + "".join(f"{s:>8d} px" for s in (224, 128, 64)))
by_formula = {s: dict(alexnet_feature_sizes(s)) for s in (224, 128, 64)}
by_model = {s: measured_sizes(s) for s in (224, 128, 64)}
for layer in by_formula[224]:
    print(f"{layer:6s}" + "".join(f"{by_formula[s][layer]:>11d}" for s in (224, 128, 64)))
print("formula == model at every layer:", by_formula == by_model)

# %% [markdown]
# Below 57 px the third pool has nothing left to pool; `build_model` refuses such sizes with an
# error that says the minimum.

# %% [markdown]
# ### The parameter count by hand
#
# A convolution from $C_{in}$ to $C_{out}$ channels with a $k\times k$ kernel has
# $k^2 C_{in} C_{out}$ weights and $C_{out}$ biases; a fully connected layer from $n$ to $m$ has
# $nm + m$. Summed over the network at 224 px with 10 classes:

# %%
# NBVAL_CHECK_OUTPUT
rows, c_in = [], 3
for i, (c_out, k, *_rest) in enumerate(ALEXNET_CONVS, start=1):
    rows.append((f"conv{i}", f"{k}·{k}·{c_in}·{c_out} + {c_out}", k * k * c_in * c_out + c_out))
    c_in = c_out
for name, n, m in [("fc1", 128 * 6 * 6, 2048), ("fc2", 2048, 2048), ("fc3", 2048, 10)]:
    rows.append((name, f"{n}·{m} + {m}", n * m + m))
for name, formula, count in rows:
    print(f"{name:5s} {formula:24s} {count:>12,d}")
total = sum(r[2] for r in rows)
print(f"{'total':30s} {total:>12,d}")
print("count_params(model) =", f"{count_params(model):,d}", "| equal:", total == count_params(model))

# %% [markdown]
# Two thirds of the parameters sit in `fc1` (9.4 M of 14.6 M), because 4608 inputs meet 2048
# outputs. At 128 px the flatten size drops to $128 \times 3 \times 3 = 1152$ and the network to
# 7,524,042 parameters; at 64 px to 5,426,890. The convolutions, where attention modules act,
# hold under a million.
#
# ### FLOPs
#
# `torch.utils.flop_counter.FlopCounterMode` counts the floating-point operations of a forward
# pass (a multiply-add counts as two; only convolutions and matrix products are counted). Unlike
# the parameters, the FLOPs live mostly in the convolutions, and they scale with the image area:

# %%
# NBVAL_CHECK_OUTPUT
for size in (224, 128, 64):
    net = build_model("alexnet", image_size=size)
    print(f"{size:4d} px: {count_params(net):>11,d} parameters, {count_flops(net, size) / 1e6:8.1f} MFLOPs")

# %% [markdown]
# ## 2 · Training
#
# The recipe of chapter 00 (Adam, cosine schedule per step, label smoothing 0.1, batched
# augmentation), at this profile's size. `train_variant` trains one run per seed in `seeds`, or
# loads it when a run with the same settings has finished before (`runs/alexnet-none-<hash>/`),
# and resumes an interrupted one from its last finished epoch.

# %%
data = load_course_data(P)
print(data)
runs = train_variant(data, P, attention=None)
baseline = runs[0]
flops = {"AlexNet": count_flops(baseline.model, P.image_size)}
print(compare_runs({"AlexNet": baseline}, flops))

# %%
fig = plot_history({"AlexNet": baseline.history}, title=f"AlexNet, {P.image_size} px, seed {P.seed}")
plt.show()

# %% [markdown]
# **Several seeds.** One run is one draw: the initial weights, the order of the batches and the
# augmentation all depend on the seed. The spread over seeds is the yardstick for every
# difference in the chapters that follow.

# %%
print(seed_table({"AlexNet": runs}))

# %% [markdown]
# ## 3 · What the network gets right and wrong
#
# The seeds' strip of 18 test images, predicted label over true label (red when wrong), then the
# confusion matrix over the whole test split. The images are drawn from their stored uint8 pixels,
# so nothing needs de-normalising or clipping.

# %%
strip = fixed_test_images(data, n=18)
fig = prediction_strip(baseline, data, strip)
plt.show()

# %%
fig = plot_confusion(baseline.metrics["confusion_matrix"], data.classes,
                     title=f"AlexNet, accuracy {baseline.metrics['accuracy']:.3f}")
plt.show()
for name, acc in sorted(baseline.metrics["per_class_accuracy"].items(), key=lambda kv: kv[1]):
    print(f"{name:11s} {acc:.3f}")

# %% [markdown]
# ## 4 · Where it looks: GradCAM and GradCAM++
#
# GradCAM weights each channel $k$ of the last convolutional block's output $A^k$ by the average
# gradient of the class score, $\alpha_k^c = \frac{1}{Z}\sum_{ij} \partial y^c / \partial A^k_{ij}$,
# and keeps the positive part of $\sum_k \alpha^c_k A^k$. GradCAM++ replaces the plain average by
# per-pixel weights from higher-order derivatives. Chapter 08 derives both; here
# `pytorch_grad_cam` computes them at the ReLU after conv5 (the output of the last block), for
# the true class of eight fixed test images — the same images in every chapter.

# %%
cam_images = fixed_test_images(data, n=8)
fig = cam_comparison({"AlexNet": baseline}, data, cam_images)
plt.show()

# %% [markdown]
# ## 5 · Results
#
# The row below goes to `results/<profile>/`, where the leaderboard chapter reads it. The seeds
# reported 82.42 % for this network at 224 px after 50 epochs on the official CIFAR-10 files
# (seed 000); a `quick` run (64 px, 5 epochs, JPEG copy) is not comparable with that number, a
# `paper` run on a GPU is.

# %%
for run in runs:
    print(report(run, "01_alexnet_baseline"))

# %% [markdown]
# ## Exercises
#
# 1. Replace the 11×11 stride-4 first convolution by a 3×3 stride-1 one (a common CIFAR choice).
#    Recompute the output sizes by the formula: what happens to `fc1`'s parameter count?
# 2. Train with `epochs=10`. Which of the learning curves keeps improving, and is the model
#    overfitting (compare the training and validation curves)?
# 3. Which two classes does the confusion matrix confuse most? Look at a few of those test images:
#    would you confuse them at 32 × 32 pixels?
# 4. Count the FLOPs of each layer separately (`FlopCounterMode(display=True)`): which layer costs
#    the most, and is it the one with the most parameters?
