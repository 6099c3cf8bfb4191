"""Generated prose quotes the numbers it is given, and the geometry helpers match known values."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from torch import nn

from course_lib.chapter import compare_variants
from course_lib.models import alexnet_receptive_fields
from course_lib.reading import (
    central_peak_chance,
    confusions,
    describe_cam_peaks,
    describe_comparison,
    describe_curves,
)


def _run(seed, accuracy, val_acc, train_acc, model=None, augment=True):
    history = SimpleNamespace(val_acc=val_acc, train_acc=train_acc, val_loss=[1.5, 1.2, 1.1])
    return SimpleNamespace(metrics={"seed": seed, "accuracy": accuracy, "test_images": 100},
                           history=history, model=model or nn.Sequential(),
                           recipe=lambda: {"augment": augment})  # fmt: skip


def test_alexnet_receptive_fields_are_the_published_ones():
    # the classic AlexNet receptive fields (conv1 11 ... pool5 195), independent of image size
    fields = [f for _, _, f, _ in alexnet_receptive_fields(224)]
    assert fields == [11, 19, 51, 67, 99, 131, 163, 195]
    assert [f for _, _, f, _ in alexnet_receptive_fields(128)] == fields
    assert [s for _, s, _, _ in alexnet_receptive_fields(128)] == [32, 15, 15, 7, 7, 7, 7, 3]


def test_a_corner_position_sees_less_of_the_image_than_the_centre():
    from course_lib.models import alexnet_field_span

    # conv5 at 128 px: a 163 px field that starts 69 px before its position (paddings 5, 2x8
    # and 3x(1x16)), positions 16 px apart; rows 126-127 reach no position (pool1's floor drops
    # conv1's last column, the only one that sees them)
    assert alexnet_field_span(128, "conv5", 0) == (0, 93)
    assert alexnet_field_span(128, "conv5", 3) == (0, 125)
    assert alexnet_field_span(128, "conv5", 6) == (27, 125)
    assert alexnet_field_span(224, "conv1", 0) == (0, 5)  # 11 px kernel, padding 5
    assert alexnet_field_span(224, "conv1", 1) == (0, 9)
    with pytest.raises(ValueError, match="conv5"):
        alexnet_field_span(128, "fc1", 0)


def test_comparison_prose_quotes_the_paired_numbers():
    base = [_run(s, a, [0.4, 0.5, 0.55], [0.3, 0.45, 0.5]) for s, a in ((1, 0.60), (2, 0.62),
                                                                        (3, 0.61))]  # fmt: skip
    better = [_run(s, a, [0.4, 0.5, 0.6], [0.3, 0.45, 0.5]) for s, a in ((1, 0.70), (2, 0.715),
                                                                         (3, 0.705))]  # fmt: skip
    cmp = compare_variants({"A": base, "B": better}, "A")
    d = cmp.differences["B"]
    text = describe_comparison(cmp)
    assert f"{d.diff * 100:+.2f} points" in text and f"{d.low * 100:+.2f}" in text
    # B − A is no comparison of the course's family: an interval, called exploratory
    assert d.verdict() == "exploratory" and not d.significant and d.p < 0.05
    assert "**exploratory**" in text
    assert "only the family's confirmatory seeds give verdicts" in text
    curves = describe_curves("B", better)
    assert "60.0 % after epoch 3" in curves and "below validation" in curves
    assert "dropout" not in curves, "a network without dropout is not said to have it"
    with_dropout = [_run(1, 0.7, [0.4, 0.5, 0.6], [0.3, 0.45, 0.5], nn.Dropout())]
    assert "with dropout active" in describe_curves("C", with_dropout)
    assert "augmented" in curves
    plain = [_run(1, 0.7, [0.4, 0.5, 0.6], [0.3, 0.45, 0.5], augment=False)]
    assert "augmented" not in describe_curves("D", plain), "no augmentation, none is blamed"
    # several candidate causes are named as candidates, never one as the established reason
    assert "these 3 differences" in describe_curves("C", with_dropout)
    assert "these 2 differences" in curves
    assert "differences can lower" not in describe_curves("D", plain), "one cause left: no choice"


def test_a_control_pair_joins_the_table_with_the_familys_verdict():
    runs = {
        name: [_run(s, a + 0.01 * (s % 2), [0.5], [0.5]) for s in (1, 2, 3, 4)]
        for name, a in (("A", 0.60), ("T", 0.63), ("C", 0.605))
    }
    two = compare_variants(runs, "A").differences
    three = compare_variants(runs, "A", extra_pairs=[("T", "C")]).differences
    assert set(three) == {"T", "C", "T − C"} and three["T − C"].baseline == "C"
    assert three["T"].diff == two["T"].diff and three["T"].p == two["T"].p
    # no chapter-sized Holm family: a comparison the course's family does not list is
    # exploratory, whatever else the chapter prints beside it
    assert all(d.verdict() == "exploratory" for d in three.values())
    assert "T − C:" in compare_variants(runs, "A", extra_pairs=[("T", "C")]).table()


def test_confusions_and_cam_peaks_are_counted():
    m = np.diag([90, 80, 70]).astype(int)
    m[2, 0], m[1, 2] = 25, 5
    top = confusions(m.tolist(), ["a", "b", "c"], top=2)
    assert top[0][:2] == ("c", "a") and abs(top[0][2] - 25 / 95) < 1e-9 and top[1][:2] == ("b", "c")
    maps = np.zeros((3, 8, 8))
    maps[0, 4, 4] = maps[1, 0, 7] = maps[2, 2, 5] = 1  # centre, corner, centre
    text = describe_cam_peaks("x", maps)
    assert "2 of 3 maps peak in the central quarter" in text and "25 % of the time" in text
    # maps upsampled from a 7 x 7 layer peak at its cells' centres only: 9 of 49 lie in the middle
    assert "18 % of the time" in describe_cam_peaks("x", maps, cells=7)


@pytest.mark.parametrize("cells,size", [(7, 128), (3, 64), (6, 224), (13, 224), (8, 32)])
def test_the_peak_chance_is_where_upsampled_one_cell_maps_peak(cells, size):
    # the closed form against the upsampling GradCAM uses: a map with one hot cell, scaled to
    # the image as pytorch_grad_cam scales it, peaks at that cell's centre
    from pytorch_grad_cam.utils.image import scale_cam_image

    inside = 0
    for i in range(cells):
        for j in range(cells):
            one = np.zeros((1, cells, cells), np.float32)
            one[0, i, j] = 1
            r, c = np.unravel_index(np.argmax(scale_cam_image(one, (size, size))[0]), (size, size))
            inside += size / 4 <= r < 3 * size / 4 and size / 4 <= c < 3 * size / 4
    assert central_peak_chance(cells, size) == inside / cells**2
    assert central_peak_chance(7, 128) == 9 / 49


def test_the_cam_layer_side_is_the_architectures():
    from course_lib.explain.cam import cam_layer_side
    from course_lib.models import alexnet_feature_sizes, build_model

    for size in (64, 128):
        model = build_model("alexnet", attention="triplet", image_size=size)
        assert cam_layer_side(model, size) == dict(alexnet_feature_sizes(size))["conv5"]
        assert model.training  # left as it was


def test_speed_columns_quote_the_bench_not_the_runs_wall_clock(tmp_path, monkeypatch):
    import json

    from course_lib.chapter import compare_runs

    rows = [
        {"model": "alexnet", "attention": "none", "precision": "bf16", "train_images_per_s": 615,
         "inference_images_per_s": 1854},
        {"model": "alexnet", "attention": "triplet", "precision": "bf16",
         "train_images_per_s": 371, "inference_images_per_s": 1085,
         "train_overhead_vs_alexnet": 1.48},
    ]  # fmt: skip
    bench = {"device": "CPU (2 threads, x86_64)", "date": "2026-11-27T01:29", "models": rows}
    (tmp_path / "results").mkdir(exist_ok=True)
    (tmp_path / "results" / "bench-cpu-128px.json").write_text(json.dumps(bench))

    def run(attention, train_speed):
        metrics = {"model": "alexnet", "attention": attention, "accuracy": 0.5,
                   "best_val_accuracy": 0.5, "params": 1, "train_images_per_s": train_speed,
                   "inference_images_per_s": 9, "image_size": 128, "precision": "bf16",
                   "device": "CPU (2 threads, x86_64)", "data_source": "x", "train_images": 1,
                   "test_images": 1, "profile": "quick", "seed": 42}  # fmt: skip
        return SimpleNamespace(metrics=metrics)

    table = compare_runs({"AlexNet": run("none", 100), "AlexNet-TA": run("triplet", 20)})
    assert " 371 " in table and "1.48x" in table and "bench` of 2026-11-27" in table
    assert "*" not in table, "the shared machine's speed is not quoted"
    table = compare_runs({"AlexNet-SE": run("se", 77)})  # not in the bench: its own, marked
    assert "77*" in table and "shared with other work" in table
    assert "step vs AlexNet" not in table, "no empty overhead column where nothing was benched"
