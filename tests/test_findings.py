"""A chapter's own measurements: written per setting and parameters, read back by the readings."""

from __future__ import annotations

import dataclasses

import pytest

from course_lib.experiments.findings import read_findings, write_findings
from course_lib.experiments.reference import MissingReference
from course_lib.profiles import get_profile

QUICK = get_profile("quick")


def _write(folder, profile=QUICK, parameters=None, value=0.5):
    return write_findings(
        "08_gradcam", profile, parameters or {"quality_images": 200},
        {"road_gradcam_minus_random": value}, device="CPU (2 threads, x86_64)",
        data_source="CIFAR-10 test", folder=folder,
    )  # fmt: skip


def test_findings_are_read_back_at_their_setting_only(tmp_path):
    path = _write(tmp_path)
    assert path.parent == tmp_path / "findings" / "quick"
    found = read_findings("08_gradcam", QUICK, folder=tmp_path)
    assert found["findings"] == {"road_gradcam_minus_random": 0.5}
    assert (
        found["parameters"] == {"quality_images": 200} and found["image_size"] == QUICK.image_size
    )
    longer = dataclasses.replace(QUICK, epochs=QUICK.epochs + 1)
    with pytest.raises(MissingReference, match="run-notebooks --profile quick --only 08"):
        read_findings("08_gradcam", longer, folder=tmp_path)


def test_other_parameters_write_their_own_file_and_make_the_choice_explicit(tmp_path):
    first = _write(tmp_path)
    again = _write(tmp_path, value=0.6)  # the same setting and parameters: rewritten
    assert again == first
    other = _write(tmp_path, parameters={"quality_images": 50}, value=0.1)
    assert other != first and first.exists()
    with pytest.raises(MissingReference, match="pass the parameters"):
        read_findings("08_gradcam", QUICK, folder=tmp_path)
    chosen = read_findings("08_gradcam", QUICK, {"quality_images": 200}, folder=tmp_path)
    assert chosen["findings"]["road_gradcam_minus_random"] == 0.6
