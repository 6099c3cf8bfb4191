# %% [markdown]
# # 07 · Self-attention: SAGAN's block in a CIFAR ResNet
#
# *Zhang, Goodfellow, Metaxas, Odena — "Self-Attention Generative Adversarial Networks", ICML
# 2019 (arXiv 1805.08318).*
#
# Every module so far gates features with statistics pooled over some axes. Self-attention goes
# further: each position of the feature map builds its output as a weighted sum over **all**
# positions, with weights computed from the features themselves. SAGAN added this block to
# convolutional GANs; source 004 (PyTorch, VGG16 with self-attention) puts it into VGG16 for image
# classification on a user's own folder of images. This chapter derives the block and builds
# source 004's VGG16 with it, but trains it in a network whose recipe is known to learn within a
# CPU budget, chapter 05's CIFAR ResNet (section 2 says why not VGG16). It compares the ResNet
# with and without the block, follows the learned γ through training, compares the attention
# maps of the untrained and the trained block and measures how much they depend on the query
# position, asks whether the trained network uses its maps at all, and shows source 004's
# own-folder workflow.

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
seed = P.seed  # the run whose curves and maps are shown
seeds = list(P.seeds)
# False (the default on a CPU): learner mode, only `seed` is trained here and checked against the
# course's committed runs of every seed, which give the statistics; True (the default on a GPU):
# every seed is trained and the statistics are this session's
all_seeds = default_all_seeds()
# image size, epochs, data and recipe: course_lib.profiles.EXPERIMENTS["cifar32"][profile]
folder_images_per_class = 12 if P.name == "smoke" else 300
folder_epochs = 1 if P.name == "smoke" else 6

# %%
from course_lib import chapter

P = chapter.start(profile, all_seeds=all_seeds, seed=seed, seeds=seeds)

# %%
import dataclasses
import inspect
import os
import shutil

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from PIL import Image

from course_lib import claims
from course_lib import reading as read
from course_lib.attention import SelfAttention
from course_lib.data import EvalTransform, load_image_folder
from course_lib.experiments.measure import count_flops, count_params
from course_lib.models import build_model
from course_lib.models.vgg import VGG16_BN_ATTENTION_AFTER, fetch_vgg16_imagenet
from course_lib.runtime.paths import data_dir
from course_lib.profiles import experiment_settings, get_profile
from course_lib.train import TrainConfig, train_or_load
from course_lib.variants import RESNET, RESNET_SELF_ATTENTION, VGG16_BN, train_chapter

# %% [markdown]
# ## 1 · Query, key, value, and γ
#
# Flatten a feature map $x \in \mathbb R^{C\times N}$ ($N = H W$ positions). Two $1\times1$
# convolutions give queries $f(x) = W_f x$ and keys $g(x) = W_g x$ of width $\bar C = C/8$.
# Position $i$ attends to position $j$ with weight
# $$ \beta_{i,j} = \frac{\exp(s_{ij})}{\sum_{j'=1}^{N} \exp(s_{ij'})}, \qquad s_{ij} = f(x_i)^\top g(x_j), $$
# a softmax over the key positions, so every row of the $N\times N$ map $\beta$ sums to 1, and a
# map that attends to nothing in particular is uniform, $\beta_{i,j} = 1/N$. The output at $i$
# is $o_i = W_v \sum_j \beta_{i,j}\, h(x_j)$, and the block returns
# $$ y_i = \gamma\, o_i + x_i , $$
# with a learned scalar $\gamma$ **initialised to 0**: at the start the block is the identity,
# and the network learns how much non-local evidence to mix in. (SAGAN's paper writes the softmax
# over the other index with $f$ and $g$ swapped — the same thing.)
#
# **The value path.** In the paper, $h$ is a $1\times1$ convolution $C \to \bar C$ and $W_v$ a
# second one $\bar C \to C$: the values pass through a bottleneck of width $C/8$, so $W_v W_h$ has
# rank at most $C/8$ and costs $2C\bar C = C^2/4$ weights. `course_lib`, like source 004 and most
# PyTorch ports, merges them into **one** $1\times1$ convolution $C \to C$ (`self.value`): since
# $\sum_j \beta_{ij} W_v W_h x_j = (W_v W_h) \sum_j \beta_{ij} x_j$, one matrix can represent the
# paper's product exactly, but it has four times the weights and no rank limit — a slightly more
# expressive block than the paper's, not the same one.

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
print(f"the paper's value path (h: 64->8, W_v: 8->64, biases) would have {2 * 64 * 8 + 8 + 64:,d} "
      f"instead of {64 * 64 + 64:,d}")

# %% [markdown]
# The cost is the catch: $\beta$ has $N^2$ entries. After VGG16's first convolution at 224 px,
# $N = 50{,}176$ and $\beta$ holds 2.5 billion numbers per image. Source 004 puts the block there;
# this chapter places it where the maps are small.
#
# ## 2 · VGG16 with attention after the layers you pick
#
# `build_model("vgg16", attention=..., attention_after=[...])` inserts any registered attention
# module after the given indices of torchvision's `features`. Source 004's first variant puts
# self-attention after the first convolution (and its ReLU) of blocks 1 and 2 —
# `vgg16_attention`, indices 1 and 6 of `vgg16().features`; its second hooks modules into chosen
# layers, which is the same call with other indices.
#
# **Where this chapter trains it.** In VGG16 at 32 px the block would go after conv2_2 and conv3_3
# (indices 12 and 22 of `vgg16_bn().features`: 16×16 and 8×8 maps), in VGG16-BN (`batch_norm=True`,
# a BatchNorm after each of the 13 convolutions) with `classifier="compact"` (a global average
# pool and a 512-512-classes MLP instead of torchvision's 25,088-4,096-4,096 head, which at 32 px
# reads 49 copies of one 512-vector). The `quick` profile does not train that pair; it puts the
# block into **chapter 05's CIFAR ResNet** at the same two resolutions, after stage 1 (16×16, 128
# channels) and stage 2 (8×8, 256 channels):
# `build_model("cifar_resnet", attention="self_attention", attention_after=(1, 2))`. The reading
# below gives the measured reason, from the course's earlier 32 px recipe (now archived), which
# trained VGG16-BN beside every other 32 px network; the `gpu` and `paper` profiles train the
# VGG16-BN pair, exploratory until committed runs back them.

# %%
# NBVAL_CHECK_OUTPUT
plain = build_model("vgg16", num_classes=1000)
attn = build_model("vgg16_attention", num_classes=1000)
print(f"source 004's VGG16: {count_params(plain):,d} parameters; with self-attention after conv1_1 and "
      f"conv2_1: {count_params(attn):,d} (+{count_params(attn) - count_params(plain):,d})")
bn_features = build_model("vgg16", num_classes=10, image_size=32, **VGG16_BN).features
print("vgg16_bn features at the insertion points:",
      {i: type(bn_features[i]).__name__ for i in VGG16_BN_ATTENTION_AFTER})
networks = {
    "ResNet": ("cifar_resnet", None, RESNET),
    "ResNet + self-attention": ("cifar_resnet", "self_attention", RESNET_SELF_ATTENTION),
    "VGG16-BN": ("vgg16", None, VGG16_BN),
    "VGG16-BN + self-attention": ("vgg16", "self_attention",
                                  {**VGG16_BN, "attention_after": VGG16_BN_ATTENTION_AFTER}),
}
for label, (name, att, kwargs) in networks.items():
    net = build_model(name, num_classes=10, image_size=32, attention=att, **kwargs)
    print(f"{label:26s} 10 classes, 32 px: {count_params(net):>11,d} parameters, "
          f"{count_flops(net, 32) / 1e6:6.1f} MFLOPs")
torch.manual_seed(42)
resnet_plain = build_model("cifar_resnet", num_classes=10, **RESNET).eval()
torch.manual_seed(42)
resnet_sa = build_model("cifar_resnet", num_classes=10, attention="self_attention", **RESNET_SELF_ATTENTION).eval()
torch.manual_seed(0)
two_images = torch.randn(2, 3, 32, 32)
with torch.no_grad():
    start_gap = float((resnet_plain(two_images) - resnet_sa(two_images)).abs().max())
print("the ResNet's blocks:", {f"stages.{i}.attention": f"{stage.attention.query.in_channels} channels"
                               for i, stage in enumerate(resnet_sa.stages) if hasattr(stage, "attention")})
print(f"seed 42, initial weights: the two ResNets compute the same function: {start_gap == 0} "
      f"(largest difference of their outputs on two random inputs: {start_gap:.2f})")

# %% tags=["reading"]
from IPython.display import Markdown, display

from course_lib import claims
from course_lib.experiments.results import read_archive
from course_lib.profiles import experiment_settings, get_profile

# the course's earlier 32 px recipe (3 epochs of 10,000 images), which trained VGG16-BN beside
# every other 32 px network on one CPU: superseded, quoted here for the choice of network only
EARLIER = "quick-32px-3ep-10000img-2026-12-02"
earlier = {}
for row in read_archive(EARLIER):
    earlier.setdefault(row["name"], []).append(row)
vgg_speed = [r["train_images_per_s"] for r in earlier["vgg16_bn"]]
psa_speed = [r["train_images_per_s"] for r in earlier["cifar_resnet-psa"]]
vgg_acc = [r["accuracy"] for r in earlier["vgg16_bn"]]
vgg_sa_acc = [r["accuracy"] for r in earlier["vgg16_bn-self_attention"]]
others = {n: [r["accuracy"] for r in rows] for n, rows in earlier.items() if not n.startswith("vgg16")}
lowest_other = min(min(v) for v in others.values())
first_row = earlier["vgg16_bn"][0]
today = experiment_settings(get_profile("quick"), "cifar32")  # the recipe the chapter trains


def pct_span(values):
    return f"{min(values) * 100:.1f}-{max(values) * 100:.1f} %"


display(Markdown(
    f"**Reading** — why not VGG16 (archived rows, `results/archive/{EARLIER}/`: 32 px, "
    f"{first_row['epochs']} epochs of {first_row['train_images']:,} training images, seeds "
    f"{', '.join(str(r['seed']) for r in earlier['vgg16_bn'])}, {first_row['device']}, "
    f"{first_row['precision']}; a superseded recipe, quoted for this choice only). Two things, "
    f"measured on one CPU. VGG16-BN is the slowest network the course tried at 32 px: "
    f"{min(vgg_speed):.0f}-{max(vgg_speed):.0f} training images/s, against "
    f"{min(psa_speed):.0f}-{max(psa_speed):.0f} for chapter 05's ResNet-PSA, the slowest of the "
    f"others. Speed alone would not rule it out, though: ResNet-PSA is trained here. What does is "
    f"that VGG16-BN had learned least: {pct_span(vgg_acc)} on the test set "
    f"({pct_span(vgg_sa_acc)} with the block), while every other network of that recipe "
    f"({len(others)} of them) reached at least {lowest_other * 100:.1f} %. A comparison of two "
    f"networks that have barely started would say little about the block. Whether VGG16-BN learns "
    f"with today's recipe ({today.train_subset / first_row['train_images']:.1f} times the images) "
    f"nobody has tried; at its speed the three seed pairs would cost about "
    f"{6 * today.epochs * today.train_subset / (sum(vgg_speed) / len(vgg_speed)) / 3600:.1f} hours "
    f"on that CPU. So this chapter's choice of network is one of budget, and what it finds is about "
    f"self-attention in a small ResNet, not about VGG16."
))

# %% tags=["remove-cell", "reading-check"]
with claims.guard("chapter 07: why not VGG16") as claim:
    claim.that(max(vgg_speed) < 0.75 * min(psa_speed), "VGG16-BN slower than ResNet-PSA, the slowest other",
               f"{vgg_speed} vs {psa_speed}")
    claim.that(max(vgg_acc + vgg_sa_acc) < lowest_other, "VGG16-BN learned least of that recipe's networks",
               f"{max(vgg_acc + vgg_sa_acc):.4f} vs {lowest_other:.4f}")

# %% [markdown]
# ## 3 · Training: with and without self-attention
#
# Both networks with the recipe of the 32 px chapters (chosen by a pilot, docs/lab_notebook.md: Adam at 3e-3, a cosine schedule, label smoothing 0.1, no augmentation, all 45,000
# training images), the same data and seeds; the setting is printed with the results. γ starts
# at 0, so at the first step the block is the identity. The two networks of one seed still do not
# start as the same function: building the block draws random numbers, so the layers after it
# start from other weights (section 2's last line). A difference at the end is therefore the
# block's and its training's together with a different start, which is one reason to compare
# over seeds, not one pair.

# %%
cifar = experiment_settings(P, "cifar32")
runs = train_chapter("07", P)
resnets = {n: runs[n] for n in ("ResNet", "ResNet + self-attention")}
main = {n: r[0] for n, r in resnets.items()}
comparison = chapter.comparison_section(resnets, "ResNet", cifar, "ResNet with and without self-attention")
vggs = {n: r for n, r in runs.items() if n.startswith("VGG16")}
if vggs:
    vgg_comparison = chapter.comparison_section(vggs, "VGG16-BN", experiment_settings(P, "cifar32_large"),
                                                "VGG16-BN with and without self-attention")
else:
    print(f"The VGG16-BN pair is not trained in the {P.name} profile (beyond a CPU budget: "
          "course_lib.profiles.EXPERIMENTS['cifar32_large']); the gpu and paper profiles train it.")
for found in runs.values():  # every run's results row, read by the paragraphs below
    for run in found:
        print(chapter.report(run, "07_self_attention"))

# %% tags=["reading"]
from IPython.display import Markdown, display

from course_lib import claims
from course_lib.experiments.reference import committed
from course_lib.experiments.stats import test_resolution
from course_lib.profiles import experiment_settings, get_profile

NETWORKS = {"ResNet": "cifar_resnet-none", "ResNet + self-attention": "cifar_resnet-self_attention"}
ref = committed(experiment_settings(get_profile("quick"), "cifar32"), NETWORKS)
# the course's one family (results/hypotheses.toml) judges this comparison on seeds 50-57; on
# these seeds (42-44, the exploratory pilot) it is an interval, never a verdict
d = ref.differences([("ResNet + self-attention", "ResNet")], family=True)["ResNet + self-attention − ResNet"]
acc = {name: ref.summary(name) for name in NETWORKS}
E = ref.profile.epochs
ahead = ref.ahead("ResNet + self-attention", "ResNet")
time_ratio = ref.median_train_time("ResNet + self-attention") / ref.median_train_time("ResNet")
flops_ratio = (next(iter(ref.rows["ResNet + self-attention"].values()))["flops"]
               / next(iter(ref.rows["ResNet"].values()))["flops"])
n_test = next(iter(ref.rows["ResNet"].values()))["test_images"]
resolution = test_resolution(acc["ResNet"].mean, n_test)  # one model's accuracy, 95 % half-width
display(Markdown(
    f"**Reading** — {ref.provenance()}. Both networks learn in this budget: after {E} epochs the "
    f"ResNet reaches {acc['ResNet'].mean * 100:.2f} % on the test set and the ResNet with "
    f"self-attention {acc['ResNet + self-attention'].mean * 100:.2f} % (means over "
    f"{acc['ResNet'].n} seeds), above the 60 % the course asks of a 32 px network. The runs of one "
    f"network hardly vary from seed to seed (sd {acc['ResNet'].std * 100:.2f} and "
    f"{acc['ResNet + self-attention'].std * 100:.2f} points). On these seeds the ResNet with the "
    f"block is lower: {d.diff * 100:+.2f} points ({d.low * 100:+.2f} to {d.high * 100:+.2f}), "
    f"ahead in {ahead} of {d.n_pairs} pairs. That is **{d.verdict()}**: seeds 42-44 are the "
    f"pilot on which the 32 px recipe was chosen, and the course's family (results/hypotheses.toml) "
    f"decides this comparison on seeds 50-57, which have not been trained at 32 px yet. Two "
    f"limits of three pairs: their spread is so small that the design claims to detect "
    f"{d.detectable * 100:.1f} points at α = 0.05 (from 2 degrees of freedom; "
    f"{d.detectable_strictest * 100:.1f} at the family's "
    f"strictest level α/k), which is below the test set's own resolution: one model's "
    f"accuracy on {n_test:,} test images is uncertain by ±{resolution * 100:.1f} points (95 %). "
    f"Seeds that agree this closely say the runs are stable, not that every such ResNet, on "
    f"other images, would differ by exactly this much. The block also costs time: "
    f"{flops_ratio:.1f}× the multiply-adds of the ResNet (the 1×1 value convolution on 128 and "
    f"256 channels, and the N×N maps), and the median run took {time_ratio:.1f}× as long to "
    "train. So on these seeds and in this budget, self-attention did not help a small CNN learn "
    "CIFAR-10. Sections 4 "
    "and 5 look at what the block learned instead — whether it is switched on at all, where its "
    "maps look, and whether the trained network uses them."
))

# %% tags=["remove-cell", "reading-check"]
with claims.guard("chapter 07: the ResNet with and without self-attention") as claim:
    claim.that(min(s.mean for s in acc.values()) > 0.6, "both networks above 60 %")
    claim.that(max(s.std for s in acc.values()) < 0.005, "runs hardly vary (sd below half a point)")
    claim.detectable_below(d, 0.01, "three pairs 'detect' differences below a point")
    claim.that(d.detectable < resolution, "... below the test set's resolution",
               f"{d.detectable:.4f} vs {resolution:.4f}")
    claim.that(d.high < 0, "lower with the block (interval below 0)", f"{d.high:+.4f}")
    claim.that(d.verdict() == "exploratory", "exploratory seeds: no verdict", d.verdict())
    claim.that(ahead == 0, "behind in every pair", f"ahead in {ahead}")
    claim.larger(time_ratio, 1.5, "a run takes clearly longer with the block")
    claim.larger(flops_ratio, 1.5, "the block adds much of the network's multiply-adds")

# %% [markdown]
# ## 4 · Does the network use the block? γ over training
#
# γ starts at 0; training moves it as far as mixing in non-local evidence lowers the loss. `fit`
# records every one-number parameter after each epoch (`history.scalars`). A γ that moves tells
# only half of it: what counts is how large γ·o is next to the features x it is added to.
# `attention_share` measures that ratio, $\lVert\gamma\, o\rVert / \lVert x\rVert$ (root mean
# squares over 64 test images): 0 for the untrained block, 0.1 when the attention term is a tenth
# of the features.

# %%
from course_lib.explain import attention_share, key_concentration, query_dependence, self_attention_maps

data = chapter.load_course_data(cifar)
probe_idx = chapter.fixed_test_images(data, n=64)
probe = EvalTransform(cifar.image_size, data.mean, data.std)(data.test_images[probe_idx])
sa_runs = resnets["ResNet + self-attention"]
blocks = [n for n in sa_runs[0].history.scalars if n.endswith(".gamma")]
fig, ax = plt.subplots(figsize=(6.5, 3.2), dpi=100)
for k, name in enumerate(blocks):
    for j, run in enumerate(sa_runs):
        values = [0.0] + run.history.scalars[name]
        ax.plot(range(len(values)), values, color=f"C{k}", alpha=0.8, marker="o", ms=3,
                label=f"{name.removesuffix('.gamma')}" if j == 0 else None)
ax.axhline(0, color="0.5", lw=0.8)
ax.set_xticks(range(len(sa_runs[0].history.epoch) + 1))
ax.set(xlabel="epoch (0 = initialisation)", ylabel="γ",
       title=f"γ of the two blocks, {len(sa_runs)} seeds (one line each)")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
shares = [attention_share(run.model, probe) for run in sa_runs]
print(f"{'seed':>6s}" + "".join(f"{b.removesuffix('.gamma') + ' γ':>24s}{'share':>8s}" for b in blocks))
for run, share in zip(sa_runs, shares):
    print(f"{run.metrics['seed']:6d}" + "".join(
        f"{run.history.scalars[b][-1]:+24.3f}{share[b.removesuffix('.gamma')]:8.3f}" for b in blocks))

# %% [markdown]
# ## 5 · Where one pixel looks, before and after training
#
# The first block (after stage 1: a 16×16 map, $N$ = 256 positions) for one test image: for three
# query positions (white stars), the weight $\beta_{i,j}$ each key position $j$ receives — top row
# the untrained block (the main seed's network at its initial weights), bottom row the trained
# one. Each row has its own colour bar; its black line marks the uniform level $1/N$, the weight
# every position would get if the block attended to nothing in particular. Untrained, the query
# and key projections are small and random, so the dot products are near 0 and the maps are
# close to that level (the table below measures how close); whatever structure a trained map
# has, training put there.

# %%
torch.manual_seed(cifar.seed)  # the main seed's initial weights
untrained = build_model("cifar_resnet", num_classes=10, attention="self_attention", **RESNET_SELF_ATTENTION)
trained = main["ResNet + self-attention"].model
index = int(probe_idx[1])
image = data.test_images[index].permute(1, 2, 0).numpy()
first = blocks[0].removesuffix(".gamma")
maps = {"untrained": self_attention_maps(untrained, probe[1:2])[first][0],
        "trained": self_attention_maps(trained, probe[1:2])[first][0]}
n_positions = maps["trained"].shape[0]
side = int(n_positions ** 0.5)
queries = [(side // 2, side // 2), (side // 4, side // 4), (3 * side // 4, side // 3)]
fig, axes = plt.subplots(2, 4, figsize=(10.5, 5.4), dpi=100)
for row, (state, beta) in enumerate(maps.items()):
    axes[row, 0].imshow(image, interpolation="nearest")
    axes[row, 0].set_title(f"{data.classes[int(data.test_labels[index])]} (32 px), {state}", fontsize=9)
    rows = torch.stack([beta[r * side + c] for r, c in queries])
    for ax, (r, c), weights in zip(axes[row, 1:], queries, rows):
        ax.imshow(image, extent=(-0.5, side - 0.5, side - 0.5, -0.5), interpolation="nearest")
        shown = ax.imshow(weights.view(side, side), cmap="magma", alpha=0.75, vmin=0, vmax=float(rows.max()))
        ax.plot(c, r, "w*", ms=10)
        ax.set_title(f"query ({r}, {c}): max {float(weights.max()) * n_positions:.1f}×1/N", fontsize=9)
    bar = fig.colorbar(shown, ax=axes[row, 1:].tolist(), fraction=0.03, pad=0.02)
    bar.ax.axhline(1 / n_positions, color="black", lw=1.5)
    bar.set_label("β (black line: 1/N)", fontsize=8)
for ax in axes.flat:
    ax.axis("off")
plt.show()

# %% [markdown]
# **Where does the weight go, and does it depend on the query?** If every query position attended
# to the same places, the block would compute one global context per image and add it everywhere —
# what GCNet (Cao et al., 2019) found for trained non-local blocks, and why it replaced them by a
# cheaper global context block. `query_dependence` measures it over all pairs of query positions
# of each image: the mean total-variation distance between their maps,
# $\tfrac12\lVert\beta_i - \beta_j\rVert_1$ (the share of attention weight that would have to move
# to turn one map into the other: 0 for identical maps, 1 for maps on disjoint positions), and
# GCNet's cosine distance. `key_concentration` says where the weight goes: the largest weight of
# a query's map (1/N uniform, 1 one-hot), how many distinct positions the queries of one image
# pick as their largest, the share of queries that pick the image's most popular one, and how
# often that one lies on the map's border (beside the share of border positions, what chance
# would give). Untrained and trained (main seed), then the trained block of every seed, on 64 test
# images:

# %%
dependence, concentration = {}, {}
for state, model in (("untrained", untrained), ("trained", trained)):
    found = self_attention_maps(model, probe[:16])  # pairwise distances: 16 images are enough
    for block, beta in found.items():
        dependence[(block, state)] = query_dependence(beta)
print(f"{'block':22s} {'':10s} {'TV distance':>12s} {'cosine dist.':>13s} {'peak / (1/N)':>13s}")
for (block, state), q in dependence.items():
    print(f"{block:22s} {state:10s} {q.total_variation:12.3f} {q.cosine_distance:13.3f} {q.peak_over_uniform:13.1f}")
print(f"\n{'seed':>4s} {'block':20s} {'max weight':>10s} {'keys picked':>11s} {'share on the':>12s} "
      f"{'self':>6s} {'popular key':>11s} {'border':>7s}")
print(f"{'':4s} {'':20s} {'':>10s} {'per image':>11s} {'popular key':>12s} {'weight':>6s} "
      f"{'on border':>11s} {'share':>7s}")
for run in sa_runs:
    found = self_attention_maps(run.model, probe)
    for block, beta in found.items():
        k = key_concentration(beta)
        concentration[run.metrics["seed"], block] = k
        print(f"{run.metrics['seed']:4d} {block:20s} {k.max_weight:10.3f} {k.distinct_keys:7.1f}/{beta.shape[-1]:<3d} "
              f"{k.modal_share:12.2f} {k.self_weight:6.3f} {k.modal_on_border:11.2f} {k.border_fraction:7.2f}")
for run, share in zip(sa_runs, shares):  # γ per epoch, the block's share and its maps go into the rows
    seed_ = run.metrics["seed"]
    extra = {"gamma_per_epoch": {b: run.history.scalars[b] for b in blocks}, "attention_share": share,
             "key_concentration": {block: dataclasses.asdict(k) for (s_, block), k in concentration.items()
                                   if s_ == seed_}}
    if run is sa_runs[0]:
        extra["query_dependence"] = {f"{block} {state}": dataclasses.asdict(q)
                                     for (block, state), q in dependence.items()}
    print(chapter.report(run, "07_self_attention", **extra))

# %% tags=["reading"]
# read again: the cell above has just written γ, the shares and the maps' statistics into the rows
ref = committed(experiment_settings(get_profile("quick"), "cifar32"), NETWORKS)
sa_rows = ref.rows["ResNet + self-attention"]
BLOCKS = {"stages.1.attention": "after stage 1 (16×16)", "stages.2.attention": "after stage 2 (8×8)"}
gamma = {b: [row["gamma_per_epoch"][f"{b}.gamma"][-1] for row in sa_rows.values()] for b in BLOCKS}
share = {b: [row["attention_share"][b] for row in sa_rows.values()] for b in BLOCKS}
growth = {b: [sh / abs(g) for sh, g in zip(share[b], gamma[b])] for b in BLOCKS}  # ‖o‖ / ‖x‖
conc = {b: {key: [row["key_concentration"][b][key] for row in sa_rows.values()]
            for key in next(iter(sa_rows.values()))["key_concentration"][b]} for b in BLOCKS}
dep = sa_rows[ref.profile.seed]["query_dependence"]


def span(values, digits=2, scale=1.0):
    low_, high_ = min(values) * scale, max(values) * scale
    return f"{low_:.{digits}f}" if f"{low_:.{digits}f}" == f"{high_:.{digits}f}" else f"{low_:.{digits}f}-{high_:.{digits}f}"


n_blocks = sum(len(v) for v in gamma.values())
negative = sum(g < 0 for v in gamma.values() for g in v)
first, second = BLOCKS
display(Markdown(
    f"**Reading** — {ref.provenance()}. γ moved away from 0 in every run, but not far: after "
    f"{ref.profile.epochs} epochs it ends at " + "; ".join(
        f"{', '.join(f'{g:+.3f}' for g in gamma[b])} {where}" for b, where in BLOCKS.items())
    + f" (seeds {', '.join(map(str, sa_rows))}), negative in {negative} of {n_blocks} blocks. Small "
    "as these numbers look, they do not mean that the block is off. γ multiplies the output of "
    "the value convolution, whose scale training is free to change, and only the product counts: "
    f"measured on 64 test images, the attention term γ·o is {span(share[first])} of the features "
    f"it is added to {BLOCKS[first]} and {span(share[second])} {BLOCKS[second]}, because o has grown "
    f"to {span(growth[first], 1)} and {span(growth[second], 1)} times the size of x. A term of a "
    "tenth to a quarter of the features is a block that is switched on. (The sign of γ means "
    "nothing by itself: the value convolution can flip it.)\n\n"
    "The maps changed completely. Untrained, the query and key projections give dot products near "
    f"0, so every map is close to uniform: a query's largest weight is "
    f"{dep[first + ' untrained']['peak_over_uniform']:.1f}× 1/N, and the maps of two queries differ "
    f"by a total-variation distance of {dep[first + ' untrained']['total_variation']:.3f}. Trained, "
    f"the maps are nearly one-hot: a query gives its largest key {span(conc[first]['max_weight'])} "
    f"of its weight {BLOCKS[first]} and {span(conc[second]['max_weight'])} {BLOCKS[second]}, over "
    f"the seeds. The queries of one image pick only {span(conc[first]['distinct_keys'], 0)} "
    f"different keys among 256 positions {BLOCKS[first]}, {span(conc[second]['distinct_keys'], 0)} "
    f"among 64 {BLOCKS[second]}, and {span(conc[first]['modal_share'], 0, 100)} % and "
    f"{span(conc[second]['modal_share'], 0, 100)} % of them pick the image's most popular one. So "
    f"the trained maps do depend on the query (total-variation distance "
    f"{dep[first + ' trained']['total_variation']:.2f} and {dep[second + ' trained']['total_variation']:.2f} "
    "for the main seed), unlike the trained non-local blocks GCNet measured, but coarsely: each "
    "position copies the features of one of a handful of hub positions of its image. A query "
    f"hardly looks at itself (self weight {span(conc[first]['self_weight'], 3)} and "
    f"{span(conc[second]['self_weight'], 3)}). The most popular hub lies on the map's border in "
    f"{span(conc[first]['modal_on_border'], 0, 100)} % of the images {BLOCKS[first]}, against "
    f"{conc[first]['border_fraction'][0] * 100:.0f} % for a position drawn at random (the convolutions' zero "
    "padding makes border features unlike the others, one possible reason, not tested here); "
    f"{BLOCKS[second]} the share varies from seed to seed "
    f"({span(conc[second]['modal_on_border'], 0, 100)} % against "
    f"{conc[second]['border_fraction'][0] * 100:.0f} %). Why the softmax saturates these runs do "
    "not test. One hypothesis: SAGAN's energies are unscaled dot products (no 1/√d as in a "
    "Transformer), so as the query and key projections grow under Adam at a high learning rate "
    "the softmax turns into an argmax; a run with scaled energies would test it (exercise 6). "
    "What the block learned in this budget, then, is to copy a few positions' features to every "
    "position. The network with the block is also less accurate (section 3), but whether the "
    "copying is why, no run here tests either."
))

# %% tags=["remove-cell", "reading-check"]
with claims.guard("chapter 07: γ, the block's share and its maps") as claim:
    claim.that(all(0 < abs(g) < 0.1 for v in gamma.values() for g in v), "γ moved, but not far",
               str(gamma))
    claim.that(negative == n_blocks, "γ negative in every block", f"{negative} of {n_blocks}")
    claim.that(min(min(v) for v in share.values()) >= 0.1, "γ·o is at least a tenth of x", str(share))
    claim.that(max(max(v) for v in share.values()) < 0.3, "... and at most about a quarter", str(share))
    claim.that(min(min(v) for v in growth.values()) > 2, "o grew well above x's size", str(growth))
    claim.that(all(dep[f"{b} untrained"]["peak_over_uniform"] < 2 for b in BLOCKS), "untrained maps near uniform")
    claim.that(all(dep[f"{b} untrained"]["total_variation"] < 0.05 for b in BLOCKS), "untrained: queries alike")
    claim.that(all(dep[f"{b} trained"]["total_variation"] > 0.5 for b in BLOCKS), "trained maps depend on the query")
    claim.that(min(min(conc[b]["max_weight"]) for b in BLOCKS) > 0.75, "trained maps nearly one-hot")
    claim.that(max(conc[first]["distinct_keys"]) < 30 and max(conc[second]["distinct_keys"]) < 10,
               "a handful of keys per image")
    claim.that(min(min(conc[b]["modal_share"]) for b in BLOCKS) > 0.25, "many queries share the popular key")
    claim.that(max(max(conc[b]["self_weight"]) for b in BLOCKS) < 0.05, "queries hardly look at themselves")
    claim.that(min(conc[first]["modal_on_border"]) > conc[first]["border_fraction"][0],
               "stage 1: the popular key on the border more often than chance")
    claim.that(min(conc[second]["modal_on_border"]) < conc[second]["border_fraction"][0]
               < max(conc[second]["modal_on_border"]), "stage 2: the border share varies around chance")

# %% [markdown]
# ### Your run: does the network use its maps?
#
# A block that is switched on may still be one the network could do without, or one whose maps
# could be any maps. An intervention changes one thing in the trained network and measures its
# test accuracy again (chapter 02, section 6b): `attention_off` sets γ·o to 0, so the block is the
# identity; `gate_mean` gives every image the mean map of each query position over the held-out
# images, so the maps no longer depend on the image; `gate_shuffled` gives each image the maps
# of another image of its batch. Below, on the run trained in this session (one seed): a drop
# under `attention_off` says the network relies on the block's term, a drop under `gate_mean` or
# `gate_shuffled` that it relies on *where* the maps look in this image. The course's answer over
# seeds waits for the confirmatory 32 px runs.

# %%
from course_lib.experiments.interventions import intervention_rows

your_sa = main["ResNet + self-attention"]
measured = {r["intervention"]: r["accuracy"] for r in intervention_rows(your_sa, data)}
print(f"ResNet + self-attention seed {your_sa.metrics['seed']}: as trained {measured['as_trained'] * 100:.2f} %; "
      + ", ".join(f"{k} {(v - measured['as_trained']) * 100:+.2f} points" for k, v in measured.items()
                  if k != "as_trained"))

# %% [markdown]
# ## 6 · Your own image folder (source 004's use case)
#
# Source 004 trains on a folder of the user's own photos, one sub-folder per class. Any tree of
# `<class>/<image>` (or `train/<class>/…` and `test/<class>/…`) loads with `load_image_folder`;
# without a split, each class is split 80/20. To show it without shipping photos, the cell below
# writes a folder of three CIFAR-10 classes (cat, dog, horse: three classes that CIFAR networks
# confuse most) as PNG files into `data/` and trains on it exactly as you would on yours. Source
# 004's second variant fine-tunes ImageNet-pretrained VGG16 weights: where the weights can be
# downloaded (Colab sets `COURSE_DOWNLOAD=1`) this cell does the same. Offline it trains the
# ResNet with self-attention of section 3 from scratch, with the chapter's recipe, and says so.
# A few hundred images are a small test set: the cell reports the binomial test against chance
# (33.3 %) beside the accuracy.

# %%
from scipy.stats import binomtest

folder = data_dir() / "own_folder_demo"
shutil.rmtree(folder, ignore_errors=True)
full = chapter.load_course_data(cifar.replace(train_subset=None, test_subset=None))
for name in ("cat", "dog", "horse"):
    (folder / name).mkdir(parents=True)
    idx = (full.test_labels == full.classes.index(name)).nonzero().flatten()[:folder_images_per_class]
    for i in idx.tolist():
        Image.fromarray(full.test_images[i].permute(1, 2, 0).numpy()).save(folder / name / f"{i}.png")
own = load_image_folder(folder, size=32, test_fraction=0.2)
print(own)

weights = fetch_vgg16_imagenet()  # None offline: nothing is downloaded without COURSE_DOWNLOAD=1
own_batch = min(32, len(own.train_labels))
if weights is not None:
    # source 004's second variant: ImageNet VGG16 (no BatchNorm) features, fine-tuned at Adam 1e-4
    own_model, own_name = "vgg16", "VGG16 + self-attention"
    own_kwargs = {"classifier": "compact", "pretrained": True, "weights_path": str(weights),
                  "batch_norm": False, "attention_after": (10, 17, 24)}  # conv3_1, conv4_1, conv5_1
    own_config = TrainConfig.from_profile(cifar, epochs=folder_epochs, batch_size=own_batch, lr=1e-4,
                                          eval_batch_size=100)
    how = "fine-tuned from ImageNet weights (source 004's second variant)"
else:
    own_model, own_name, own_kwargs = "cifar_resnet", "ResNet + self-attention", RESNET_SELF_ATTENTION
    own_config = TrainConfig.from_profile(cifar, epochs=folder_epochs, batch_size=own_batch,
                                          eval_batch_size=100)
    how = ("trained from scratch (no ImageNet weights on this machine, and downloads are off), "
           "with the recipe of section 3")
own_run = train_or_load(own_model, own, own_config, attention="self_attention",
                        name=f"{own_model}-self_attention-own-folder", model_kwargs=dict(own_kwargs),
                        profile=P.name)
strip_text = chapter.strip_section({own_name: own_run}, own, own_name, n=9)
n_test = len(own.test_labels)
n_right = round(own_run.metrics["accuracy"] * n_test)
p_chance = binomtest(n_right, n_test, 1 / 3, alternative="greater").pvalue
display(Markdown(
    f"{own_name} {how}: {n_right} of {n_test} held-out images right, "
    f"{own_run.metrics['accuracy'] * 100:.1f} % (chance 33.3 %; binomial test against chance, "
    f"one-sided: p = {p_chance:.3f}), one seed, {own_config.epochs} epochs on "
    f"{len(own.train_labels)} training images. "
    + ("That is clearly above chance, and still far from a useful classifier. "
       if p_chance < 0.01 else
       "A test of this size can barely tell that from guessing. "
       if p_chance < 0.1 else
       "That cannot be told from guessing. ")
    + ("A few hundred images of three similar animals are too few to train a network from "
       "scratch — the reason source 004 fine-tunes ImageNet weights. " if weights is None else "")
    + "The strip shows three test images per class. " + strip_text
))

# %% [markdown]
# From the command line the same is
# `python -m course_lib train --model cifar_resnet --attention self_attention --model-arg attention_after=[1,2] --image-folder my_photos --folder-size 32 --image-size 32`.
#
# ## 7 · The naming mistake in source 004
#
# Source 004 calls its block `TripletAttention`. It is not: Triplet Attention (chapter 02) pools
# each axis pair with Z-pool and learns three 7×7 gates with 300 parameters; source 004's block
# computes queries, keys and values and an $N\times N$ softmax map — SAGAN's self-attention, as
# here. (Its second variant also drops γ and the residual, so the block replaces the features
# instead of refining them, and it builds all three modules for 256 channels although conv4_1
# and conv5_1 have 512.) Names matter in a course: a reader who searches for "Triplet Attention"
# should find the module of chapter 02.

# %% [markdown]
# ## Summary

# %% tags=["reading"]
p_ = ref.profile
display(Markdown(
    "- SAGAN's block lets every position take a softmax-weighted average over all positions, "
    "scaled by γ (0 at the start, so the block starts as the identity); its cost grows with the "
    "square of the number of positions.\n"
    f"- In chapter 05's CIFAR ResNet ({p_.image_size} px, {p_.epochs} epochs, {p_.train_subset:,} "
    f"training images, Adam {p_.lr:g}, {acc['ResNet'].n} seeds): the ResNet reaches "
    f"{acc['ResNet'].mean * 100:.2f} %, with the block {acc['ResNet + self-attention'].mean * 100:.2f} %: "
    f"{d.sentence()}. A run with the block took {time_ratio:.1f}× as long.\n"
    f"- The block did switch on (γ·o is {span(share[first] + share[second])} of the features it is "
    "added to, though γ itself stays below 0.1: the value convolution carries the scale) and learned "
    "nearly one-hot maps onto a handful of hub positions per image; untrained, its maps are close "
    f"to uniform (a query's largest weight {dep[first + ' untrained']['peak_over_uniform']:.1f}× "
    "1/N).\n"
    "- What the course found about mechanism: the block's term is a tenth to a quarter of the "
    "features, and its maps depend on the query, coarsely. Whether the network "
    "relies on them is measured here on your run only (the interventions above); over seeds it "
    "waits for the confirmatory runs. Why the maps saturate (unscaled dot products is the "
    "hypothesis) and whether the copying is what costs accuracy are not tested.\n"
    "- What this budget cannot show: whether the block pays off after long training, or on larger "
    "images like the 128 px GAN features SAGAN used it on, or in VGG16, source 004's network, which "
    "this chapter builds but does not train (section 2: it had learned least of the 32 px networks "
    "in the earlier recipe). The `gpu` and `paper` profiles train the VGG16-BN pair, exploratory.\n"
    f"- Data: {next(iter(sa_rows.values()))['data_source']}."
))

# %% tags=["remove-cell", "reading-check"]
with claims.guard("chapter 07: summary") as claim:
    claim.that(d.high < 0 and not d.significant, "lower with the block, on exploratory seeds")
    claim.that(dep[first + " untrained"]["peak_over_uniform"] < 1.5, "untrained maps close to uniform")
    claim.that(min(min(v) for v in share.values()) >= 0.1, "the block switched on")
    claim.that(all(abs(g) < 0.1 for v in gamma.values() for g in v), "γ itself below 0.1")

# %% [markdown]
# ## Exercises
#
# 1. Put the block after stage 0 as well (`attention_after=(0, 1, 2)`: a 32×32 map). How large is
#    $\beta$ there, and what does it do to a training step? At 224 px, how large would $\beta$ be
#    after VGG16's conv1_1, where source 004 puts it?
# 2. Initialise γ to 1 instead of 0 and train again. What happens in the first epoch?
# 3. Implement the paper's value path (h: C → C/8, then W_v: C/8 → C) as a subclass of
#    `SelfAttention` and compare parameters and accuracy.
# 4. Train on a folder of your own photos with `load_image_folder(path, size=64)`.
# 5. Put `triplet` or `se` between the ResNet's stages instead
#    (`build_model("cifar_resnet", attention="se", attention_after=(1, 2))`). Compare parameters and
#    FLOPs.
# 6. Test the saturation hypothesis of section 5: subclass `SelfAttention` so that
#    `attention_map` divides the energies by $\sqrt{\bar C}$, train it with the chapter's recipe and
#    compare `key_concentration` and accuracy with the unscaled block. Then train the unscaled
#    block at a lower learning rate: which of the two changes makes the maps less one-hot?
