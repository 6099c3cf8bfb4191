# %% [markdown]
# # 00 · Set-up, CIFAR-10 and the training recipe
#
# This course takes six attention modules for CNNs — Squeeze-and-Excitation, CBAM, Triplet
# Attention, SimAM, pyramid squeeze attention (PSA) and self-attention — and MogaNet, a whole
# network built around gated aggregation. It derives each one's math, builds it in the library
# `course_lib` and trains it on CIFAR-10. Chapters 01-04 plug their modules into one and the same
# AlexNet, so that only the module changes; chapters 05-07 use other networks as well: PSA in
# AlexNet and in a CIFAR-sized bottleneck ResNet (05), MogaNet itself (06) and self-attention in
# chapter 05's CIFAR ResNet (07; source 004's VGG16 is built there, but not trained at the CPU
# budget). Chapter 08 examines the GradCAM maps every chapter draws, chapter 09 gathers the
# results. Before any attention, this chapter checks the machine, looks at the data and takes
# apart the training recipe the chapters share.
#
# **The source notebooks.** The course reproduces, checks and corrects five published notebooks,
# called *the source notebooks 000-004* ("source 001" for one of them) throughout:
#
# | name | framework | what it does | chapters |
# |---|---|---|---|
# | source 000 | Paddle | AlexNet with Triplet Attention, CIFAR-10 at 224 px | 01, 02 |
# | source 001 | Paddle | AlexNet with SimAM, 128 px | 01, 03 |
# | source 002 | Paddle | MogaNet-XT on CIFAR-10, one prediction explained with LIME | 06, 08 |
# | source 003 | Paddle | EPSANet-50 against ResNet-50 | 05 |
# | source 004 | PyTorch | VGG16 with self-attention on an own image folder | 07 |
#
# (`course_lib.experiments.results.SOURCE_NOTEBOOKS` holds these names.) A *seed*, in this
# course, is always a random seed, such as 42.
#
# **Profiles.** One switch scales the whole course:
#
# - `smoke` — CI: a few hundred images, one epoch, seconds per notebook;
# - `quick` — a laptop CPU: 128 px as in source 001, 16,000 class-balanced training images, the
#   first 6 epochs of the 50-epoch cosine schedule of sources 000 and 001 (the learning rate is
#   still high when a run stops) and 8 seeds, 42-49; a pilot chose these so that a difference of
#   about 2-3 points between two networks can be detected (docs/lab_notebook.md, the pilot); every
#   committed run of the course is a `quick` run;
# - `gpu` — one GPU: 128 px, all 45,000 training images, 8 epochs (a whole cosine schedule),
#   3 seeds; exploratory: no committed runs back its verdicts;
# - `paper` — the source notebooks' settings: 224 px (128 px for SimAM, as in source 001), all
#   45,000 training images, 50 epochs, 3 seeds; exploratory too.
#
# These are the AlexNet settings; chapters 05-07 train their networks at settings of their own in
# each profile and say which. The profile is read from `COURSE_PROFILE`, else it is `quick`, on a
# GPU too; `gpu` and `paper` run only when asked for. On a CPU a chapter trains only its main
# seed and checks that run against the course's committed runs (learner mode); on a GPU it
# trains every seed. The first line of every chapter's output names the profile it ran with.

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
seed = P.seed

# %%
from course_lib import chapter
from course_lib.runtime.env import environment_report

P = chapter.start(profile, image_size=image_size, seed=seed)
for key, value in environment_report().items():
    print(f"{key:12s} {value}")

# %%
import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

from course_lib.data import BatchAugment, EvalTransform, load_cifar10, load_course_data
from course_lib.plots import plot_class_grid, show_as_jpeg, to_numpy_image

# %% [markdown]
# ## 1 · CIFAR-10
#
# 60,000 colour images of 32 × 32 pixels in ten classes, 50,000 for training and 10,000 for
# testing (Krizhevsky, 2009). `load_cifar10` finds them in this order: a path you pass (or
# `COURSE_DATA`), torchvision's files in `data/`, an image folder or its `.tar.gz` archive in
# `data/`, the course's offline copy `../shared/data/cifar10-jpeg.tar.gz`, and last a download
# into `data/` (163 MB), unless `COURSE_DOWNLOAD=0` forbids it. A JPEG copy is decoded once, on
# its first load, and cached as uint8 tensors in `data/cache/`; later loads take about a second.
#
# The offline copy stores the official split re-encoded as JPEG (quality 75). Its pixel
# statistics are within 0.002 of the official files, but JPEG drops fine detail, so accuracies on
# it run a little below those on the official set. Every result in this course records which
# copy of CIFAR-10 it was trained on (the `source` printed below).

# %%
data = load_cifar10()
print(data)

# %% [markdown]
# The images are held as one uint8 tensor per split, shape `(N, 3, 32, 32)`: 150 MB for the
# training set, small enough to sit on the GPU whole, which is what lets augmentation run on
# batches there (section 3).

# %%
# NBVAL_CHECK_OUTPUT
print("train:", tuple(data.train_images.shape), data.train_images.dtype)
print("test: ", tuple(data.test_images.shape), data.test_images.dtype)
print("classes:", ", ".join(data.classes))

# %%
fig = plot_class_grid(data, per_class=10, seed=seed)
show_as_jpeg(fig)

# %% [markdown]
# Ten random training images per class, at their stored 32 × 32 pixels. Two things a learner
# should see here before any training: the object often fills only part of the frame, against
# backgrounds that differ wildly within a class (a "ship" on blue water, a "bird" on grass or
# sky); and several pairs share a silhouette at this size — cat/dog, automobile/truck,
# deer/horse. Those pairs are where the confusion matrices of the later chapters put their
# errors.

# %% [markdown]
# **Class balance.** CIFAR-10 is exactly balanced: 5,000 training and 1,000 test images per class,
# so plain accuracy is a fair summary and a classifier that always says "cat" scores 10 %.

# %%
# NBVAL_CHECK_OUTPUT
train_counts = torch.bincount(data.train_labels, minlength=data.num_classes)
test_counts = torch.bincount(data.test_labels, minlength=data.num_classes)
for name, n_train, n_test in zip(data.classes, train_counts, test_counts):
    print(f"{name:11s} train {int(n_train):5d}   test {int(n_test):5d}")

# %%
fig, ax = plt.subplots(figsize=(7, 2.4))
ax.bar(range(10), train_counts, label="train")
ax.bar(range(10), test_counts, label="test")
ax.set_xticks(range(10), data.classes, rotation=30, fontsize=8)
ax.set_ylabel("images")
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# **Pixel statistics.** Inputs are normalised per channel, $\hat x_c = (x_c - \mu_c)/\sigma_c$,
# with $\mu_c, \sigma_c$ computed over every pixel of every *training* image (never the test set).
# Sources 000-003 used ImageNet's statistics (0.485, 0.456, 0.406 / 0.229, 0.224, 0.225), source
# 004 used 0.5 for every mean and standard deviation; CIFAR-10's own are a little different from
# ImageNet's, most visibly in the blue channel.

# %%
imagenet = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
print("channel      mean (CIFAR-10 / ImageNet)    std (CIFAR-10 / ImageNet)")
for c, name in enumerate("RGB"):
    print(f"   {name}           {data.mean[c]:.4f} / {imagenet[0][c]:.3f}"
          f"             {data.std[c]:.4f} / {imagenet[1][c]:.3f}")

every_tenth = data.train_images[::10]  # 5,000 images
fig, ax = plt.subplots(figsize=(6.5, 2.6))
for c, color in enumerate(["tab:red", "tab:green", "tab:blue"]):
    values = every_tenth[:, c].flatten().float()
    ax.hist(values.numpy(), bins=64, histtype="step", color=color, label="RGB"[c], density=True)
ax.set(xlabel="pixel value (0-255)", ylabel="density",
       title=f"pixel values of every 10th training image ({len(every_tenth):,} images)")
ax.legend()
fig.tight_layout()
plt.show()

# %% tags=["reading"]
import torch
from IPython.display import Markdown, display

from course_lib import claims
from course_lib.data import load_cifar10
from course_lib.train.experiment import describe_source

data = load_cifar10()
imagenet = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
# the official CIFAR-10 files' per-channel statistics over all 50,000 training images (the
# values torchvision's CIFAR-10 examples use), to say how far this copy is from them
official = ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))
every_tenth = data.train_images[::10]  # 5,000 images
tenth_counts = torch.bincount(data.train_labels[::10], minlength=data.num_classes)
sorted_by_class = bool((data.train_labels[1:] >= data.train_labels[:-1]).all())
gaps = [abs(data.mean[c] - imagenet[0][c]) for c in range(3)]
widest = "RGB"[max(range(3), key=gaps.__getitem__)]
counts = [torch.bincount(every_tenth[:, c].flatten().long(), minlength=256) for c in range(3)]
modes = [int(c[5:250].argmax()) + 5 for c in counts]  # the most common value away from the ends
clipped = [float((c[0] + c[255]) / c.sum()) for c in counts]
from_official = max(abs(a - b) for pair in ((data.mean, official[0]), (data.std, official[1]))
                    for a, b in zip(*pair))
display(Markdown(
    f"**Reading** — {describe_source(data)}, "
    f"{len(data.train_labels):,} training images. Red and green values are most often near "
    f"{modes[0]} and {modes[1]}, blue values near {modes[2]}, and blue has the lowest mean "
    f"({data.mean[2]:.3f} against {data.mean[0]:.3f} and {data.mean[1]:.3f}): the blue channel is "
    f"the darkest. Against ImageNet's statistics the means differ "
    f"by {gaps[0]:.3f}, {gaps[1]:.3f} and {gaps[2]:.3f} (R, G, B), most in {dict(R='red', G='green', B='blue')[widest]}: with "
    f"ImageNet's values that channel's input would not be centred. This copy's means and standard "
    f"deviations are within {from_official:.4f} of the official files' (0.4914, 0.4822, 0.4465 / "
    f"0.2470, 0.2435, 0.2616). The spikes at 0 and 255 are "
    f"pixels at the ends of the range, clipped black or white (the grid above shows where: dark "
    f"borders, bright skies and white objects): "
    f"{', '.join(f'{100 * v:.1f} %' for v in clipped)} of the R, G, B values. "
    + ("This copy's training split is stored sorted by class, so a histogram of its first 5,000 "
       "images would show airplanes only; " if sorted_by_class else "")
    + f"every tenth image takes {int(tenth_counts.min())}"
    + (f"-{int(tenth_counts.max())}" if tenth_counts.min() != tenth_counts.max() else "")
    + " of each class."
))

# %% tags=["remove-cell", "reading-check"]
with claims.guard("chapter 00: pixel statistics") as claim:
    claim.that(modes[2] < min(modes[:2]) and data.mean[2] < min(data.mean[:2]), "blue is the darkest channel",
               f"modes {modes}, means {data.mean}")
    claim.that(widest == "B", "the means differ from ImageNet's most in blue (the summary says so)", widest)
    claim.that(max(gaps) > 0.02, "enough for an uncentred input", f"{max(gaps):.4f}")
    claim.that(from_official < 0.002, "within 0.002 of the official statistics", f"{from_official:.4f}")
    claim.that(min(tenth_counts.tolist()) == max(tenth_counts.tolist()) == len(every_tenth) // 10,
               "every tenth image: balanced", str(tenth_counts.tolist()))

# %% [markdown]
# ## 2 · Training, validation and test images
#
# A model is chosen (which epoch to keep, which setting is better) on images it was not trained
# on — but if those are the test images, the test accuracy is no longer an unbiased estimate:
# picking the best of 50 epochs on the test set, as sources 000 and 001 do, reports the maximum
# of 50 noisy measurements. The course therefore holds out a **validation split**: `val_size`
# images taken class-balanced out of the training set, always the same ones (the split's seed is
# fixed, not the run's). Learning curves and `best.pt` use it; the test split is evaluated once,
# after the last epoch, and that final-epoch test accuracy is the number every table reports.
#
# The normalisation statistics are recomputed on the training images that remain (45,000 after
# a hold-out of 5,000), so nothing of the validation images leaks into the inputs. The `quick`
# profile then trains on a class-balanced subset of 16,000 of those 45,000, which keeps a run on
# a CPU to minutes; the subset keeps the statistics of the 45,000. `gpu` and `paper` train on all
# of them.

# %%
course = load_course_data(P)
print(course)
rows = [("train", course.train_labels), ("val", course.val_labels), ("test", course.test_labels)]
for split, labels in rows:
    counts = torch.bincount(labels, minlength=course.num_classes).tolist()
    print(f"{split:5s} {len(labels):6,d} images, per class {min(counts)}-{max(counts)}")
train_ids = {bytes(x.numpy()) for x in course.train_images[:, :, ::8, ::8]}
overlap = sum(bytes(x.numpy()) in train_ids for x in course.val_images[:, :, ::8, ::8])
print(f"validation images also in the training split: {overlap}")
balanced = all(len(set(torch.bincount(labels).tolist())) == 1 for _, labels in rows)
display(Markdown(
    f"Every split is {'class-balanced (the same count for every class)' if balanced else 'NOT balanced'}, "
    f"and {'no' if overlap == 0 else overlap} validation image{'s are' if overlap != 1 else ' is'} "
    f"also in the training split (compared by a 4 × 4 grid of pixels per image)."
))

# %% [markdown]
# ## 3 · Augmentation on whole batches
#
# The training augmentation of sources 000 and 001, per image: a random resized crop keeping
# 60-100 % of the area (aspect 3/4-4/3) scaled to the target size, a horizontal flip with
# probability 0.5, a rotation within ±20°, and colour jitter of ±20 % in brightness, contrast and
# saturation. (Source 002 uses the same steps with Paddle's default crop of 8-100 % of the area,
# straight from the 32 px image; sources 003 and 004 do not augment.)
#
# Sources 000 and 001 first resize the 32 px image to 230 px (130 px for 128 px training) and then
# crop; `BatchAugment` crops from the 32 px image and scales the crop straight to the target size,
# which is the same geometry with one interpolation instead of two. Their pipelines (and source
# 002's) also list PaddleX's `MixupImage`, a transform written for detection that mixes in a
# second sample only when the data pipeline hands it one; inside a per-image classification
# `Compose` it gets a single image, so, as far as we can tell from their code, it does not mix
# anything. The course uses no Mixup.
#
# The source notebooks run their augmentation the usual way: one image at a time, in DataLoader
# workers. `BatchAugment` does the same to a whole batch of uint8 tensors on the training device.
# Crop, flip and rotation are all affine maps of the pixel grid, so for each image they fold into
# one $2\times3$ matrix $\theta$: an output point $p$ (in $[-1,1]$ coordinates) samples the input at
# $$ q = c + \begin{pmatrix} f\,w & 0 \\ 0 & h \end{pmatrix} R(-\alpha)\, p, $$
# with crop half-sizes $w, h$, crop centre $c$, flip sign $f=\pm1$ and angle $\alpha$. One
# `affine_grid` + `grid_sample` call then resamples the whole batch, each image with its own
# $\theta$. Below: one training image, augmented eight times.

# %%
augment = BatchAugment(P.image_size, data.mean, data.std)
generator = torch.Generator().manual_seed(seed)
image = data.train_images[7:8]
batch = augment(image.repeat(8, 1, 1, 1), generator)
mean = torch.tensor(data.mean).view(3, 1, 1)
std = torch.tensor(data.std).view(3, 1, 1)

fig, axes = plt.subplots(1, 9, figsize=(11, 1.6))
axes[0].imshow(to_numpy_image(image[0]))
axes[0].set_title(f"original {tuple(image.shape[-2:])}", fontsize=8)
for ax, x in zip(axes[1:], batch):
    ax.imshow(to_numpy_image(x * std + mean))
    ax.set_title(f"{P.image_size} px", fontsize=8)
for ax in axes:
    ax.axis("off")
plt.show()
print("augmented batch:", tuple(batch.shape), batch.dtype)

# %% [markdown]
# The eight samples are the same image cropped to different parts and scales, some mirrored,
# tilted by up to 20° (the black corners are the area the rotation brings in from outside the
# image) and with shifted brightness and colour. The network never sees the same pixels twice.
#
# This changes what the learning curves of the later chapters mean. The training accuracy of an
# epoch is measured on these augmented batches, averaged over the whole epoch while the weights
# are still improving, and (in AlexNet) with dropout active; the validation accuracy is measured
# on clean images at the epoch's end, with dropout off. All three can lower the training number;
# no run here separates them. What the committed runs show:

# %% tags=["reading"]
from IPython.display import Markdown, display

from course_lib import claims
from course_lib.experiments.reference import committed

ref = committed("quick", {"AlexNet": "alexnet-none"})
gaps_per_epoch = [[(t - v) * 100 for t, v in zip(r["train_accuracy_per_epoch"], r["val_accuracy_per_epoch"])]
                  for r in ref.rows["AlexNet"].values()]
first_gap = [g[0] for g in gaps_per_epoch]
later_gap = [x for g in gaps_per_epoch for x in g[1:]]
below = sum(x < 0 for g in gaps_per_epoch for x in g)
n_points = sum(len(g) for g in gaps_per_epoch)
display(Markdown(
    f"**Reading** — {ref.provenance()}. In plain AlexNet's runs the training accuracy is below the "
    f"validation accuracy in {below} of {n_points} epochs (every epoch of every seed): by "
    f"{-max(first_gap):.1f} to {-min(first_gap):.1f} points after the first epoch and by "
    f"{-max(later_gap):.1f} to {-min(later_gap):.1f} after the later ones. So in these chapters a training curve under the validation curve is "
    "not a sign of a problem; which of the three causes weighs most, these runs do not say "
    "(exercise 5 removes one)."
))

# %% tags=["remove-cell", "reading-check"]
with claims.guard("chapter 00: training below validation") as claim:
    claim.that(below == n_points, "training below validation in every epoch of every seed", f"{below}/{n_points}")
    claim.that(min(first_gap) < min(later_gap), "the widest gap after the first epoch",
               f"{min(first_gap):.1f} vs {min(later_gap):.1f}")

# %% [markdown]
# Evaluation does none of this: it resizes to the target size and normalises. A check that the
# normalisation does what the formula says: after `EvalTransform`, the training images have
# channel means near 0 and standard deviations near 1.

# %%
# NBVAL_CHECK_OUTPUT
x = EvalTransform(32, data.mean, data.std)(data.train_images)  # all 50,000, every class
print("means:", [round(v, 2) + 0.0 for v in x.mean(dim=(0, 2, 3)).tolist()])
print("stds: ", [round(v, 2) for v in x.std(dim=(0, 2, 3)).tolist()])

# %% [markdown]
# ## 4 · The training recipe
#
# Every chapter trains with one recipe (`course_lib.train.TrainConfig`), the one sources 000-002
# share: Adam with learning rate $10^{-3}$ (source 001: $5\cdot10^{-4}$, which chapter 03 uses in
# the `paper` profile) and weight decay $10^{-5}$, batch 128, a cosine learning-rate schedule
# stepped after every batch, cross-entropy with label smoothing 0.1, random seed 42. Sources
# 000-002 train seed 42 alone; the course trains more seeds (42-49 in `quick`) for a mean and a
# spread, and shows seed 42's curves. The profile sets the image size, the epochs and the data.
# Only source 003's own experiment (EPSANet-50 against ResNet-50, in `paper` alone) keeps that
# notebook's recipe: batch 64, plain cross-entropy, no augmentation.
#
# ### Label smoothing
#
# With $K$ classes and true class $y$, plain cross-entropy trains towards the one-hot target. Label
# smoothing with strength $\varepsilon$ replaces it by
# $$ q_k = (1-\varepsilon)\,\mathbb 1[k=y] + \frac{\varepsilon}{K}, $$
# so the loss for predicted probabilities $p$ becomes
# $$ \mathcal L = -\sum_k q_k \log p_k = (1-\varepsilon)\,(-\log p_y) + \varepsilon\cdot
# \frac1K\sum_k(-\log p_k). $$
# The second term punishes a distribution that puts almost nothing on the other classes, so the
# logits cannot grow without bound. `nn.CrossEntropyLoss(label_smoothing=0.1)` implements exactly
# this; we check it against the formula:

# %%
# NBVAL_CHECK_OUTPUT
eps, K = 0.1, 10
g = torch.Generator().manual_seed(0)
logits = torch.randn(6, K, generator=g)
target = torch.randint(0, K, (6,), generator=g)
log_p = logits.log_softmax(dim=1)
by_formula = ((1 - eps) * -log_p.gather(1, target[:, None]).squeeze(1) + eps * -log_p.mean(dim=1)).mean()
by_torch = torch.nn.CrossEntropyLoss(label_smoothing=eps)(logits, target)
print(f"formula {by_formula:.6f}   torch {by_torch:.6f}   equal: {torch.allclose(by_formula, by_torch)}")

# %% [markdown]
# The loss is smallest when $p = q$. With $\varepsilon = 0.1$ and $K = 10$ the best prediction
# puts $1-\varepsilon+\varepsilon/K = 0.91$ on the true class and $0.01$ on each other one, i.e. a
# logit gap of $\log(0.91/0.01) \approx 4.51$, instead of the infinite gap plain cross-entropy asks
# for.

# %%
fig, axes = plt.subplots(1, 2, figsize=(8, 2.4), sharey=True)
y = 3
onehot = torch.nn.functional.one_hot(torch.tensor(y), K).float()
smoothed = (1 - eps) * onehot + eps / K
for ax, q, title in [(axes[0], onehot, "one-hot target"), (axes[1], smoothed, f"smoothed, ε = {eps}")]:
    ax.bar(range(K), q)
    ax.set_xticks(range(K), data.classes, rotation=60, fontsize=7)
    ax.set_title(title)
axes[0].set_ylabel("target probability")
fig.tight_layout()
plt.show()
print(f"best logit gap with smoothing: log(0.91/0.01) = {torch.log(torch.tensor(0.91 / 0.01)):.2f}")

# %% [markdown]
# Left, what plain cross-entropy asks for: all mass on class 3. Right, the smoothed target: 0.91
# on class 3 and 0.01 on each other class. A consequence the later chapters show: with label
# smoothing even a perfect classifier has a loss well above zero (its minimum here is the entropy
# of the smoothed target, about 0.50), so the loss curves level off far from 0.

# %% [markdown]
# ### The cosine schedule
#
# Over $T$ steps the learning rate falls from $\eta_0$ to $\eta_{\min} = 0$ along half a cosine,
# $$ \eta_t = \eta_{\min} + \tfrac12(\eta_0 - \eta_{\min})\left(1 + \cos\frac{\pi t}{T}\right), $$
# stepped after every batch (not every epoch), so the decay is smooth. `fit` uses
# `torch.optim.lr_scheduler.CosineAnnealingLR(T_max = steps per epoch × schedule epochs)`. The
# schedule's length is a profile setting of its own, `schedule_epochs`: unset, it equals the
# epochs trained and a run ends at a rate near 0; longer, a run trains only the first part of
# the schedule. The plot follows the scheduler for this profile (the part a run trains solid)
# and the check compares it with the formula.

# %%
epochs = P.epochs  # the epochs a run trains
schedule_epochs = P.schedule_epochs or P.epochs  # the epochs the cosine spans
steps_per_epoch = len(course.train_labels) // P.batch_size
T = schedule_epochs * steps_per_epoch  # T_max
trained = epochs * steps_per_epoch  # the steps a run takes


def plural(n: int) -> str:
    return f"{n} epoch" + ("s" if n != 1 else "")


opt = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=P.lr)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=T)
lrs = []
for _ in range(T):
    lrs.append(sched.get_last_lr()[0])
    opt.step()
    sched.step()
formula = [P.lr * 0.5 * (1 + torch.cos(torch.tensor(torch.pi * t / T)).item()) for t in range(T)]
largest = max(abs(a - b) for a, b in zip(lrs, formula))
print(f"T_max = {T:,} steps ({plural(schedule_epochs)} × {steps_per_epoch}), {trained:,} of them "
      f"trained; largest difference from the formula: {largest:.1e}")

fig, ax = plt.subplots(figsize=(6, 2.4))
ax.plot(range(trained), lrs[:trained], label=f"trained ({plural(epochs)})")
if trained < T:
    ax.plot(range(trained, T), lrs[trained:], color="grey", ls="--",
            label="rest of the schedule, not trained")
    ax.legend(fontsize=8)
for e in range(1, epochs):
    ax.axvline(e * steps_per_epoch, color="grey", lw=0.5, ls=":")
ax.set(xlabel="step", ylabel="learning rate",
       title=f"cosine schedule over {plural(schedule_epochs)} × {steps_per_epoch} steps")
fig.tight_layout()
plt.show()
last_epoch = lrs[(epochs - 1) * steps_per_epoch] / P.lr
if trained < T:
    text = (
        f"In this profile a run trains the first {epochs} of the schedule's {schedule_epochs} "
        f"epochs ({trained:,} of {T:,} steps): the rate falls only from {P.lr:g} to "
        f"{lrs[trained - 1] / P.lr:.2f} × {P.lr:g}, and the dashed rest of the schedule is never "
        f"trained. The run stops while the learning rate is still high: it never gets the low-rate "
        f"end that settles the weights, and its accuracies are those of an early stage of a long "
        f"training, not of a finished short one. That is on purpose: with a whole schedule "
        f"squeezed into a few epochs, a first pilot found no difference between Triplet Attention "
        f"and plain AlexNet; with the rate still high, Triplet Attention's lead appears after a "
        f"few epochs (the pilot: docs/lab_notebook.md)."
    )
else:
    text = (
        f"In this profile the rate falls over {T:,} steps ({plural(epochs)} of "
        f"{steps_per_epoch} batches) from {P.lr:g} to 0; "
        f"halfway it stands at {lrs[T // 2] / P.lr:.2f} of its start. A run completes its own "
        f"schedule, however short"
        + (f": its last epoch trains with rates below {last_epoch:.2f} of the start, as the last "
           f"epochs of a 50-epoch run do." if epochs > 1 else ".")
    )
display(Markdown(text))

# %% [markdown]
# ## Summary
#
# - CIFAR-10 is balanced (10 % is chance); its pixel statistics differ from ImageNet's, most in
#   blue, so the course normalises with the training images' own.
# - Three splits: train (in `quick` a balanced 16,000 images), a fixed validation hold-out of
#   5,000 for curves and model selection, and the 10,000 test images, read once at the end.
# - Augmentation runs on whole batches. With the epoch's averaging and AlexNet's dropout, it is one
#   of three things that keep the training accuracy below the validation accuracy in every epoch
#   of the committed AlexNet runs; which weighs most is not measured.
# - The recipe: Adam 1e-3, weight decay 1e-5, label smoothing 0.1 (loss floor ≈ 0.5), cosine
#   schedule per step, batch 128 — the recipe of sources 000-002, without their Mixup (which
#   likely did nothing). In `quick` an AlexNet run trains the first 6 epochs of a 50-epoch
#   schedule and stops with the learning rate still high; in `gpu` a run completes its own
#   8-epoch schedule.

# %% [markdown]
# ## Exercises
#
# 1. Set `COURSE_PROFILE=gpu` (this chapter trains nothing, so a CPU will do) and re-run: what
#    changes in the schedule plot and in the sentence below it, and why? Then try `smoke`.
# 2. Change `BatchAugment(..., degrees=45)` and look at the eight samples again. Which classes
#    could a strong rotation hurt?
# 3. Derive the logit gap that minimises the smoothed loss for general $\varepsilon$ and $K$.
#    What happens as $\varepsilon \to 0$?
# 4. Compute the normalisation statistics from the test set instead. How far are they from the
#    training set's, and why must the training set's be used anyway?
# 5. Separate the causes of section 3's gap: train AlexNet for two epochs without augmentation
#    (`fit(..., TrainConfig.from_profile(P, epochs=2, augment=False))`, chapter 01's code) and
#    compare its training and validation accuracy with the committed runs'. How much of the gap
#    is left?
