"""Names made from the spec's name are valid whatever it is: the image reference a registry
accepts (distribution/reference grammar) and the Kubernetes name (an RFC 1123 label)."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ship_project import stack
from torchenv.errors import UsageError
from torchenv.models.ship import SpecImage, parse_reference
from torchenv.ship.base import default_image_name, default_tag, image_reference
from torchenv.ship.cluster import K8S_NAME_MAX, k8s_name

# the spec's name pattern (spec/validate.py, NAME_PATTERN): [A-Za-z0-9._-]+; names made of
# separators mostly are drawn too, since they are the hard case
SPEC_NAMES = st.one_of(
    st.text(st.sampled_from("abcXYZ019._-"), min_size=1, max_size=1000),
    st.text(st.sampled_from("a._-"), min_size=1, max_size=1000),
)
NAME_PART = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def image_for(name: str) -> str:
    return default_image_name(dataclasses.replace(stack(), name=name))


@given(SPEC_NAMES)
@example("._")
@example("a._b")
@example("A..B")
@example("-.-")
@example("x" * 1000)
def test_the_default_image_name_is_always_a_valid_reference(name: str) -> None:
    reference = image_for(name)
    parts = parse_reference(reference)
    assert parts is not None, reference
    assert parts["host"] is None and parts["digest"] is None
    path = str(parts["path"])
    assert NAME_PART.fullmatch(path) and len(path) <= 255
    assert parts["tag"] == default_tag(stack())
    assert image_for(name) == reference  # deterministic


def test_long_image_names_are_cut_with_a_hash_of_the_whole_name() -> None:
    first, second = image_for("a" * 300), image_for("a" * 301)
    assert first != second and first.split(":")[0].startswith("a" * 100)
    assert image_for("Vision_Model") == f"vision-model:{default_tag(stack())}"  # short: as is


def test_a_tag_from_a_hostile_lock_is_still_a_tag() -> None:
    hostile = dataclasses.replace(stack(), torch="2.6.0+cu124 $(id)\n", variant="." * 200)
    parts = parse_reference(default_image_name(hostile))
    assert parts is not None and parts["tag"] is not None and len(parts["tag"]) <= 128


def test_an_image_name_too_long_for_a_registry_is_refused() -> None:
    too_long = "registry.example.com/" + "/".join(["team"] * 60) + ":1"
    with pytest.raises(UsageError, match="at most 255") as err:
        image_reference(SpecImage(name=too_long), stack())
    assert err.value.reference == "image-name-too-long"
    assert image_reference(SpecImage(name="r.io/team/vision"), stack()).startswith("r.io/team/")


@given(st.one_of(SPEC_NAMES, st.text(max_size=300)))
@example("")
@example("___")
@example("ü")
@example("-" * 100)
@example("a" * 39 + "-b" * 20)
def test_kubernetes_names_are_rfc_1123_labels(name: str) -> None:
    label = k8s_name(name)
    assert LABEL.fullmatch(label) and len(label) <= K8S_NAME_MAX <= 63, label
    # the pods' hostnames "<job>-<index>" are labels too, up to 10000 nodes
    assert len(f"{label}-9999") <= 63
    assert k8s_name(name) == label


def test_names_that_clean_to_nothing_get_a_default() -> None:
    assert k8s_name("") == k8s_name("___") == k8s_name("ü") == "torchenv"
    assert image_for("._-") == f"torchenv:{default_tag(stack())}"
