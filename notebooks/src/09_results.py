# %% [markdown]
# # 09 · Results: one leaderboard whose verdicts hold
#
# Every chapter wrote one results file per finished run to `results/<profile>/`. This chapter
# reads them all and builds one leaderboard, **one section per configuration** (profile, image
# size, epochs, data, batch, learning rate, precision): runs are never compared across
# configurations. Inside a section every variant is compared with the baseline trained the same
# way, **paired by seed** (the same seed means the same data order and augmentation draws), with
# the 95 % interval of the *difference* and a paired t-test. **Verdicts come from one family**:
# the course's claims are listed, before the seeds that decide them were trained, in
# `results/hypotheses.toml`; Holm's correction runs over all of them, and a comparison is called
# *significant* only there, on its confirmatory seeds (50-57). Seeds 42-49 chose the `quick`
# profile, so on them every comparison is *exploratory*: an interval, never a verdict; so is any
# comparison the family does not list. The source notebooks' own numbers stand beside ours with
# the setting they were measured in. Every sentence that quotes a number is generated from the
# numbers.
#
# Only the recipes a profile trains today enter its tables. Runs of a recipe the course has
# replaced (an earlier `quick` profile, chapters 05-07's earlier settings) are **superseded**:
# they are moved to `results/archive/`, which this chapter never reads (a chapter whose reading
# quotes one, like chapter 04, asks for it there by name; a superseded row found in
# `results/<profile>/` would be set aside here). The archive page (`results/archive/README.md`)
# lists all of them, labelled as superseded and never called significant, with what replaced
# each recipe and why.

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

P = get_profile()  # COURSE_PROFILE, else quick (on a GPU too)
profile = P.name
image_size = P.image_size
epochs = P.epochs
batch_size = P.batch_size
lr = P.lr
seed = P.seed  # the run whose curves, predictions and CAMs are shown
seeds = list(P.seeds)  # every seed trained; [seed] alone is faster, but shows no spread
baseline = "alexnet-none"
other_profiles = ["paper"]  # sections shown beside this profile's when their results exist

# %%
from course_lib import chapter

P = chapter.start(profile, image_size=image_size, epochs=epochs, batch_size=batch_size, lr=lr,
                  seed=seed, seeds=seeds)

# %%
import math

import matplotlib.pyplot as plt
from IPython.display import Image, Markdown, display

from course_lib.experiments.leaderboard import (
    Leaderboard,
    build_leaderboard,
    format_markdown,
    plot_leaderboard,
    plot_tradeoffs,
    section_provenance,
)
from course_lib.experiments.results import SOURCE_REPORTED
from course_lib.runtime.paths import figures_dir, results_dir
from course_lib.experiments.stats import MIN_PAIRS, format_p
from course_lib.profiles import get_profile

print(f"results from {results_dir()}")

# %% [markdown]
# ## 1 · The tables
#
# Per section: test accuracy as mean ± standard deviation over seeds with the 95 % t-interval of
# the mean. Each variant is compared with its own baseline, named under **compared with**: plain
# AlexNet for the AlexNet modules of chapters 01-04, the BatchNorm control for AlexNet-PSA, the
# unmodified network for PSA and self-attention, the CIFAR ResNet for MogaNet-XT and the full
# shallow MogaNet for its ablations (`course_lib.experiments.leaderboard.BASELINES`). **difference** is the
# seed-paired difference with *its* interval (the interval that decides, not the two variants'
# own intervals); p from the paired t-test and, in brackets, Holm-corrected over the course's
# whole family (`results/hypotheses.toml`) on the same kind of seeds, for the comparisons the
# family lists; the verdict is the family's: *significant* or *not significant* on the
# confirmatory seeds, *pending* until all of them are trained, *exploratory* on the seeds that
# chose the profile and for every comparison the family does not list. The detectable difference
# is at the family's two fixed levels, α = 0.05 and its strictest Holm level α/k.

# %%
# this profile's current recipes only: superseded runs are set aside (board.superseded)
boards = {P.name: build_leaderboard(results_dir(), profile=P.name, baseline=baseline,
                                    current_only=True)}
for other in other_profiles:
    if other != P.name and (results_dir() / other).is_dir():
        boards[other] = build_leaderboard(results_dir(), profile=other, baseline=baseline)
for name, board in boards.items():
    display(Markdown(f"### Profile `{name}`: {len(board.sections)} configuration(s)"))
    if not board.sections:
        display(Markdown(f"No results for profile `{name}` under `{results_dir() / name}` yet: "
                         "run the chapters (or `python -m course_lib train ...`) first."))
    else:
        display(Markdown(format_markdown(board)))
        display(Markdown("\n".join(f"- {section_provenance(s)}" for s in board.sections)))
    if board.superseded:
        left_out = "; ".join(
            f"{s.config['image_size']} px, {s.config['epochs']} epochs, "
            f"{s.config['train_images']:,} training images "
            f"({', '.join(e.name for e in s.entries)}; {sum(e.n for e in s.entries)} runs)"
            for s in board.superseded)
        display(Markdown(f"Not in these tables: runs in `results/{name}/` at settings this "
                         "profile does not train today (superseded recipes, listed with the "
                         "archived ones on the archive page, `results/archive/README.md`, or runs "
                         f"at settings of their own): {left_out}."))
    for note in board.notes():
        print(note)

# %% [markdown]
# ## 1b · The course's claims: one family, explored on seeds 42-49, decided on seeds 50-57
#
# Each row is one comparison of `results/hypotheses.toml`, judged twice: on the exploratory seeds
# (the pilot that chose the profile; its Holm p is shown, its verdict is only "exploratory") and
# on the confirmatory seeds (the verdict). *Test set alone* is the 95 % half-width of one model's
# accuracy on the 10,000 test images (binomial): a detectable difference below it comes from the
# seeds' agreement, not from the test set's resolution. *Trained on* names the precision and CPU
# kind: the confirmatory seeds may come from another CPU than the exploratory ones (an AVX2 CPU
# trains `quick` in fp32, an AVX512-BF16 one in bf16), so their confirmation also tests that
# change.

# %%
from course_lib.experiments.hypotheses import format_family, judge_family, load_family

family = load_family()
print(f"results/hypotheses.toml: k = {family.k} comparisons, Holm at α = {family.alpha} over all "
      f"of them; strictest level α/k = {family.strictest_level:.4f}")
verdicts = {which: judge_family(family, which) for which in ("exploratory", "confirmatory")}
for which, found in verdicts.items():
    display(Markdown(f"**{which} seeds {', '.join(map(str, family.seeds(which)))}**\n\n"
                     + format_family(found)))

# %% tags=["reading"]
from IPython.display import Markdown, display

from course_lib import claims
from course_lib.experiments.hypotheses import judge_family, load_family
from course_lib.experiments.reference import committed
from course_lib.experiments.stats import format_p
from course_lib.profiles import get_profile

family = load_family()
started = [v for v in judge_family(family, "confirmatory") if v.n_pairs >= 2]
also_decided = [v for v in started if v.complete
                and (v.hypothesis.variant, v.hypothesis.baseline) != ("alexnet-triplet", "alexnet-none")]
TA = {"AlexNet-TA": "alexnet-triplet", "AlexNet": "alexnet-none"}
ta = {}
for which in ("exploratory", "confirmatory"):
    ref_ = committed(get_profile("quick", seeds=family.seeds(which)), TA)
    ta[which] = (ref_, ref_.differences([("AlexNet-TA", "AlexNet")], family=True)["AlexNet-TA − AlexNet"])
(ref_e, e), (ref_c, c) = ta["exploratory"], ta["confirmatory"]


def rows_kind(ref_) -> str:
    first = next(iter(ref_.rows["AlexNet"].values()))
    return f"{first.get('precision')}, {first.get('cpu_isa') or 'an AVX512-BF16 CPU'}"


display(Markdown(
    f"**Reading** — what the confirmatory seeds have said so far. Of the family's {family.k} "
    f"comparisons, {len(started)} {'has' if len(started) == 1 else 'have'} confirmatory runs: "
    + ", ".join(f"{v.hypothesis.variant} − {v.hypothesis.baseline}" for v in started)
    + f". Triplet Attention − AlexNet, explored on seeds {min(ref_e.profile.seeds)}-"
    f"{max(ref_e.profile.seeds)} ({rows_kind(ref_e)}): {e.diff * 100:+.2f} points "
    f"[{e.low * 100:+.2f}, {e.high * 100:+.2f}]; on the confirmatory seeds "
    f"{', '.join(map(str, sorted(ref_c.rows['AlexNet'])))} ({rows_kind(ref_c)}, {c.n_pairs} pairs): "
    f"{c.diff * 100:+.2f} points [{c.low * 100:+.2f}, {c.high * 100:+.2f}]. The lead replicated: "
    "both intervals lie above 0 and each estimate lies inside the other's interval, on another "
    "CPU kind and precision than the pilot's, so the confirmation covers that change too. The "
    f"family's verdict: **{c.verdict()}**"
    + (f" (Holm over all {family.k} comparisons: p = {format_p(c.p_holm)})" if c.verdict() in
       ("significant", "not significant") else "")
    + ". "
    + ("Also decided on the confirmatory seeds: " + "; ".join(
        f"{v.hypothesis.variant} − {v.hypothesis.baseline} {v.diff * 100:+.2f} points "
        f"[{v.low * 100:+.2f}, {v.high * 100:+.2f}], **{v.verdict}** (Holm p = {format_p(v.p_holm)}; "
        f"chapter {v.hypothesis.chapter})" for v in also_decided) + ". "
       if also_decided else "")
    + "Every other comparison of the tables above is exploratory or pending until its "
    "confirmatory seeds are trained."
))

# %% tags=["remove-cell", "reading-check"]
with claims.guard("chapter 09: what replicated") as claim:
    claim.that(e.low > 0 and c.low > 0, "both intervals above 0", f"{e.low:+.4f}, {c.low:+.4f}")
    claim.that(c.low <= e.diff <= c.high and e.low <= c.diff <= e.high,
               "each estimate inside the other's interval", f"{e.diff:+.4f}, {c.diff:+.4f}")

# %% [markdown]
# ## 2 · What the source notebooks reported, in their setting
#
# `course_lib.experiments.results.SOURCE_REPORTED`, printed as stored. They were trained on the official
# CIFAR-10 files for 50 epochs and report the best epoch *on the test set*, one run each: only a
# `paper` section at the same image size is comparable, and even then a single run has no
# spread.

# %%
rows = ["| variant | accuracy | params | setting |", "|---|---|---|---|"]
for name, reports in SOURCE_REPORTED.items():
    rows += [f"| {name} | {r['accuracy'] * 100:.3f} % | {r['params']:,} | {r['setting']} |"
             for r in reports]
display(Markdown("\n".join(rows)))
claims = []
for variant, reports in SOURCE_REPORTED.items():
    if variant == baseline:
        continue
    for r in reports:
        base = [b for b in SOURCE_REPORTED.get(baseline, []) if b["image_size"] == r["image_size"]]
        if base:
            claims.append(f"{variant} {(r['accuracy'] - base[0]['accuracy']) * 100:+.2f} points "
                          f"over {baseline} at {r['image_size']} px ({r['setting'].split(':')[0]}, "
                          "one run each: no interval, no test)")
display(Markdown("The source notebooks' claims as differences: " + "; ".join(claims) + "."))

# %% [markdown]
# ## 3 · Figures
#
# For each section: left, every seed's accuracy (grey points, also for single runs) with the mean
# and its 95 % interval on an axis from chance (10 %) to 100 %, so that small gaps look small;
# right, each variant minus the baseline paired by seed, with its interval and the zero line —
# the panel where a difference is judged. Below: accuracy against parameters and training
# throughput. The first section of this run's profile is written to
# `figures/leaderboard-<profile>.png` and `figures/leaderboard-<profile>-cost.png` (the other
# profiles' figures are drawn here but kept as their own runs wrote them); sections of reduced
# runs only are not drawn.

# %%
figures_dir().mkdir(parents=True, exist_ok=True)
written = []
for name, board in boards.items():
    for i, section in enumerate(board.sections):
        if all(e.reduced for e in section.entries):
            continue  # reduced CPU runs only: listed in the table, not drawn
        # the first (largest) section of this profile is written for the README
        keep = i == 0 and name == P.name
        path = figures_dir() / f"leaderboard-{name}.png" if keep else None
        plot_leaderboard(section, path)
        plt.show()
        cost = figures_dir() / f"leaderboard-{name}-cost.png" if keep else None
        plot_tradeoffs(section, cost)
        plt.show()
        written += [p.name for p in (path, cost) if p is not None]
main = boards[P.name]
table_path = results_dir() / f"leaderboard-{P.name}.md"
table_path.parent.mkdir(parents=True, exist_ok=True)
table_path.write_text(format_markdown(main) + "\n\n<!-- notes -->\n" + "\n".join(main.notes()) + "\n")
print(f"wrote {table_path.name} (the README's leaderboard is checked against it) and "
      f"{', '.join(written) or 'no figure (no results)'} under figures/")

# %% [markdown]
# ## 4 · What the numbers say
#
# Generated from the sections above: which modules helped and by how much (the paired interval),
# at what cost in training throughput, and how sure we are.

# %%
def section_paragraph(section):
    by_name = {e.name: e for e in section.entries}
    compared = [e for e in section.entries if e.vs_baseline is not None and not e.reduced]
    c = section.config
    head = f"**{c['profile']}, {c['image_size']} px, {c['epochs']} epochs, {c['train_images']:,} training images**: "
    if not compared:
        return head + "no variant here has its baseline beside it, so nothing is compared."
    bases = list(dict.fromkeys(e.vs_baseline.baseline for e in compared))
    reached = []
    for name in bases:
        s = by_name[name].summary
        ci = "" if s.n < 2 else f" (95 % CI {s.low * 100:.2f}-{s.high * 100:.2f})"
        reached.append(f"{name} reaches {s.mean * 100:.2f} % over {s.n} seed(s){ci}")
    text = head + "; ".join(reached) + ". "
    parts, significant, untestable = [], [], []
    for e in compared:
        d, base = e.vs_baseline, by_name[e.vs_baseline.baseline]
        cost = (e.train_images_per_s / base.train_images_per_s - 1) * 100 \
            if base.train_images_per_s else math.nan
        interval = "" if math.isnan(d.low) else \
            f", 95 % CI [{d.low * 100:+.2f}, {d.high * 100:+.2f}]"
        parts.append(f"{e.name} − {d.baseline} {d.diff * 100:+.2f} points{interval} ({d.verdict()}; "
                     f"training throughput as recorded {cost:+.0f} %, "
                     f"{e.params - base.params:+,} parameters)")
        (significant if d.significant else untestable if d.n_pairs < MIN_PAIRS else []).append(e)
    text += "Compared: " + "; ".join(parts) + ". "
    helped = [e for e in significant if e.vs_baseline.diff > 0]
    hurt = [e for e in significant if e.vs_baseline.diff < 0]
    if helped:
        text += ("Significantly better than its baseline (the family's verdict on its "
                 "confirmatory seeds): " + ", ".join(
                     f"{e.name} (p(Holm) = {format_p(e.vs_baseline.p_holm)})" for e in helped)
                 + ". ")
    if hurt:
        text += "Significantly worse: " + ", ".join(e.name for e in hurt) + ". "
    if not significant:
        text += ("No difference in this configuration is significant in the course's family (its seeds "
                 "are exploratory, or its confirmation is pending). ")
    if untestable:
        text += (f"{len(untestable)} variant(s) have fewer than {MIN_PAIRS} seed pairs with their "
                 "baseline, so their differences are estimates only: more seeds would decide.")
    return text


paragraphs = [section_paragraph(s) for board in boards.values() for s in board.sections]
if paragraphs:
    paragraphs.append(
        "Throughputs are as the runs recorded them while training; runs that shared the machine "
        "(as several runs of the `quick` profile did) are slower than "
        "`python -m course_lib bench` measures under control (docs/performance.md)."
    )
display(Markdown("\n\n".join(paragraphs) if paragraphs else
                 f"No results yet for profile {P.name}: there is nothing to conclude."))

# %% [markdown]
# ## The run that is not in the table
#
# The tables hold finished runs only. The `paper` profile has one more: AlexNet-TA at 224 px,
# seed 42, stopped by the first GPU lease's time limit at epoch 21 of 50 (docs/gpu.md, "The `paper`
# profile on a GPU"). Its learning curves, beside the two plain AlexNet runs of the same setting,
# are the figure below; its per-epoch files were not kept from that lease, so none of its numbers
# enters a table, a reading or a test here. Read it as one run of one seed that stopped early: a
# picture, not a result.

# %%
stopped = figures_dir() / "gpu-h100-2026-11-26-224px.png"
if stopped.exists():
    display(Image(filename=str(stopped)))

# %% [markdown]
# ## Summary

# %%
def measures(name: str) -> str:
    """What a profile's runs can answer, from its own settings."""
    p = get_profile(name)
    images = f"{p.train_subset:,}" if p.train_subset else "all"
    schedule = (f"the first {p.epochs} epochs of a {p.schedule_epochs}-epoch schedule"
                if p.schedule_epochs else f"a whole {p.epochs}-epoch schedule")
    return (f"`{name}` (chapters 01-04: {p.image_size} px, {images} training images, {schedule}; "
            "chapters 05-07 at settings of their own, named in their sections) measures "
            + ("how far a network gets in its first minutes of training"
               if p.epochs < 20 else "the source notebooks' regime of long training"))


significant = [(b_name, s, e) for b_name, b in boards.items() for s in b.sections
               for e in s.entries if e.vs_baseline is not None and e.vs_baseline.significant]
n_sections = sum(len(b.sections) for b in boards.values())
n_runs = sum(e.n for b in boards.values() for e in b.entries)
lines = [f"- {n_runs} runs in {n_sections} configuration(s): "
         + ", ".join(f"{k}: {len(b.sections)}" for k, b in boards.items()) + "."]
confirmed = [v for v in verdicts["confirmatory"] if v.complete]
pending = [v for v in verdicts["confirmatory"] if not v.complete]
lines.append(
    f"- The course's family ({family.k} comparisons): {len(confirmed)} decided on the "
    f"confirmatory seeds ({sum(v.verdict == 'significant' for v in confirmed)} significant), "
    f"{len(pending)} pending until their seeds 50-57 are trained"
    + (" (" + "; ".join(f"{v.hypothesis.variant} − {v.hypothesis.baseline}: {v.n_pairs} of "
                        f"{v.n_planned}" for v in pending if v.n_pairs) + ")"
       if any(v.n_pairs for v in pending) else "")
    + ". Everything on seeds 42-49 is exploratory: those seeds chose the profile.")
if significant:
    lines.append("- Significant in the family, on its confirmatory seeds: " + "; ".join(
        f"{e.name} − {e.vs_baseline.baseline} {e.vs_baseline.diff * 100:+.2f} points "
        f"(p(Holm) = {format_p(e.vs_baseline.p_holm)}; {s.config['profile']}, "
        f"{s.config['image_size']} px, {s.config['epochs']} epochs, {s.config['train_images']:,} "
        "training images)" for _, s, e in significant) + ".")
else:
    detectable = [e.vs_baseline.detectable for b in boards.values() for e in b.entries
                  if e.vs_baseline is not None and e.vs_baseline.detectable == e.vs_baseline.detectable]
    lines.append("- No difference from a baseline is significant yet in the family"
                 + (f"; these designs could only have detected differences of "
                    f"{min(detectable) * 100:.1f} to {max(detectable) * 100:.1f} points "
                    "(80 % power), so smaller effects may be there unseen." if detectable else "."))
lines += [f"- {measures(name)}." for name in boards]
lines.append(f"- The table of profile {P.name} is in `results/{table_path.name}`; the figures "
             "are in `figures/`. The source notebooks' single-run numbers stand beside ours with "
             "their setting, not as a comparison.")
display(Markdown("\n".join(lines)))

# %% [markdown]
# ## Exercises
#
# 1. Pick the comparison with the largest detectable difference in the table above and train
#    two more seeds of both its variants, seeds no profile has used yet
#    (`python -m course_lib train --attention ... --seed 50`, then `--seed 51`). Rebuild the table: how much does the detectable difference shrink, and
#    does the verdict change?
# 2. Which variant gives the most accuracy per extra parameter? Per lost image/s of the bench?
# 3. Copy a results file under another name and rebuild: how does the leaderboard treat the
#    duplicate?
