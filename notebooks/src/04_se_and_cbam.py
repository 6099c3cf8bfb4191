# %% [markdown]
# # 04 · The references: Squeeze-and-Excitation and CBAM
#
# *Hu, Shen, Sun — "Squeeze-and-Excitation Networks", CVPR 2018.*
# *Woo, Park, Lee, Kweon — "CBAM: Convolutional Block Attention Module", ECCV 2018.*
#
# Triplet Attention and SimAM both measure themselves against these two modules. SE learns one
# weight per channel from the channel's global average; CBAM adds a max-pooled descriptor and
# then a spatial gate — which is exactly Triplet Attention's H-W branch. This chapter builds both,
# counts their parameters by formula, trains them with the recipe of chapters 01-03, measures
# what their gates do to AlexNet's signal before and after training, tests that explanation with
# one variant, and puts all five AlexNet variants of chapters 01-04 side by side.

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
reduction = 16  # r, the SE / CBAM bottleneck ratio (the papers' value)

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
from course_lib.data import EvalTransform
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
# Where Triplet Attention differs: CBAM's channel MLP sees each channel through two numbers, its
# average and its maximum over all positions, so it weights a channel the same everywhere in the
# image. Triplet Attention's two other branches gate (C, W) and (C, H) planes instead: a
# channel's weight may change along one spatial axis — and they cost 200 parameters at any width
# instead of $2Ch + h + C$.

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
# ## 4 · Training SE, CBAM and a variant
#
# The recipe, data and seeds of chapters 01-03: the first 6 epochs of the source notebooks'
# 50-epoch schedule at 128 px in the `quick` profile (chapter 02 explains why), every variant
# paired with the baseline of the same seed, which is loaded from chapter 01's finished runs (or
# trained here). A third network, **AlexNet-SE-from-identity**, is the variant of section 6:
# SE with its gate doubled, $2\sigma(\cdot)$, so that it starts near 1 instead of near 0.5 —
# same parameters, same initial weights, same range of values around its starting point.

# %%
data = chapter.load_course_data(P)
# a reduction other than the papers' 16 is passed to SE and CBAM (and names other runs)
bottleneck = None if reduction == 16 else {"attention_kwargs": {"reduction": reduction}}
variants = {"AlexNet": chapter.train_variant(data, P, attention=None),
            "AlexNet-SE": chapter.train_variant(data, P, attention="se", model_kwargs=bottleneck),
            "AlexNet-CBAM": chapter.train_variant(data, P, attention="cbam", model_kwargs=bottleneck),
            "AlexNet-SE-from-identity": chapter.train_variant(data, P, attention="se_from_identity",
                                                              model_kwargs=bottleneck)}
for name in ("AlexNet-SE", "AlexNet-CBAM", "AlexNet-SE-from-identity"):  # one row per run in
    for run in variants[name]:                                           # results/<profile>/
        print(chapter.report(run, "04_se_and_cbam"))
main = {name: runs[0] for name, runs in variants.items()}
flops = {name: count_flops(run.model, P.image_size) for name, run in main.items()}
print(chapter.compare_runs(main, flops))

# %%
fig = plot_seed_curves({n: [r.history for r in runs] for n, runs in variants.items()},
                       title=f"{P.image_size} px, {len(variants['AlexNet'])} seeds")
plt.show()

# %% [markdown]
# Every curve is the mean over the seeds, the band its spread. The readings below are written
# for the committed `quick` runs, whichever profile this notebook ran in: their numbers are read
# from `results/quick/`, and a hidden cell after each checks its words against them.
#
# The table pairs every variant with AlexNet by seed: the difference, its 95 % interval, a paired
# t-test Holm-corrected over the comparisons (with several tests at 5 % each, the chance of at
# least one false "significant" grows with their number), and the smallest difference the design
# detects with 80 % power at that comparison's level. The table corrects over its own four
# comparisons; the reading below and section 7 correct SE and CBAM together with Triplet
# Attention and SimAM, the family of the four modules the course compares with AlexNet, so their
# corrected p-values differ a little from the table's.

# %%
comparison = chapter.compare_variants(variants, baseline="AlexNet",
                                      extra_pairs=[("AlexNet-SE-from-identity", "AlexNet-SE")])
print(comparison.table())

# %% tags=["reading"]
from IPython.display import Markdown, display

import dataclasses

from course_lib import claims
from course_lib.experiments.reference import committed
from course_lib.experiments.stats import detectable_difference


def pts(value: float) -> str:  # a difference in points, signed
    return f"{value * 100:+.2f}"


def ci(d) -> str:
    return f"[{pts(d.low)}, {pts(d.high)}]"


NETWORKS = {"AlexNet": "alexnet-none", "AlexNet-SE": "alexnet-se", "AlexNet-CBAM": "alexnet-cbam",
            "AlexNet-SE-from-identity": "alexnet-se_from_identity",
            "AlexNet-TA": "alexnet-triplet", "AlexNet-SimAM": "alexnet-simam"}
ref = committed("quick", NETWORKS)
E = ref.profile.epochs
# the chapters' four main comparisons, one Holm family; the variant against SE separately
MAIN = [("AlexNet-SE", "AlexNet"), ("AlexNet-CBAM", "AlexNet"), ("AlexNet-TA", "AlexNet"),
        ("AlexNet-SimAM", "AlexNet")]
four = ref.differences(MAIN)
se, cbam = four["AlexNet-SE − AlexNet"], four["AlexNet-CBAM − AlexNet"]


def alone(variant: str, baseline: str, epoch: int | None = None):
    """One seed-paired comparison tested on its own (test accuracy, or validation at ``epoch``)."""
    return ref.differences([(variant, baseline)], epoch=epoch)[f"{variant} − {baseline}"]


se_curve = [alone("AlexNet-SE", "AlexNet", e) for e in range(1, E + 1)]
cbam_curve = [alone("AlexNet-CBAM", "AlexNet", e) for e in range(1, E + 1)]
acc = {name: ref.summary(name) for name in NETWORKS}
wins = {name: sum(a > b for a, b in zip(ref.accuracy(name).values(), ref.accuracy("AlexNet").values()))
        for name in ("AlexNet-SE", "AlexNet-CBAM")}
# the earlier quick profile: a whole 5-epoch schedule, 3 seeds (its rows stay in results/quick/)
squeezed = committed(dataclasses.replace(ref.profile, epochs=5, schedule_epochs=None, seeds=(42, 43, 44)),
                     {n: NETWORKS[n] for n in ("AlexNet", "AlexNet-SE", "AlexNet-CBAM")}, with_curves=False)
old = squeezed.differences([("AlexNet-SE", "AlexNet"), ("AlexNet-CBAM", "AlexNet")])
old_se, old_cbam = old["AlexNet-SE − AlexNet"], old["AlexNet-CBAM − AlexNet"]
pairs_for_3 = next(n for n in range(3, 1000) if detectable_difference(cbam.sd, n, cbam.alpha) <= 0.03)
display(Markdown(
    f"**Reading** — {ref.provenance()}. Both references start behind AlexNet: after the first "
    f"epoch SE's validation accuracy is {abs(se_curve[0].diff) * 100:.2f} points below it "
    f"({ci(se_curve[0])}) and CBAM's {abs(cbam_curve[0].diff) * 100:.2f} ({ci(cbam_curve[0])}), "
    f"and CBAM falls further behind in the second epoch ({pts(cbam_curve[1].diff)}). Then both "
    f"close the gap. Epoch by epoch the differences run SE "
    f"{', '.join(f'{v.diff * 100:+.1f}' for v in se_curve)} and CBAM "
    f"{', '.join(f'{v.diff * 100:+.1f}' for v in cbam_curve)} points. On the test set after {E} "
    f"epochs AlexNet reaches {acc['AlexNet'].mean * 100:.2f} %, AlexNet-SE "
    f"{acc['AlexNet-SE'].mean * 100:.2f} % and AlexNet-CBAM {acc['AlexNet-CBAM'].mean * 100:.2f} %: "
    f"SE − AlexNet {pts(se.diff)} points ({ci(se)}, ahead in {wins['AlexNet-SE']} of {se.n_pairs} "
    f"pairs; {se.verdict()}, the design detects {se.detectable * 100:.1f}) and CBAM − AlexNet "
    f"{pts(cbam.diff)} ({ci(cbam)}, ahead in {wins['AlexNet-CBAM']} of {cbam.n_pairs}; "
    f"{cbam.verdict()}, detectable {cbam.detectable * 100:.1f}), Holm-corrected over the four "
    f"modules of chapters 02-04 (section 7). Neither is shown to end better or worse than AlexNet. "
    f"The CBAM comparison is the weaker one: its runs vary more from seed to seed (sd of the paired "
    f"differences {cbam.sd * 100:.1f} points against {se.sd * 100:.1f} for SE), so it misses the "
    f"course's aim of detecting 3 points; about {pairs_for_3} pairs would reach it.\n\n"
    f"The course's earlier `quick` profile squeezed a whole schedule into 5 epochs (3 seeds, rows "
    f"still in `results/quick/`): there SE and CBAM ended {abs(old_se.diff) * 100:.1f} and "
    f"{abs(old_cbam.diff) * 100:.1f} points behind AlexNet, because the learning rate had decayed "
    f"to 0 before they could catch up. What both profiles show is a slow start. The papers' gains "
    f"of 1.5-1.9 points came after 90-100 epochs on ImageNet, a question this budget cannot reach. "
    f"Sections 5 and 6 measure why SE and CBAM start slowly."
))

# %% tags=["remove-cell", "reading-check"]
with claims.guard("chapter 04: SE and CBAM against AlexNet") as claim:
    claim.that(se_curve[0].high < 0, "SE starts behind (epoch-1 interval below 0)", f"{se_curve[0].high:+.4f}")
    claim.that(cbam_curve[0].high < 0, "CBAM starts behind", f"{cbam_curve[0].high:+.4f}")
    claim.larger(cbam_curve[0].diff, cbam_curve[1].diff, "CBAM falls further behind in epoch 2")
    claim.larger(se.diff, se_curve[0].diff, "SE closes the gap")
    claim.larger(cbam.diff, min(v.diff for v in cbam_curve), "CBAM closes the gap")
    claim.not_significant(se, "SE's end point within noise")
    claim.not_significant(cbam, "CBAM's end point within noise")
    claim.larger(cbam.sd, se.sd, "CBAM's pairs vary more")
    claim.larger(cbam.detectable, 0.03, "the CBAM comparison misses the 3-point aim")
    claim.detectable_below(se, 0.03, "the SE comparison detects 3 points or less")
    claim.that(old_se.diff < -0.04 and old_cbam.diff < -0.04, "the squeezed profile had both far behind")
    claim.larger(old_se.diff, -0.07, "about six points, not more (SE)")

# %% [markdown]
# ## 5 · What the gates do to AlexNet's signal, before and after training
#
# Every module here multiplies a feature map by a sigmoid. An untrained sigmoid sits near 0.5:
# SE's MLP and CBAM's channel MLP start with small random weights, and CBAM's spatial gate
# passes a random 7×7 convolution through a BatchNorm whose running statistics are still 0 and 1.
# So at initialisation each SE module roughly halves its feature map, and each CBAM module
# multiplies it by two such gates, about a quarter. AlexNet has no normalisation anywhere: what
# one layer shrinks, the next layer receives shrunk. Two measurements on 64 test images:
#
# - `gate_statistics` reads every gate's outputs (for CBAM the channel gate, the spatial gate
#   and their product, which is what the map is finally multiplied by), at the main seed's
#   initial weights and after training;
# - `activation_scale` measures the root mean square of every stage's output (after its ReLU)
#   and of the logits, in networks that share plain AlexNet's initial convolutions and
#   classifier and differ only by their gates: the ratio to AlexNet is what the gates did.

# %%
from course_lib.explain.gates import gate_statistics
from course_lib.explain.signal import activation_scale

probe_idx = chapter.fixed_test_images(data, n=64)
probe = EvalTransform(P.image_size, data.mean, data.std)(data.test_images[probe_idx])
gated = {"AlexNet-SE": "se", "AlexNet-CBAM": "cbam", "AlexNet-SE-from-identity": "se_from_identity"}
kwargs = bottleneck or {}

torch.manual_seed(P.seed)
plain = build_model("alexnet", image_size=P.image_size)
scales = {"AlexNet": activation_scale(plain, probe)}
gates_before = {}
for name, attention in gated.items():
    torch.manual_seed(P.seed)  # the initial weights of the main seed's run
    model = build_model("alexnet", attention=attention, image_size=P.image_size, **kwargs)
    gates_before[name] = gate_statistics(model, probe)
    model.load_state_dict(plain.state_dict(), strict=False)  # AlexNet's convs, its own gates
    scales[name] = activation_scale(model, probe)


def device_of(run):
    return next(run.model.parameters()).device


gates_after = {name: gate_statistics(main[name].model, probe.to(device_of(main[name])))
               for name in gated}
trained_scales = {name: activation_scale(main[name].model, probe.to(device_of(main[name])))
                  for name in ("AlexNet", *gated)}

layers = list(scales["AlexNet"])
print("size of each stage's output (after its ReLU) relative to AlexNet's, root mean square, "
      f"untrained, seed {P.seed}")
print(f"{'':26s}" + "".join(f"{n.split('.')[-1].replace('relu', 'conv'):>8s}" for n in layers))
for name, s in scales.items():
    print(f"{name:26s}" + "".join(f"{s[n] / scales['AlexNet'][n]:8.3f}" for n in layers))
print(f"\ngates, mean ± sd over 64 images, channels and positions: before → after {P.epochs} epochs")
for name in gated:
    for before, after in zip(gates_before[name], gates_after[name]):
        print(f"{name:26s} {before.module:15s} {before.gate:8s} {before.mean:.3f} ± {before.std:.3f}"
              f" → {after.mean:.3f} ± {after.std:.3f}")
for name in gated:  # the main seed's row keeps its gates and signal scales, for the readings
    print(chapter.report(main[name], "04_se_and_cbam",
                         gates=[dataclasses.asdict(g) for g in gates_after[name]],
                         gates_at_init=[dataclasses.asdict(g) for g in gates_before[name]],
                         scale_at_init_vs_alexnet={n: scales[name][n] / scales["AlexNet"][n] for n in layers},
                         scale_trained_vs_alexnet={n: trained_scales[name][n] / trained_scales["AlexNet"][n]
                                                   for n in layers}))

# %% tags=["reading"]
# read again: the cell above has just written the gates into the main seed's rows
GATED = ("AlexNet-SE", "AlexNet-CBAM", "AlexNet-SE-from-identity")
main_rows = committed("quick", {n: NETWORKS[n] for n in GATED}).rows
rows = {name: by_seed[ref.profile.seed] for name, by_seed in main_rows.items()}


def gate_means(row: dict, key: str, gate: str) -> list[float]:
    return [g["mean"] for g in row[key] if g["gate"] == gate]


def gate_sds(row: dict, key: str, gate: str) -> list[float]:
    return [g["std"] for g in row[key] if g["gate"] == gate]


def span(values) -> str:
    return f"{min(values):.2f}-{max(values):.2f}"


se_row, cbam_row, id_row = rows["AlexNet-SE"], rows["AlexNet-CBAM"], rows["AlexNet-SE-from-identity"]
last_stage = list(se_row["scale_at_init_vs_alexnet"])[-2]  # conv5's output, before the classifier
at_init = {n: r["scale_at_init_vs_alexnet"][last_stage] for n, r in rows.items()}
trained = {n: r["scale_trained_vs_alexnet"] for n, r in rows.items()}
def conv_names(indices) -> str:
    return ", ".join(f"conv{i + 1}" for i in indices)


se_sd_ratio = [a / b for a, b in zip(gate_sds(se_row, "gates", "channel"),
                                     gate_sds(se_row, "gates_at_init", "channel"))]
se_grown = [i for i, r in enumerate(se_sd_ratio) if r > 1.5]
se_flat = [i for i in range(len(se_sd_ratio)) if i not in se_grown]
cbam_sd_ratio = [a / b for a, b in zip(gate_sds(cbam_row, "gates", "product"),
                                       gate_sds(cbam_row, "gates_at_init", "product"))]
init_sds = gate_sds(se_row, "gates_at_init", "channel") + gate_sds(cbam_row, "gates_at_init", "product")
display(Markdown(
    f"**Reading** (the committed `quick` runs of seed {ref.profile.seed}; gates and scales read in "
    f"evaluation mode on 64 test images). At initialisation SE's gates average "
    f"{span(gate_means(se_row, 'gates_at_init', 'channel'))} in the five modules and CBAM's product "
    f"{span(gate_means(cbam_row, 'gates_at_init', 'product'))}, with little spread (standard "
    f"deviation {span(init_sds)}, the untrained MLPs' small differences between channels): they "
    f"scale every map by roughly a constant. Under plain AlexNet's initial convolutions, what "
    f"conv5 passes to the classifier shrinks to {at_init['AlexNet-SE']:.2f} of AlexNet's with SE "
    f"and to {at_init['AlexNet-CBAM']:.2f} with CBAM, while SE-from-identity keeps "
    f"{at_init['AlexNet-SE-from-identity']:.2f}. (Not the 2⁻⁵ = 0.03 of five halvings: each "
    f"convolution adds its bias after the previous gate, and the bias is not halved.) Whether this "
    f"damping is what costs SE its first epochs is what section 6 tests; why a damped signal would "
    f"learn more slowly is not measured here.\n\n"
    f"After {ref.profile.epochs} epochs CBAM's gates have switched on: the spread of their product "
    f"grew in every module, to {span(gate_sds(cbam_row, 'gates', 'product'))} "
    f"({min(cbam_sd_ratio):.1f}-{max(cbam_sd_ratio):.1f} times its initial value) — different "
    f"weights for different channels, positions and images. SE's spread grew in "
    f"{conv_names(se_grown)} (to {span([gate_sds(se_row, 'gates', 'channel')[i] for i in se_grown])}) "
    f"and stayed where it started in {conv_names(se_flat)} "
    f"({span([gate_sds(se_row, 'gates', 'channel')[i] for i in se_flat])}): there SE still only "
    f"rescales. Neither has opened: SE's mean gate is {span(gate_means(se_row, 'gates', 'channel'))} "
    f"and CBAM's product {span(gate_means(cbam_row, 'gates', 'product'))}. The networks learned to "
    f"work with a damped signal instead of undoing the damping: trained, SE's conv5 output is "
    f"{trained['AlexNet-SE'][last_stage]:.2f} of trained AlexNet's and CBAM's "
    f"{trained['AlexNet-CBAM'][last_stage]:.2f}. SE-from-identity's gates, started at 1, moved "
    f"down (means {span(gate_means(id_row, 'gates', 'channel'))}) and spread much more "
    f"(standard deviation {span(gate_sds(id_row, 'gates', 'channel'))})."
))

# %% tags=["remove-cell", "reading-check"]
with claims.guard("chapter 04: the gates and the signal") as claim:
    init_means = gate_means(se_row, "gates_at_init", "channel")
    claim.that(all(0.45 < m < 0.55 for m in init_means), "untrained SE gates near 0.5", span(init_means))
    init_products = gate_means(cbam_row, "gates_at_init", "product")
    claim.that(all(0.2 < m < 0.3 for m in init_products), "untrained CBAM product near 0.25",
               span(init_products))
    claim.that(max(init_sds) < 0.08, "untrained gates: little spread", f"{max(init_sds):.3f}")
    claim.that(at_init["AlexNet-CBAM"] < at_init["AlexNet-SE"] < 0.5, "SE shrinks conv5, CBAM more")
    claim.inside(at_init["AlexNet-SE-from-identity"], 0.8, 1.25, "SE from identity keeps the scale")
    claim.larger(at_init["AlexNet-SE"], 2 ** -5, "less shrinkage than five halvings")
    claim.that(min(cbam_sd_ratio) > 1.5, "CBAM's product spreads in every module", f"{min(cbam_sd_ratio):.2f}")
    claim.that(len(se_grown) >= 2 and se_flat, "SE spreads in some modules, not all", conv_names(se_grown))
    claim.that(all(se_sd_ratio[i] < 1.3 for i in se_flat), "SE's other modules stay where they started")
    trained_means = gate_means(se_row, "gates", "channel")
    claim.that(all(0.4 < m < 0.6 for m in trained_means), "trained SE gates still average about 0.5",
               span(trained_means))
    trained_products = gate_means(cbam_row, "gates", "product")
    claim.that(all(m < 0.3 for m in trained_products), "trained CBAM product still low",
               span(trained_products))
    claim.that(trained["AlexNet-CBAM"][last_stage] < trained["AlexNet-SE"][last_stage] < 1,
               "trained: conv5 signal still below AlexNet's, CBAM's lower")
    id_means = gate_means(id_row, "gates", "channel")
    claim.that(all(0.6 < m < 0.97 for m in id_means), "SE-from-identity's gates moved down", span(id_means))
    claim.that(min(gate_sds(id_row, "gates", "channel")) > max(gate_sds(se_row, "gates", "channel")[i] for i in se_flat),
               "SE-from-identity's gates spread more")

# %% [markdown]
# ## 6 · The test: SE that starts from the identity
#
# If halving the signal at every layer is what holds SE back early, an SE whose gates start near
# 1 should not start behind. `se_from_identity` multiplies by $2\sigma(\cdot)$: the same
# parameters and initial weights as SE, the same freedom to scale a channel down (to 0) or up (to
# 2), but at initialisation it passes the signal almost unchanged (the table above: its stages'
# outputs are within a few per cent of AlexNet's). It was trained in section 4.

# %% tags=["reading"]
# each line: the validation accuracy after every epoch, then the test accuracy
id_se = [alone("AlexNet-SE-from-identity", "AlexNet-SE", e) for e in (*range(1, E + 1), None)]
id_alex = [alone("AlexNet-SE-from-identity", "AlexNet", e) for e in (*range(1, E + 1), None)]
display(Markdown(
    f"**Reading** ({id_se[-1].n_pairs} seed pairs, the committed `quick` runs; each comparison "
    f"tested on its own, the question being this one explanation). Started near the identity, SE "
    f"no longer starts behind: after the first epoch SE-from-identity is {pts(id_alex[0].diff)} "
    f"points from AlexNet ({ci(id_alex[0])}; SE was {pts(se_curve[0].diff)}) and "
    f"{pts(id_se[0].diff)} ahead of SE of the same seed ({ci(id_se[0])}). Its lead over SE is "
    f"largest at the start and gone by the end — epoch by epoch "
    f"{', '.join(f'{v.diff * 100:+.1f}' for v in id_se[:-1])} points — and on the test set after "
    f"{E} epochs SE-from-identity − SE is {pts(id_se[-1].diff)} ({ci(id_se[-1])}; "
    f"{id_se[-1].verdict()}) and SE-from-identity − AlexNet {pts(id_alex[-1].diff)} "
    f"({ci(id_alex[-1])}; {id_alex[-1].verdict()}).\n\n"
    f"So the explanation holds where it was tested: the damping of the untrained gates is what "
    f"costs SE its first epochs, and moving where the gate starts, with the same parameters, "
    f"removes the slow start. Since plain SE catches up within {E} epochs anyway, the change buys "
    f"speed early, not a better end point at this budget. It also says what the deficit is not: "
    f"SE's idea, channel weights from global statistics, does not slow AlexNet down; its starting "
    f"point does, in a network with no normalisation to restore the scale. (The networks of the "
    f"SE and CBAM papers have a BatchNorm after every convolution, and in their ResNets the gated "
    f"branch is added to an identity shortcut, so a halving gate never halves the whole signal.) "
    f"Whether CBAM, whose two gates damp more, recovers the same way is exercise 3."
))

# %% tags=["remove-cell", "reading-check"]
with claims.guard("chapter 04: SE from the identity") as claim:
    claim.that(id_se[0].low > 0, "SE-from-identity starts ahead of SE", f"low {id_se[0].low:+.4f}")
    claim.inside(0.0, id_alex[0].low, id_alex[0].high, "SE-from-identity starts level with AlexNet")
    claim.larger(id_se[0].diff, id_se[-1].diff, "the lead over SE shrinks")
    claim.not_significant(id_se[-1], "SE-from-identity − SE within noise at the end")
    claim.not_significant(id_alex[-1], "SE-from-identity − AlexNet within noise at the end")

# %% [markdown]
# ## 7 · All five modules side by side
#
# Chapters 02 and 03 trained Triplet Attention and SimAM with the same recipe, data and seeds;
# their committed runs join SE and CBAM here. The four comparisons with AlexNet form one family
# for the Holm correction.

# %%
five = ["AlexNet", "AlexNet-SE", "AlexNet-CBAM", "AlexNet-TA", "AlexNet-SimAM"]
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.3), sharey=True,
                                  gridspec_kw={"width_ratios": [3, 2]})
colours = {"significantly above": "C2", "significantly below": "C3", "within noise": "0.45"}
for y, name in enumerate(five):
    accs = [a * 100 for a in ref.accuracy(name).values()]
    left.scatter(accs, [y] * len(accs), color="0.65", s=14, zorder=2,
                 label="one seed" if y == 0 else None)
    summary = ref.summary(name)
    left.errorbar(summary.mean * 100, y, xerr=summary.ci95 * 100, fmt="D", color="C0", capsize=4,
                  label="mean, 95 % CI" if y == 0 else None)
    if name != "AlexNet":
        d = four[f"{name} − AlexNet"]
        kind = "within noise" if not d.significant else \
            "significantly above" if d.diff > 0 else "significantly below"
        right.errorbar(d.diff * 100, y, xerr=[[(d.diff - d.low) * 100], [(d.high - d.diff) * 100]],
                       fmt="o", color=colours[kind], capsize=4)
right.axvline(0, color="k", lw=0.8)
for kind, colour in colours.items():
    right.plot([], [], "o", color=colour, label=kind + " (Holm, 4 comparisons)")
left.set(yticks=range(len(five)), yticklabels=five, xlabel="test accuracy (%)",
         title=f"committed quick runs, {ref.profile.image_size} px, {ref.profile.epochs} of "
               f"{ref.profile.schedule_epochs} epochs")
right.set(xlabel="− AlexNet, paired by seed (points, 95 % CI)", title="difference to AlexNet")
left.title.set_size(9)
right.title.set_size(9)
left.set_xlim(10, 100)  # from chance: small gaps look small
left.grid(alpha=0.3, axis="x")
right.grid(alpha=0.3, axis="x")
left.legend(fontsize=7, loc="lower left")
right.legend(fontsize=7, loc="lower right")
fig.tight_layout()
plt.show()
for d in four.values():
    print(d.sentence())

# %% tags=["reading"]
ta, simam = four["AlexNet-TA − AlexNet"], four["AlexNet-SimAM − AlexNet"]
ranking = sorted(["AlexNet", *(variant for variant, _ in MAIN)], key=lambda n: -ref.summary(n).mean)
display(Markdown(
    f"**Reading** (the committed `quick` runs, {ta.n_pairs} seed pairs each, Holm over the four "
    f"modules). By mean test accuracy the five rank {', '.join(ranking)}. After the correction only "
    f"Triplet Attention is ahead of AlexNet: {pts(ta.diff)} points ({ci(ta)}, p(Holm) = "
    f"{ta.p_holm:.3f}). SimAM's {pts(simam.diff)} ({ci(simam)}) was significant in chapter 03, "
    f"where it was the only comparison (p = {simam.p:.3f}); among four comparisons its corrected p "
    f"is {simam.p_holm:.3f}. A lead smaller than what the design detects at this level "
    f"({simam.detectable * 100:.1f} points) survived one test and not four: read it as likely, "
    f"not shown. SE ({pts(se.diff)}) and CBAM ({pts(cbam.diff)}) are within noise. All "
    f"four change how AlexNet starts — Triplet Attention, SE and CBAM start behind, SimAM does not "
    f"— and the ones with learned sigmoid gates pay for it in the first epochs (chapter 02 for "
    f"Triplet Attention, sections 5-6 here for SE)."
))

# %% tags=["remove-cell", "reading-check"]
with claims.guard("chapter 04: all five side by side") as claim:
    claim.significant(ta, "Triplet Attention ahead after Holm over four")
    claim.not_significant(simam, "SimAM not significant among four")
    claim.that(simam.p < 0.05, "SimAM significant alone (chapter 03)", f"p {simam.p:.4f}")
    claim.larger(simam.detectable, simam.diff, "SimAM's lead below the detectable difference")
    claim.not_significant(se, "SE within noise")
    claim.not_significant(cbam, "CBAM within noise")
    claim.that(ranking[0] == "AlexNet-TA", "TA ranks first", ranking[0])
    ta_first = alone("AlexNet-TA", "AlexNet", epoch=1)
    simam_first = alone("AlexNet-SimAM", "AlexNet", epoch=1)
    claim.that(ta_first.high < 0, "TA starts behind", f"{ta_first.high:+.4f}")
    claim.that(simam_first.low > -0.02, "SimAM does not start clearly behind", f"{simam_first.low:+.4f}")

# %% [markdown]
# ## 8 · Predictions and GradCAM

# %%
display(Markdown(chapter.strip_section(main, data, "AlexNet-CBAM")))

# %%
focus = ("AlexNet", "AlexNet-SE", "AlexNet-CBAM")
cams = chapter.cam_section({n: main[n] for n in focus}, data)
display(Markdown(
    read.describe_cams(cams)
    + ". Eight images show what the maps look like, not which network explains better: chapter "
    "08 measures the quality of maps over hundreds of images."
))

# %% [markdown]
# ## Summary
#
# - SE reweights channels from their global average; CBAM adds the max-pooled descriptor and a
#   spatial gate that is exactly Triplet Attention's H-W branch (checked above).
# - On ImageNet the papers report 1.5-1.9 points lower top-1 error for ResNet-50, after 90-100
#   epochs on 1.28 million images: a regime this course's CPU budget does not reach.

# %% tags=["reading"]
from course_lib.experiments.bench import recorded_overheads

bench = recorded_overheads(ref.profile.image_size, "bf16")
speed = "" if bench is None else (
    "- Cost of a training step relative to AlexNet's (`python -m course_lib bench`, an idle "
    f"{bench['device']}, {ref.profile.image_size} px, bf16, {bench['date']}): "
    + ", ".join(f"{label} {bench['overheads'][a]:.2f}×" for label, a in
                (("SE", "se"), ("CBAM", "cbam"), ("TA", "triplet"), ("SimAM", "simam"))
                if a in bench["overheads"]) + ".")
display(Markdown(
    f"- In the first {E} epochs of the source's schedule ({ref.profile.image_size} px, "
    f"{se.n_pairs} seed pairs, the committed `quick` runs) SE and CBAM start "
    f"{abs(se_curve[0].diff) * 100:.1f} and {abs(cbam_curve[0].diff) * 100:.1f} points behind "
    f"AlexNet and end {pts(se.diff)} and {pts(cbam.diff)} points from it, both within noise (the "
    f"design detects {se.detectable * 100:.1f} and {cbam.detectable * 100:.1f} points).\n"
    f"- Untrained, their gates damp AlexNet's signal (conv5's output {at_init['AlexNet-SE']:.2f} "
    f"of AlexNet's with SE, {at_init['AlexNet-CBAM']:.2f} with CBAM); trained, CBAM's gates vary "
    f"(SE's in {conv_names(se_grown)} only) but their mean stays near 0.5 (SE) and 0.2 (CBAM's "
    f"product).\n"
    f"- SE started near the identity (2σ, same parameters) is level with AlexNet after the first "
    f"epoch ({pts(id_alex[0].diff)} points, {id_alex[0].n_pairs} pairs) and "
    f"{pts(id_se[0].diff)} ahead of SE: the damping at initialisation explains SE's slow start.\n"
    f"- Of the four modules of chapters 02-04, only Triplet Attention is ahead of AlexNet after "
    f"Holm's correction ({pts(ta.diff)} points); SimAM's {pts(simam.diff)} is significant alone, "
    f"not among four.\n"
    + speed
))

# %% [markdown]
# ## Exercises
#
# 1. Remove the max-pooled descriptor from CBAM's channel attention. What is left, and how does
#    it differ from SE?
# 2. Set `reduction = 4`. How many parameters does AlexNet-SE gain, and does the paired
#    difference to the baseline move by more than the design can detect?
# 3. Write CBAM from identity (both gates as $2\sigma$) with `register_attention` and train it
#    over four seeds. Does it remove CBAM's slow start as SE-from-identity did for SE's?
# 4. Reverse CBAM's order (spatial first, then channel) by composing `SpatialAttention` and
#    `ChannelAttention` yourself, register it, and train it.
# 5. Count the FLOPs of SE's MLP at 224 px. Why does `FlopCounterMode` report almost nothing for
#    SE, and which operation does it miss?
