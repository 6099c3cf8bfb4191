"""Chapter 05's AlexNets over seeds 45-49 as well (5 more pairs), interleaved so that a stop
leaves complete pairs: BN, PSA, shortcut for seed 45, then 46, ..."""

from course_lib.chapter import train_variant
from course_lib.data import load_course_data
from course_lib.profiles import experiment_settings, get_profile

P = experiment_settings(get_profile("quick"), "alexnet_psa")
data = load_course_data(P)
for seed in (45, 46, 47, 48, 49):
    for att in ("batchnorm", "psa", "psa_shortcut"):
        train_variant(data, P, attention=att, seeds=[seed], progress=False)
        print("done", att, seed, flush=True)
