# %% [markdown]
# # 01 · The AlexNet baseline
#
# Chapters 02-04 judge every attention module against one network: the AlexNet of source
# notebooks 000 and 001, trained on CIFAR-10 with one recipe. This chapter takes it apart — the size of every
# layer's output, the parameter count by hand, the FLOPs — then trains it and looks at what it
# learned: learning curves, predictions, the confusion matrix and GradCAM / GradCAM++ maps.
# Chapters 02-04 change one thing, the attention module, and compare against these numbers;
# chapters 05-07 also train other networks (a CIFAR ResNet, MogaNet, VGG16), each with its own
# baseline.

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
from course_lib.learner import default_all_seeds
from course_lib.profiles import get_profile

P = get_profile()  # COURSE_PROFILE, else quick (the recipe of every committed run)
profile = P.name
image_size = P.image_size
epochs = P.epochs
batch_size = P.batch_size
lr = P.lr
seed = P.seed  # the run whose curves, predictions and CAMs are shown
seeds = list(P.seeds)  # the seeds of the statistics
# False (the default on a CPU): learner mode, only `seed` is trained here and checked against the
# course's committed runs of every seed, which give the statistics; True (the default on a GPU):
# every seed is trained and the statistics are this session's
all_seeds = default_all_seeds()

# %%
from course_lib import chapter

P = chapter.start(profile, all_seeds=all_seeds, image_size=image_size, epochs=epochs,
                  batch_size=batch_size, lr=lr, seed=seed, seeds=seeds)

# %%
import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

from course_lib import reading as read
from course_lib.experiments.measure import count_flops, count_params
from course_lib.models import (
    ALEXNET_CONVS,
    alexnet_feature_sizes,
    alexnet_field_span,
    alexnet_receptive_fields,
    build_model,
)
from course_lib.plots import plot_confusion, show_as_jpeg

# %% [markdown]
# ## 1 · The architecture
#
# Five convolutions (48-128-192-192-128 channels; kernels 11 with stride 4, then 5, 3, 3, 3), three
# 3×3 max-pools with stride 2, and a classifier of two 2048-wide fully connected layers with
# dropout 0.5. Half the width of Krizhevsky's original (which was split over two GPUs), as in
# sources 000 and 001. `attention=` would insert a module after every convolution, before its ReLU; here it is
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
# Source 000 hard-codes that 4608; `course_lib` derives it from `image_size`, so the same class
# runs at 128 px (source 001, and the `quick` profile) and at 64 px (CI's `smoke` profile). Below, the formula for three input sizes,
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
corner_rows = alexnet_field_span(P.image_size, "conv5", 0)
centre_rows = alexnet_field_span(P.image_size, "conv5", conv5_side // 2)
display(Markdown(
    f"At {P.image_size} px, conv3-5 work on {conv5_side}×{conv5_side} maps and pool5 hands the "
    f"classifier {pool5_side}×{pool5_side} positions of 128 channels "
    f"({128 * pool5_side ** 2:,} numbers). A conv5 position's receptive field is {conv5_field} px "
    f"wide, but it is centred on the position, so how much of the image it covers depends on "
    f"where the position lies: the corner position sees rows and columns "
    f"{corner_rows[0]}-{corner_rows[1]} of the {P.image_size} (the rest of its field is padding), "
    f"the centre position rows {centre_rows[0]}-{centre_rows[1]} (`alexnet_field_span`). "
    f"This is the map that attention modules placed after conv3-5 gate, and the map GradCAM "
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
# augmentation), at this profile's size; in the `quick` profile the first 6 epochs of the source
# notebooks' 50-epoch schedule, over 8 seeds (chapter 02 says why). `chapter.train_variant`
# trains one run per seed, or loads it when a run with the same settings has finished before
# (`runs/alexnet-none-<hash>/`), and resumes an interrupted one from its last finished epoch.
#
# In **learner mode** (the default on a CPU) it trains only seed 42 — yours — and takes the
# other seeds from the course's committed runs; it prints a line starting with "Your run" that
# says whether your run is bit-identical to the course's seed-42 run, inside the range of its
# eight seeds, or outside it, and what differs (CPU kind, threads, torch, precision: oneDNN picks
# other kernels on another CPU, so the numbers move). `chapter.report` writes your row beside
# the run cache (`runs/your-results/`). With `all_seeds=True` (the default on a GPU) every seed
# is trained, and `chapter.report` writes each row to `results/<profile>/`, named by its whole
# configuration (size, epochs, training images, settings hash), where the readings below and
# the leaderboard chapter read it.

# %%
data = chapter.load_course_data(P)
print(data)
runs = chapter.train_variant(data, P, attention=None)
for run in runs:
    print(chapter.report(run, "01_alexnet_baseline"))
baseline = runs[0]
flops = {"AlexNet": count_flops(baseline.model, P.image_size)}
print(chapter.compare_runs({"AlexNet": baseline}, flops))

# %%
chapter.curves_section({"AlexNet": runs}, title=f"AlexNet, {P.image_size} px, {len(runs)} seed(s)")

# %% [markdown]
# In learner mode the first figure draws your run (red) over the band of the course's eight
# seeds and its test accuracy among theirs. The three panels after it: the training loss every
# few steps (noisy: each point is a few batches of augmented images), the validation loss per
# epoch, and accuracy per epoch on the training batches (dashed) and on the 5,000 held-out
# validation images (solid) — of your run, or with all seeds the mean over the seeds with their
# spread as a band. With label smoothing 0.1 the loss cannot fall below about
# 0.50 (chapter 00), so the curves are far from 0 even for a good model.
#
# The readings in this chapter are written for the committed `quick` runs, whichever profile
# this notebook ran in: their numbers are read from `results/quick/`, and a hidden cell after
# each checks its words against them.

# %% tags=["reading"]
from IPython.display import Markdown, display

from course_lib.experiments.reference import committed

ref = committed("quick", {"AlexNet": "alexnet-none"})
val, train = ref.curve("AlexNet"), ref.curve("AlexNet", "train")
last_gain = val[-1] - val[-2]
display(Markdown(
    f"**Reading** — {ref.provenance()}. AlexNet's mean validation accuracy rises from "
    f"{val[0] * 100:.1f} % after the first epoch to {val[-1] * 100:.1f} % after the "
    f"{len(val)}th, and the last epoch still added {last_gain * 100:.1f} points: the learning "
    f"rate is still near its peak (the schedule would run for {ref.profile.schedule_epochs} "
    f"epochs), so this is an early snapshot of a network that is far from finished, not its "
    f"end point. Accuracy on the training batches stays *below* validation accuracy in every "
    f"epoch ({train[-1] * 100:.1f} % against {val[-1] * 100:.1f} % in the last): the training "
    f"images are randomly cropped and flipped and pass through dropout, and each epoch's "
    f"training accuracy is averaged over weights that were still changing; the validation "
    f"images get none of that. The network has not begun to overfit."
))

# %% tags=["remove-cell", "reading-check"]
from course_lib import claims

with claims.guard("chapter 01: AlexNet's learning curves") as claim:
    claim.rising(val, "the last epoch still added accuracy", min_gain=0.005)
    claim.that(all(a < b for a, b in zip(val, val[1:])), "validation accuracy rises every epoch")
    claim.that(all(t < v for t, v in zip(train, val)), "training accuracy below validation in every epoch")

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

# %% tags=["reading"]
accs = sorted(ref.accuracy("AlexNet").values())
spread = ref.summary("AlexNet")
display(Markdown(
    f"**Reading** (the committed `quick` runs). Over {spread.n} seeds AlexNet's test accuracy "
    f"ranges from {accs[0] * 100:.2f} % to {accs[-1] * 100:.2f} %: {(accs[-1] - accs[0]) * 100:.1f} "
    f"points between the luckiest and the unluckiest seed, with nothing changed but the seed. "
    f"The mean is {spread.mean * 100:.2f} % (95 % interval ±{spread.ci95 * 100:.2f} points, sd "
    f"{spread.std * 100:.2f}). One run of a network against one run of another therefore says "
    f"little about a difference of a point or two; chapters 02-04 train every network over the "
    f"same {spread.n} seeds and compare the pairs, seed by seed."
))

# %% tags=["remove-cell", "reading-check"]
with claims.guard("chapter 01: the spread over seeds") as claim:
    claim.that(spread.n >= 8, "eight or more seeds", f"{spread.n} seeds")
    claim.that(accs[-1] - accs[0] > 0.01, "seeds differ by more than a point", f"{accs[-1] - accs[0]:.4f}")

# %% [markdown]
# **Why "best of 50 epochs on the test set" is optimistic.** Sources 000 and 001 evaluate on the
# test split after every epoch and report the highest of the 50 values. Each value is the true
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

# %% tags=["reading"]
rows = ref.rows["AlexNet"].values()
last_is_best = sum(r["best_epoch"] == r["epochs"] for r in rows)
gain = sum(r["best_val_accuracy"] - r["final_val_accuracy"] for r in rows) / len(rows)
display(Markdown(
    f"**Reading** (the committed `quick` runs). The best validation epoch is the last one in "
    f"{last_is_best} of {len(rows)} runs, and picking the best instead of the last gains "
    f"{gain * 100:.2f} points on average: a network that still improves every epoch has no "
    f"noisy plateau for the maximum to pick from. In a 50-epoch run it has one; the GPU runs of "
    f"docs/gpu.md (\"The paper profile on a GPU\") show best-of-epochs above the final value."
))

# %% tags=["remove-cell", "reading-check"]
with claims.guard("chapter 01: best against last epoch") as claim:
    claim.that(last_is_best >= len(rows) - 1, "the last epoch is the best in (almost) every run",
               f"{last_is_best} of {len(rows)}")
    claim.that(gain < 0.005, "picking the best gains less than half a point", f"{gain:.4f}")

# %% [markdown]
# ## 3 · What the network gets right and wrong
#
# The source notebooks' strip of 18 test images, predicted label over true label (red when wrong), then the
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
    + f". If the network looked at the objects and they sat near the middle of the frame, more "
    f"peaks would land in the central quarter than the "
    f"{read.central_peak_chance(conv5_side, P.image_size) * 100:.0f} % that random peaks would "
    f"(an expectation, not a measurement: the course has no object boxes for CIFAR-10); a peak "
    f"elsewhere may fall on the background or on a part of the object, and these maps do not say "
    f"which. On eight images only a large excess or deficit would be more than noise; chapter 08 "
    f"counts 80 maps (five networks, two methods, eight images) against the same chance level. "
    f"On a {conv5_side}×{conv5_side} grid a map has only {conv5_side ** 2} cells, so its blobs "
    f"are coarse; GradCAM and GradCAM++ differ in how they weigh the channels, not in "
    f"resolution."
))

# %% [markdown]
# ## 5 · The source's regime: 50 epochs on a GPU
#
# Source 000 reported 82.42 % for this network at 224 px and source 001 84.29 % at 128 px, each
# the best of 50 epochs on the test set of the official CIFAR-10 files, from one run. A `quick`
# run (6 of 50 epochs on 16,000 images of the JPEG copy) cannot be compared with those numbers;
# the `paper` profile on a GPU can. The rows it has produced so far (`results/paper/`, final
# epoch, the JPEG copy, all 50,000 training images, no validation hold-out in those runs):

# %% tags=["reading"]
from course_lib.experiments.results import read_results
from course_lib.runtime.paths import repo_root

paper = [r for r in read_results(repo_root() / "results" / "paper") if r.get("name") == "alexnet-none"]
for r in sorted(paper, key=lambda r: (r["image_size"], r["seed"])):
    print(f"{r['image_size']} px, lr {r['lr']:g}, seed {r['seed']}: {r['accuracy'] * 100:.2f} % after "
          f"epoch {r['epochs']}, best epoch on test {r['best_accuracy'] * 100:.2f} % "
          f"({r['device']}, {r['date']})")

# %% tags=["reading"]
from course_lib.experiments.results import source_reported

at = {size: [r for r in paper if r["image_size"] == size] for size in (224, 128)}
reported = {size: source_reported("alexnet-none", size)[0]["accuracy"] for size in at}
gap = {size: [reported[size] - r["accuracy"] for r in rows] for size, rows in at.items()}


def span(values: list[float]) -> str:  # "3.8-4.5", or "2.3" for one value
    low, high = f"{min(values) * 100:.1f}", f"{max(values) * 100:.1f}"
    return low if low == high else f"{low}-{high}"


spread224 = max(r["accuracy"] for r in at[224]) - min(r["accuracy"] for r in at[224])
display(Markdown(
    f"**Reading** (`results/paper/`). At 224 px the {len(at[224])} runs end "
    f"{spread224 * 100:.1f} points apart and {span(gap[224])} points under source 000's {reported[224] * 100:.2f} %, which is the best of 50 epochs on "
    f"the official files; ours are the last epoch on the JPEG copy, whose lost detail no "
    f"upscaling brings back. At 128 px {len(at[128])} run(s) end {span(gap[128])} points under "
    f"source 001's "
    f"{reported[128] * 100:.2f} %. Runs this few give a spread, not an "
    f"interval; the GPU job (`scripts/gpu/`) adds seeds when a GPU is lent, and the list above "
    f"grows with it."
))

# %% tags=["remove-cell", "reading-check"]
with claims.guard("chapter 01: the GPU runs against the source notebooks") as claim:
    claim.that(all(g > 0 for g in gap[224] + gap[128]), "every GPU run ends under the source's number")
    claim.that(len(at[224]) >= 2 and len(at[128]) >= 1, "at least two runs at 224 px, one at 128")

# %% [markdown]
# ## Summary
#
# - AlexNet's convolutions hold under a million of its parameters; its FLOPs sit in the
#   convolutions and scale with the image area. At the profile's size the attention modules of
#   the next chapters act on the maps printed in section 1.
# - The numbers this chapter produced (learning curves, the seed spread, the confusion matrix)
#   are printed and read above; the spread over seeds is the yardstick for chapters 02-04.
# - Model selection uses a validation split; tables report the final epoch's test accuracy.
#   The source notebooks' "best of 50 epochs on the test set" is an optimistic number.
#
# ## Exercises
#
# 1. Replace the 11×11 stride-4 first convolution by a 3×3 stride-1 one (a common CIFAR choice).
#    Recompute the output sizes by the formula: what happens to `fc1`'s parameter count?
# 2. Train with `epochs=10` (papermill: `-p epochs 10`): the first 10 epochs of the same
#    50-epoch schedule. The run gets a new folder and a new results file (the configuration
#    differs), so the committed rows stay as they are. Which curves keep improving, and does
#    training accuracy overtake validation accuracy?
# 3. Which two classes does the confusion matrix confuse most? Look at a few of those test images:
#    would you confuse them at 32 × 32 pixels?
# 4. Count the FLOPs of each layer separately (`FlopCounterMode(display=True)`): which layer costs
#    the most, and is it the one with the most parameters?
