# %% [markdown]
# # 07 · Self-attention in VGG16
#
# *Zhang, Goodfellow, Metaxas, Odena — "Self-Attention Generative Adversarial Networks", ICML
# 2019 (arXiv 1805.08318).*
#
# Every module so far gates features with statistics pooled over some axes. Self-attention goes
# further: each position of the feature map builds its output as a weighted sum over **all**
# positions, with weights computed from the features themselves. SAGAN added this block to
# convolutional GANs; seed 004 puts it into VGG16 for image classification on a user's own
# folder of images. This chapter derives the block, draws where one pixel attends, trains VGG16
# with and without it, and shows the own-folder workflow.

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
# seed 004: 224 px, Adam 1e-4. At 224 px the attention after conv1_1 is a 50176 x 50176 matrix per
# image (10 GB in float32), so even the paper profile trains at 64 px; on a CPU, 32 px and a subset.
REDUCED = {"paper": (64, 20, 64, None, None), "quick": (32, 2, 32, 1000, 500), "smoke": (32, 1, 16, 32, 20)}
vgg_image_size, vgg_epochs, vgg_batch_size, vgg_train_subset, vgg_test_subset = REDUCED[P.name]
vgg_lr = 1e-4
# "compact": global average pool + 512-512 MLP (15.2M parameters); "imagenet": torchvision's head
# (134.3M, of which 119.6M read 49 copies of the same 512 numbers at 32 px). See section 2.
vgg_classifier = "compact"
folder_images_per_class = 60 if P.name != "smoke" else 12

# %%
import inspect
import shutil

import matplotlib.pyplot as plt
import torch
from PIL import Image

from course_lib.attention import SelfAttention
from course_lib.chapter import compare_runs, fixed_test_images, load_course_data, prediction_strip, report
from course_lib.data import EvalTransform, load_image_folder
from course_lib.device import device_name
from course_lib.measure import count_flops, count_params
from course_lib.models import build_model
from course_lib.paths import data_dir
from course_lib.plots import plot_history
from course_lib.train import TrainConfig, train_or_load

P = get_profile(profile, image_size=image_size, epochs=epochs, batch_size=batch_size, lr=lr,
                seed=seed, seeds=tuple(seeds))
plt.rcParams.update({"figure.dpi": 72})
print(f"profile {P.name} | device {device_name()} | {P}")

# %% [markdown]
# ## 1 · Query, key, value, and γ
#
# Flatten a feature map $x \in \mathbb R^{C\times N}$ ($N = H W$ positions). Three $1\times1$
# convolutions give queries $f(x) = W_f x$ and keys $g(x) = W_g x$ of width $C/8$, and values
# $h(x) = W_h x$ of width $C$. Position $i$ attends to position $j$ with weight
# $$ \beta_{i,j} = \frac{\exp(s_{ij})}{\sum_{j'=1}^{N} \exp(s_{ij'})}, \qquad s_{ij} = f(x_i)^\top g(x_j), $$
# a softmax over the key positions, so every row of the $N\times N$ map $\beta$ sums to 1. The
# output at $i$ is $o_i = \sum_j \beta_{i,j}\, h(x_j)$, and the block returns
# $$ y_i = \gamma\, o_i + x_i , $$
# with a learned scalar $\gamma$ **initialised to 0**: at the start the block is the identity,
# and the network learns how much non-local evidence to mix in. (SAGAN's paper writes the softmax
# over the other index with $f$ and $g$ swapped — the same thing.)

# %%
print(inspect.getsource(SelfAttention.attention_map))
print(inspect.getsource(SelfAttention.forward))

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
sa = SelfAttention(64).eval()  # in eval mode the map is kept for plots
x = torch.randn(2, 64, 8, 8)
y = sa(x)
print("input", tuple(x.shape), "-> output", tuple(y.shape), "| attention map", tuple(sa.last_attention.shape))
print("identity at initialisation (gamma = 0):", torch.equal(y, x))
print("every row of beta sums to 1:", torch.allclose(sa.last_attention.sum(-1), torch.ones(2, 64)))
print(f"parameters: {count_params(sa):,d} = 2 x (64*8 + 8) + (64*64 + 64) + 1")

# %% [markdown]
# The cost is the catch: $\beta$ has $N^2$ entries. After VGG16's first convolution at 224 px,
# $N = 50{,}176$ and $\beta$ holds 2.5 billion numbers per image. That is why this chapter trains
# at 64 px (paper profile) or 32 px (CPU).
#
# ## 2 · VGG16 with attention after the layers you pick
#
# `build_model("vgg16", attention=..., attention_after=[...])` inserts any registered attention
# module after the given indices of torchvision's `vgg16().features`. Seed 004's first variant
# puts self-attention after the first convolution (and its ReLU) of blocks 1 and 2 —
# `vgg16_attention`, indices 1 and 6; its second hooks modules into chosen layers of the feature
# extractor, which is the same call with other indices. ImageNet weights are used only when the
# file is already on disk (`pretrained=True`); nothing is downloaded.
#
# **The classifier head.** torchvision's VGG16 ends with an adaptive 7×7 average pool and a
# 25,088-4,096-4,096 MLP, sized for 224 px inputs, where the last feature map is 7×7. At 32 px it
# is 1×1: the pool copies one 512-vector 49 times, and 119.6M parameters (89 % of the network)
# learn from those copies. Checkpoints of that network are 540 MB each. This chapter therefore
# trains VGG16 with `classifier="compact"` — a global average pool and a 512-512-classes MLP with
# dropout, the usual CIFAR VGG16 — and keeps all 13 convolutions, where the attention goes.
# Set `vgg_classifier = "imagenet"` in the parameters cell to train torchvision's head instead.

# %%
# NBVAL_CHECK_OUTPUT
plain = build_model("vgg16", num_classes=1000)
attn = build_model("vgg16_attention", num_classes=1000)
print(f"VGG16: {count_params(plain):,d} parameters; with self-attention: {count_params(attn):,d} "
      f"(+{count_params(attn) - count_params(plain):,d})")
print([name for name, _ in attn.features.named_children()][:8], "...")
other = build_model("vgg16", num_classes=10, attention="se", attention_after=[10, 17, 24], image_size=32)
print("SE after conv3_1, conv4_1, conv5_1:", [n for n, _ in other.features.named_children() if n.startswith("attn")])
for head in ("imagenet", "compact"):
    m = build_model("vgg16", num_classes=10, image_size=32, classifier=head)
    print(f"10 classes, classifier={head!r}: {count_params(m):,d} parameters "
          f"({count_params(m.classifier):,d} in the classifier)")

# %% [markdown]
# ## 3 · Training on CIFAR-10
#
# VGG16 and VGG16 + self-attention with the course's recipe (Adam at seed 004's 1e-4, cosine
# schedule, label smoothing, batched augmentation), at the size printed below.

# %%
V = P.replace(image_size=vgg_image_size, epochs=vgg_epochs, batch_size=vgg_batch_size,
              train_subset=vgg_train_subset, test_subset=vgg_test_subset, lr=vgg_lr)
reduced = "" if P.name == "paper" else " (REDUCED for the CPU)"
print(f"VGG16 runs{reduced}: {V.image_size} px, {V.epochs} epochs, batch {V.batch_size}, lr {V.lr}, "
      f"train images {V.train_subset or 'all'}, test images {V.test_subset or 'all'}, seed {V.seed}")
vdata = load_course_data(V)
config = TrainConfig.from_profile(V)
head = {"classifier": vgg_classifier}
print(f"classifier head: {vgg_classifier}")
vgg_runs = {
    "VGG16": train_or_load("vgg16", vdata, config, model_kwargs=head, profile=P.name),
    "VGG16 + self-attention": train_or_load("vgg16_attention", vdata, config, name="vgg16-self_attention",
                                            model_kwargs=head, profile=P.name),
}
print(compare_runs(vgg_runs, {n: count_flops(r.model, V.image_size) for n, r in vgg_runs.items()}))

# %% [markdown]
# Read these numbers for what they are. In the CPU profiles VGG16 — 13 convolutions without
# BatchNorm, trained from scratch at seed 004's learning rate of 1e-4 — sees 1,000 images twice
# (quick) and stays at or near chance (10 %); a probe with 2,000 images for 3 epochs reached
# 14.8 %. On a CPU the chapter shows the mechanism: the block, its cost, its map and the
# own-folder workflow. Whether self-attention helps VGG16 needs the paper profile (all 50,000
# images, 20 epochs at 64 px) on a GPU, and several seeds.

# %%
fig = plot_history({n: r.history for n, r in vgg_runs.items()}, title=f"VGG16{reduced}, {V.image_size} px")
plt.show()
gammas = [m.gamma.item() for m in vgg_runs["VGG16 + self-attention"].model.modules() if isinstance(m, SelfAttention)]
print("learned gamma of the two attention blocks:", [round(g, 4) for g in gammas])

# %% [markdown]
# ## 4 · Where one pixel looks
#
# After training, the first attention block's map $\beta$ for one test image: for three query
# positions (marked), the weight each key position receives.

# %%
model = vgg_runs["VGG16 + self-attention"].model.eval()
index = int(fixed_test_images(vdata, n=8)[1])
x = EvalTransform(V.image_size, vdata.mean, vdata.std)(vdata.test_images[index:index + 1])
with torch.no_grad():
    model(x.to(next(model.parameters()).device).contiguous(memory_format=torch.channels_last))
block = next(m for m in model.modules() if isinstance(m, SelfAttention))
beta = block.last_attention[0].cpu()
side = int(beta.shape[0] ** 0.5)
queries = [(side // 2, side // 2), (side // 4, side // 4), (3 * side // 4, side // 3)]
image = EvalTransform(side, (0, 0, 0), (1, 1, 1))(vdata.test_images[index:index + 1])[0].permute(1, 2, 0)
fig, axes = plt.subplots(1, 4, figsize=(9, 2.4))
axes[0].imshow(image.clamp(0, 1), interpolation="nearest")
axes[0].set_title(vdata.classes[int(vdata.test_labels[index])], fontsize=9)
for ax, (r, c) in zip(axes[1:], queries):
    ax.imshow(image.clamp(0, 1), interpolation="nearest")
    ax.imshow(beta[r * side + c].view(side, side), cmap="jet", alpha=0.55)
    ax.plot(c, r, "w*", ms=10)
    ax.set_title(f"query ({r}, {c})", fontsize=9)
for ax in axes:
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 5 · Your own image folder (seed 004's use case)
#
# Seed 004 trains on a folder of the user's own photos, one sub-folder per class. Any tree of
# `<class>/<image>` (or `train/<class>/…` and `test/<class>/…`) loads with `load_image_folder`;
# without a split, each class is split 80/20. To show it without shipping photos, the cell below
# writes a small folder of three CIFAR-10 classes as PNG files into `data/`, then trains
# VGG16 + self-attention on it exactly as you would on yours.

# %%
folder = data_dir() / "own_folder_demo"
shutil.rmtree(folder, ignore_errors=True)
full = load_course_data(P.replace(train_subset=None, test_subset=None))
for name in ("cat", "dog", "horse"):
    (folder / name).mkdir(parents=True)
    idx = (full.test_labels == full.classes.index(name)).nonzero().flatten()[:folder_images_per_class]
    for i in idx.tolist():
        Image.fromarray(full.test_images[i].permute(1, 2, 0).numpy()).save(folder / name / f"{i}.png")
own = load_image_folder(folder, size=32, test_fraction=0.2)
print(own)

own_config = TrainConfig.from_profile(V, epochs=max(2, V.epochs), batch_size=8, eval_batch_size=50)
own_run = train_or_load("vgg16_attention", own, own_config, name="vgg16-self_attention-own-folder",
                        model_kwargs=head, profile=P.name)
print(f"accuracy on the held-out 20 %: {own_run.metrics['accuracy']:.3f} "
      f"({len(own.test_labels)} images, chance 0.333)")
fig = prediction_strip(own_run, own, torch.arange(min(9, len(own.test_labels))), columns=9)
plt.show()

# %% [markdown]
# From the command line the same is
# `python -m course_lib train --model vgg16_attention --model-arg classifier=compact --image-folder my_photos --folder-size 64 --image-size 64`.
#
# ## 6 · The naming mistake in seed 004
#
# Seed 004 calls its block `TripletAttention`. It is not: Triplet Attention (chapter 02) pools
# each axis pair with Z-pool and learns three 7×7 gates with 300 parameters; the seed's block
# computes queries, keys and values and an $N\times N$ softmax map — SAGAN's self-attention, as
# here. (Its second variant also drops γ and the residual, so the block replaces the features
# instead of refining them, and it builds all three modules for 256 channels although conv4_1
# and conv5_1 have 512.) Names matter in a course: a reader who searches for "Triplet Attention"
# should find the module of chapter 02.
#
# ## 7 · Results

# %%
for run in vgg_runs.values():
    print(report(run, "07_self_attention_vgg", reduced=P.name != "paper"))

# %% [markdown]
# ## Exercises
#
# 1. Put the self-attention block after conv5_1 instead (index 24): how large is $\beta$ there
#    at 224 px, and what does that do to the cost?
# 2. Initialise γ to 1 instead of 0 and train again. What happens in the first epoch?
# 3. Replace `self_attention` by `triplet` in `attention_after=[1, 6]`. Compare parameters and
#    FLOPs.
# 4. Train on a folder of your own photos with `load_image_folder(path, size=64)`.
# 5. Set `vgg_classifier = "imagenet"` and train again. Does the 9× larger head change the
#    accuracy at 32 px by more than the spread between seeds? What does it do to the time per
#    epoch and to the size of the checkpoints in `runs/`?
