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
from course_lib import chapter

P = chapter.start(profile, image_size=image_size, epochs=epochs, batch_size=batch_size, lr=lr,
                  seed=seed, seeds=seeds)

# %%
import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

from course_lib import reading as read
from course_lib.experiments.measure import count_flops, count_params
from course_lib.models import (
    ALEXNET_CONVS,
    alexnet_feature_sizes,
    alexnet_receptive_fields,
    build_model,
)
from course_lib.plots import plot_confusion, plot_seed_curves, show_as_jpeg

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
#
# ### What each layer sees at this profile's size
#
# The side of a map is one half of the story; the other is its **receptive field**, the patch of
# the input that one position of the map depends on. A layer with kernel $k$ and stride $s$ grows
# it by $(k-1)\,j$, where $j$ is the distance in input pixels between two neighbouring positions
# of its input map, and multiplies $j$ by $s$. The receptive field does not depend on the image
# size; how much of the image it covers does.

# %%
print(f"{P.image_size} px input")
print(f"{'layer':6s} {'map':>7s} {'receptive field':>16s} {'step':>5s}")
for name, side, field, jump in alexnet_receptive_fields(P.image_size):
    print(f"{name:6s} {side:>3d}×{side:<3d} {field:>10d} px {jump:>7d} px")
geometry = dict((name, (side, field)) for name, side, field, _ in alexnet_receptive_fields(P.image_size))
conv5_side, conv5_field = geometry["conv5"]
pool5_side = geometry["pool5"][0]
display(Markdown(
    f"At {P.image_size} px, conv3-5 work on {conv5_side}×{conv5_side} maps and pool5 hands the "
    f"classifier {pool5_side}×{pool5_side} positions of 128 channels "
    f"({128 * pool5_side ** 2:,} numbers). One conv5 position sees {conv5_field} px of input, "
    + ("more than the whole image (the rest is padding): every conv5 position sees every pixel, "
       "and what differs between positions is where in its field the object lies. "
       if conv5_field >= P.image_size else f"about {conv5_field / P.image_size:.0%} of the image's side. ")
    + f"This is the map that attention modules placed after conv3-5 gate, and the map GradCAM "
    f"explains in section 4: a {conv5_side}×{conv5_side} grid, drawn upsampled over the image."
))

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
# augmentation), at this profile's size. `chapter.train_variant` trains one run per seed in `seeds`, or
# loads it when a run with the same settings has finished before (`runs/alexnet-none-<hash>/`),
# and resumes an interrupted one from its last finished epoch.

# %%
data = chapter.load_course_data(P)
print(data)
runs = chapter.train_variant(data, P, attention=None)
baseline = runs[0]
flops = {"AlexNet": count_flops(baseline.model, P.image_size)}
print(chapter.compare_runs({"AlexNet": baseline}, flops))

# %%
fig = plot_seed_curves({"AlexNet": [r.history for r in runs]},
                       title=f"AlexNet, {P.image_size} px, {len(runs)} seeds")
plt.show()
display(Markdown(read.describe_curves("AlexNet", runs)))

# %% [markdown]
# The three panels: the training loss every few steps (noisy: each point is a few batches of
# augmented images), the validation loss per epoch, and accuracy per epoch on the training
# batches (dashed) and on the 5,000 held-out validation images (solid). With label smoothing
# 0.1 the loss cannot fall below about 0.50 (chapter 00), so the curves are far from 0 even for
# a good model.

# %% [markdown]
# ### Several seeds
#
# One run is one draw: the initial weights, the order of the batches and the augmentation all
# depend on the seed. The spread over seeds is the yardstick for every difference in the
# chapters that follow. The numbers are **test** accuracies after the last epoch: the test split
# is read once per run, after training, and chooses nothing.

# %%
seeds_cmp = chapter.compare_variants({"AlexNet": runs})
print(seeds_cmp.table())
display(Markdown(read.describe_seeds("AlexNet", runs)))

# %% [markdown]
# **Why "best of 50 epochs on the test set" is optimistic.** The seeds evaluate on the test
# split after every epoch and report the highest of the 50 values. Each value is the true
# accuracy plus noise (10,000 images give a binomial standard error of about 0.4 points near
# 80 %), and the maximum of 50 noisy values sits above the true accuracy of the chosen epoch —
# and the choice itself was made by looking at the test images. The course chooses `best.pt` on
# the validation split and reports the test accuracy of the last epoch. How much the choice
# matters here, on validation accuracy:

# %%
for run in runs:
    m = run.metrics
    print(f"seed {m['seed']}: best validation epoch {m['best_epoch']} of {m['epochs']} "
          f"({m['best_val_accuracy']:.4f}), last epoch {m['final_val_accuracy']:.4f}; "
          f"test accuracy after the last epoch {m['accuracy']:.4f}")
optimism = sum(r.metrics["best_val_accuracy"] - r.metrics["final_val_accuracy"] for r in runs) / len(runs)
display(Markdown(
    f"Picking the best epoch instead of the last gains {optimism * 100:.2f} points on average here"
    + (" — nothing, because with a cosine schedule the last epoch is usually the best of a short run. "
       if optimism < 0.001 else ". ")
    + "In a 50-epoch run with a noisy plateau the maximum picks up more of the noise; the GPU "
    "runs of README (section \"The paper profile on a GPU\") show best-of-epochs above the "
    "final value."
))

# %% [markdown]
# ## 3 · What the network gets right and wrong
#
# The seeds' strip of 18 test images, predicted label over true label (red when wrong), then the
# confusion matrix over the whole test split. The images are drawn from their stored uint8 pixels,
# so nothing needs de-normalising or clipping.

# %%
strip = chapter.fixed_test_images(data, n=18)
fig = chapter.prediction_strip(baseline, data, strip)
show_as_jpeg(fig)
strip_preds = chapter.predicted_classes(baseline, data, strip)
strip_correct = (strip_preds == data.test_labels[strip]).tolist()
display(Markdown(read.describe_strip(strip_correct, [data.classes[int(c)] for c in data.test_labels[strip]])
                 + f" At {read.pct(baseline.metrics['accuracy'])} test accuracy about "
                 f"{round(18 * baseline.metrics['accuracy'])} of 18 are expected right."))

# %%
fig = plot_confusion(baseline.metrics["confusion_matrix"], data.classes,
                     title=f"AlexNet seed {baseline.metrics['seed']}, test accuracy "
                           f"{baseline.metrics['accuracy']:.3f}")
plt.show()
display(Markdown(read.describe_confusion(baseline.metrics, data.classes)
                 + " Rows are true classes, columns predictions, each row sums to 1."))

# %% [markdown]
# ## 4 · Where it looks: GradCAM and GradCAM++
#
# GradCAM weights each channel $k$ of the last convolutional block's output $A^k$ by the average
# gradient of the class score, $\alpha_k^c = \frac{1}{Z}\sum_{ij} \partial y^c / \partial A^k_{ij}$,
# and keeps the positive part of $\sum_k \alpha^c_k A^k$. GradCAM++ replaces the plain average by
# per-pixel weights from higher-order derivatives. Chapter 08 derives both and measures how far
# the maps can be trusted; here `pytorch_grad_cam` computes them at the ReLU after conv5, for
# the true class of eight fixed test images — the same images in every chapter. Each map is the
# conv5 grid (see section 1) upsampled to the image and scaled to [0, 1] per image.

# %%
cams = chapter.cam_section({"AlexNet": baseline}, data)
display(Markdown(
    read.describe_cams(cams)
    + f". A map's peak in the central half is what an object-centred dataset leads one to expect;"
    f" a peak at the border is often background (sky, water, road) that correlates with the "
    f"class — a shortcut rather than the object. On a {conv5_side}×{conv5_side} grid a map has "
    f"only {conv5_side ** 2} cells, so its blobs are coarse; GradCAM and GradCAM++ differ mostly "
    f"in how they weigh the channels, not in resolution."
))

# %% [markdown]
# ## 5 · Results
#
# One row per seed goes to `results/<profile>/`, named by its whole configuration (size,
# epochs, training images, settings hash), where the leaderboard chapter reads it. The seeds
# reported 82.42 % for this network at 224 px (seed 000) and 84.29 % at 128 px (seed 001), each
# the best of 50 epochs on the test set of the official CIFAR-10 files, from one run; a `quick`
# run (5 epochs on 16,000 images of the JPEG copy) is not comparable with those numbers, a
# `paper` run on a GPU is (README: 78.58 % and 77.94 % at 224 px, 82.02 % at 128 px, final
# epoch, on an H100).

# %%
for run in runs:
    print(chapter.report(run, "01_alexnet_baseline"))

# %% [markdown]
# ## Summary
#
# - AlexNet's convolutions hold under a million of its parameters; its FLOPs sit in the
#   convolutions and scale with the image area. At the profile's size the attention modules of
#   the next chapters act on the maps printed in section 1.
# - The numbers this chapter produced (learning curves, the seed spread, the confusion matrix)
#   are printed and read above; the seed spread is the yardstick for chapters 02-07.
# - Model selection uses a validation split; tables report the final epoch's test accuracy.
#   The seeds' "best of 50 epochs on the test set" is an optimistic number.
#
# ## Exercises
#
# 1. Replace the 11×11 stride-4 first convolution by a 3×3 stride-1 one (a common CIFAR choice).
#    Recompute the output sizes by the formula: what happens to `fc1`'s parameter count?
# 2. Train with `epochs=10` (papermill: `-p epochs 10`). The run gets a new folder and a new
#    results file (the configuration differs). Which curves keep improving, and does training
#    accuracy overtake validation accuracy?
# 3. Which two classes does the confusion matrix confuse most? Look at a few of those test images:
#    would you confuse them at 32 × 32 pixels?
# 4. Count the FLOPs of each layer separately (`FlopCounterMode(display=True)`): which layer costs
#    the most, and is it the one with the most parameters?
