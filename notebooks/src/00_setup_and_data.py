# %% [markdown]
# # 00 · Set-up, CIFAR-10 and the training recipe
#
# This course takes six attention modules for CNNs, derives each one's math, builds it in the
# library `course_lib`, plugs it into the same AlexNet and trains it on CIFAR-10. Before any
# attention, this chapter checks the machine, looks at the data and takes apart the training
# recipe every chapter shares.
#
# **Profiles.** One switch scales the whole course: `smoke` (CI: a few hundred images, seconds),
# `quick` (a laptop CPU: 128 px as in seed 001, 16,000 training images, 5 epochs, 3 seeds) and
# `paper` (a GPU: the seeds' 224 px, all training images, 50 epochs). It is read from
# `COURSE_PROFILE`, else `paper` on a GPU and `quick` on a CPU. README's profile table gives the
# measured cost of each.

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

P = get_profile()  # COURSE_PROFILE, or automatic
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
# `COURSE_DATA`), torchvision's files in `data/`, an image-folder archive in `data/` or the
# course's offline copy `../shared/data/cifar10-jpeg.tar.gz`, and last a download when you allow
# it (`COURSE_DOWNLOAD=1`). The first load decodes every image once (about 15 s) and caches the
# uint8 tensors in `data/cache/`; later loads take about a second.
#
# The offline copy stores the official split re-encoded as JPEG (quality 75). Its pixel
# statistics are within 0.002 of the official files, but JPEG drops fine detail, so accuracies on
# it run a little below those on the official set. Every result in this course names its source.

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
# The seeds used ImageNet's statistics (0.485, 0.456, 0.406 / 0.229, 0.224, 0.225); CIFAR-10's
# own are a little different, most visibly in the blue channel.

# %%
imagenet = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
print("channel      mean (CIFAR-10 / ImageNet)    std (CIFAR-10 / ImageNet)")
for c, name in enumerate("RGB"):
    print(f"   {name}           {data.mean[c]:.4f} / {imagenet[0][c]:.3f}"
          f"             {data.std[c]:.4f} / {imagenet[1][c]:.3f}")

every_tenth = data.train_images[::10]  # 5,000 images from every class (the split is sorted)
fig, ax = plt.subplots(figsize=(6.5, 2.6))
for c, color in enumerate(["tab:red", "tab:green", "tab:blue"]):
    values = every_tenth[:, c].flatten().float()
    ax.hist(values.numpy(), bins=64, histtype="step", color=color, label="RGB"[c], density=True)
ax.set(xlabel="pixel value (0-255)", ylabel="density",
       title=f"pixel values of every 10th training image ({len(every_tenth):,} images)")
ax.legend()
fig.tight_layout()
plt.show()
gaps = [abs(data.mean[c] - imagenet[0][c]) for c in range(3)]
widest = "RGB"[max(range(3), key=gaps.__getitem__)]
counts = [torch.bincount(every_tenth[:, c].flatten().long(), minlength=256) for c in range(3)]
modes = [int(c[5:250].argmax()) + 5 for c in counts]  # the most common value away from the ends
clipped = [float((c[0] + c[255]) / c.sum()) for c in counts]
display(Markdown(
    f"Red and green values are most often near {modes[0]} and {modes[1]}, blue values near "
    f"{modes[2]}: the blue channel is the darkest. Against ImageNet's statistics the means differ "
    f"by {gaps[0]:.3f}, {gaps[1]:.3f} and {gaps[2]:.3f} (R, G, B), most in {widest}: with "
    f"ImageNet's values that channel's input would not be centred. The spikes at 0 and 255 are "
    f"clipped pixels (black borders, saturated sky and white objects): "
    f"{', '.join(f'{100 * v:.1f} %' for v in clipped)} of the R, G, B values. The training split "
    f"is stored sorted by class, so a histogram of its first 5,000 images would show airplanes "
    f"only; every tenth image takes 500 of each class."
))

# %% [markdown]
# ## 2 · Training, validation and test images
#
# A model is chosen (which epoch to keep, which setting is better) on images it was not trained
# on — but if those are the test images, the test accuracy is no longer an unbiased estimate:
# picking the best of 50 epochs on the test set, as the seeds do, reports the maximum of 50 noisy
# measurements. The course therefore holds out a **validation split**: `val_size` images taken
# class-balanced out of the training set, always the same ones (the split's seed is fixed, not
# the run's). Learning curves and `best.pt` use it; the test split is evaluated once, after the
# last epoch, and that final-epoch test accuracy is the number every table reports.
#
# The `quick` profile then trains on a class-balanced subset of what remains, so that five
# AlexNet variants × three seeds fit into about an hour of a 2-core CPU. The normalisation
# statistics are recomputed on the images that are trained on.

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
# The seeds' recipe, per image: a random resized crop keeping 60-100 % of the area (aspect
# 3/4-4/3) scaled to the target size, a horizontal flip with probability 0.5, a rotation within
# ±20°, and colour jitter of ±20 % in brightness, contrast and saturation.
#
# The seeds first resize the 32 px image to 230 px (130 px for 128 px training) and then crop;
# `BatchAugment` crops from the 32 px image and scales the crop straight to the target size,
# which is the same geometry with one interpolation instead of two. The seeds' pipelines also
# list PaddleX's `MixupImage`, a transform written for detection that mixes in a second sample
# only when the data pipeline hands it one; inside a per-image classification `Compose` it gets
# a single image, so, as far as we can tell from their code, it does not mix anything. The
# course uses no Mixup.
#
# The seeds run it the usual way: a PIL image at a time, in DataLoader workers. `BatchAugment`
# does the same to a whole batch of uint8 tensors on the training device. Crop, flip and rotation
# are all affine maps of the pixel grid, so for each image they fold into one $2\times3$ matrix
# $\theta$: an output point $p$ (in $[-1,1]$ coordinates) samples the input at
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
# image) and with shifted brightness and colour. The network never sees the same pixels twice,
# which is why, in the chapters that follow, the training accuracy measured on these augmented
# batches stays *below* the validation accuracy measured on clean images for the first epochs.

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
# Every chapter trains with the seeds' recipe (`course_lib.train.TrainConfig`): Adam with learning
# rate $10^{-3}$ and weight decay $10^{-5}$, batch 128, a cosine learning-rate schedule stepped
# after every batch, cross-entropy with label smoothing 0.1, seed 42.
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
# `torch.optim.lr_scheduler.CosineAnnealingLR(T_max = steps per epoch × epochs)`; the plot follows
# the scheduler for this profile and the check compares it with the formula.

# %%
epochs = P.epochs
steps_per_epoch = len(course.train_labels) // P.batch_size
T = epochs * steps_per_epoch
opt = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=P.lr)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=T)
lrs = []
for _ in range(T):
    lrs.append(sched.get_last_lr()[0])
    opt.step()
    sched.step()
formula = [P.lr * 0.5 * (1 + torch.cos(torch.tensor(torch.pi * t / T)).item()) for t in range(T)]
print(f"{T} steps; largest difference from the formula: {max(abs(a - b) for a, b in zip(lrs, formula)):.1e}")

fig, ax = plt.subplots(figsize=(6, 2.4))
ax.plot(lrs)
for e in range(1, epochs):
    ax.axvline(e * steps_per_epoch, color="grey", lw=0.5, ls=":")
ax.set(xlabel="step", ylabel="learning rate", title=f"cosine schedule, {epochs} epochs × {steps_per_epoch} steps")
fig.tight_layout()
plt.show()
half = lrs[T // 2] / P.lr
display(Markdown(
    f"In this profile the rate falls over {T} steps ({epochs} epochs of {steps_per_epoch} "
    f"batches) from {P.lr:g} to 0; halfway it stands at {half:.2f} of its start, and the last "
    f"epoch trains with rates below {lrs[(epochs - 1) * steps_per_epoch] / P.lr:.2f} of it. A short "
    f"profile compresses the whole schedule: a 5-epoch run spends its last epoch at small rates, "
    f"as a 50-epoch run spends its last ten."
))

# %% [markdown]
# ## Summary
#
# - CIFAR-10 is balanced (10 % is chance); its pixel statistics differ from ImageNet's, most in
#   blue, so the course normalises with the training images' own.
# - Three splits: train (in `quick` a balanced 16,000 images), a fixed validation hold-out of
#   5,000 for curves and model selection, and the 10,000 test images, read once at the end.
# - Augmentation runs on whole batches; it makes training accuracy an underestimate of what the
#   network knows in the early epochs.
# - The recipe: Adam 1e-3, weight decay 1e-5, label smoothing 0.1 (loss floor ≈ 0.5), cosine
#   schedule per step, batch 128 — the seeds', without their Mixup (which likely did nothing).

# %% [markdown]
# ## Exercises
#
# 1. Set `COURSE_PROFILE=smoke` and re-run: what changes in the schedule plot, and why?
# 2. Change `BatchAugment(..., degrees=45)` and look at the eight samples again. Which classes
#    could a strong rotation hurt?
# 3. Derive the logit gap that minimises the smoothed loss for general $\varepsilon$ and $K$.
#    What happens as $\varepsilon \to 0$?
# 4. Compute the normalisation statistics from the test set instead. How far are they from the
#    training set's, and why must the training set's be used anyway?
