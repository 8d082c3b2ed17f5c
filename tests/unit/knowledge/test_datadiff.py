"""`matrix --check`'s comparison: the packaged torch data against a fresh `db update` (fake
dicts; no I/O). Each kind of difference, equal data, and sources that could not be read."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from torchenv.errors import UsageError
from torchenv.knowledge.datadiff import Scope, choose, compare, legacy_manylinux, parse_only
from torchenv.knowledge.indexes import IndexFile
from torchenv.models.matrix import ABSENT, CHANGED, MISSING, DataDifference

ARCHS = ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]


def release(version: str = "2.13.0", **changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "version": version,
        "released": "2026-07-08",
        "yanked": False,
        "requires_python": ">=3.10",
        "python": {"linux_x86_64": ["3.10", "3.11"], "win_amd64": ["3.10", "3.11"]},
        "glibc": "2.28",
        "pypi_default": {"linux_x86_64": "cu130", "win_amd64": "cpu"},
        "pypi_linux_x86_64": {
            "variant": "cu130",
            "cuda": "13.0",
            "archs": ARCHS,
            "git_version": "cf30153c",
            "cudnn": "9.20.0.48",
            "nccl": "2.29.7",
            "cublas": "13.1.1.3",
            "cudart": "13.0.96",
        },
        "torchvision": "0.28.0",
        "torchaudio": None,
        "source": "S1,S2,S3,S13",
    }
    record.update(changes)
    return record


def data(*releases: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema": "torchenv.knowledge.torch/1",
        "releases": list(releases) or [release()],
        "minors": {
            "2.13": {
                "index_variants": ["cu126", "cu130", "rocm7.1", "cpu"],
                "index_variants_by_platform": {"win_amd64": ["cu126", "cu130", "cpu"]},
                "pypi_default_linux_x86_64": "cu130",
                "verified": True,
                "source": "S15,S3",
            }
        },
        "arch_lists": [
            {"torch": ["2.12", "2.13"], "variant": "cu130", "archs": ARCHS, "verified": True},
        ],
    }


def scope(**changes: Any) -> Scope:
    fields: dict[str, Any] = {
        "index_versions": ("2.13.0",),
        "sources": {"pypi": "PAGE", "pypi-wheels": "WHEELS", "pytorch-index": "PT"},
    }
    fields.update(changes)
    return Scope(**fields)


def diff(packaged: dict[str, Any], fresh: dict[str, Any] | None, **changes: Any) -> list[Any]:
    return [
        (d.where, d.field, d.change, d.packaged, d.fresh)
        for d in compare(packaged, fresh, scope(**changes))
    ]


def test_equal_data_has_no_difference() -> None:
    assert compare(data(), data(), scope()) == ()
    # provenance and hand-written notes are not facts the indexes hold
    noted = data(release(notes=["a note"], source="S1 (hand-checked)", read=[{"url": "a"}]))
    assert compare(noted, data(release(read=[{"url": "b"}])), scope()) == ()


def test_a_release_the_index_has_and_the_data_lacks_is_missing() -> None:
    found = compare(data(), None, scope(index_versions=("2.13.0", "2.14.0")))
    assert found == (DataDifference("release 2.14.0", "", MISSING, None, "2.14.0", "PAGE"),)


def test_a_release_the_index_lost_is_absent_unless_only_excludes_it() -> None:
    packaged = data(release("2.12.0"), release())
    found = diff(packaged, None)
    assert found == [("release 2.12.0", "", ABSENT, "2.12.0", None)]
    assert diff(packaged, None, only=frozenset({"2.13.0"})) == []
    assert diff(packaged, None, only=frozenset({"2.12.0"})) == found
    # missing ones too: --only limits what the check speaks about
    assert diff(data(), None, index_versions=("2.13.0", "2.14.0"), only=frozenset({"2.13.0"})) == []


def test_versions_compare_as_pep_440_spells_them() -> None:
    assert diff(data(release("2.0")), None, index_versions=("2.0.0",)) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("released", "2026-07-09"),
        ("yanked", True),
        ("requires_python", ">=3.11"),
        ("glibc", "2.34"),
        ("torchvision", "0.28.1"),
        ("torchaudio", "2.13.0"),
    ],
)
def test_a_changed_field(field: str, value: Any) -> None:
    fresh = data(release(**{field: value}))
    packaged = data()
    source = {"torchvision": "torchvision", "torchaudio": "torchaudio"}.get(field, "PAGE")
    assert compare(packaged, fresh, scope()) == (
        DataDifference(
            "release 2.13.0", field, CHANGED, packaged["releases"][0][field], value, source
        ),
    )


def test_per_platform_maps_compare_every_platform_either_side_lists() -> None:
    fresh = release(
        python={"linux_x86_64": ["3.10", "3.11", "3.12"], "macos_arm64": ["3.11"]},
        pypi_default={"linux_x86_64": "cu132", "win_amd64": "cpu"},
    )
    assert diff(data(), data(fresh)) == [
        (
            "release 2.13.0",
            "python.linux_x86_64",
            CHANGED,
            ["3.10", "3.11"],
            ["3.10", "3.11", "3.12"],
        ),
        ("release 2.13.0", "python.macos_arm64", CHANGED, None, ["3.11"]),
        ("release 2.13.0", "python.win_amd64", CHANGED, ["3.10", "3.11"], None),  # wheels gone
        ("release 2.13.0", "pypi_default.linux_x86_64", CHANGED, "cu130", "cu132"),
    ]


def test_wheel_facts_compare_field_by_field() -> None:
    build = dict(release()["pypi_linux_x86_64"], archs=[*ARCHS, "compute_120"], nccl="2.29.8")
    found = compare(data(), data(release(pypi_linux_x86_64=build)), scope())
    assert [(d.field, d.fresh, d.source) for d in found] == [
        ("pypi_linux_x86_64.archs", [*ARCHS, "compute_120"], "WHEELS"),
        ("pypi_linux_x86_64.nccl", "2.29.8", "WHEELS"),
    ]
    # a fact the packaged record lacks is a difference; one only it holds is not regenerated
    old = dict(release()["pypi_linux_x86_64"], extra="kept")
    del old["cudart"]
    assert diff(data(release(pypi_linux_x86_64=old)), data()) == [
        ("release 2.13.0", "pypi_linux_x86_64.cudart", CHANGED, None, "13.0.96")
    ]
    assert diff(data(release(pypi_linux_x86_64=None)), data())[0][1:3] == (
        "pypi_linux_x86_64",
        CHANGED,
    )


def test_other_fields_are_compared_where_both_sides_hold_them() -> None:
    aarch64 = {"variant": "cu130", "archs": ["sm_90"]}
    fresh = data(release(pypi_linux_aarch64=aarch64, new_fact=1))
    assert diff(data(release(pypi_linux_aarch64=aarch64)), fresh) == []
    changed = dict(aarch64, archs=["sm_90", "sm_100"])
    assert diff(data(release(pypi_linux_aarch64=changed)), fresh) == [
        ("release 2.13.0", "pypi_linux_aarch64.archs", CHANGED, ["sm_90", "sm_100"], ["sm_90"])
    ]


def test_a_bool_is_not_a_number() -> None:
    assert diff(data(release(yanked=0)), data())[0][1:] == ("yanked", CHANGED, 0, False)


def test_what_db_update_keeps_when_nothing_was_found_is_not_contradicted() -> None:
    # an HTML page has no upload times; no domain release pins this torch (a documented pairing)
    fresh = release(released=None, requires_python=None, torchvision=None, torchaudio=None)
    packaged = data(release(torchaudio="2.13.0"))
    assert compare(packaged, data(fresh), scope()) == ()
    # but a release whose pairing is found now while the data has none is a difference
    assert diff(data(release(torchvision=None)), data())[0][1:] == (
        "torchvision",
        CHANGED,
        None,
        "0.28.0",
    )


def test_a_glibc_read_from_the_binaries_stands_above_a_legacy_tag() -> None:
    packaged, fresh = data(release(glibc="2.17")), data(release(glibc="2.5"))
    assert diff(packaged, fresh, legacy_glibc=frozenset({"2.13.0"})) == []
    assert diff(packaged, fresh)[0][1:] == ("glibc", CHANGED, "2.17", "2.5")
    # below the tag it is wrong even then
    assert diff(
        data(release(glibc="2.5")), data(release(glibc="2.17")), legacy_glibc=frozenset({"2.13.0"})
    )


def test_facts_of_an_unread_source_are_not_compared() -> None:
    fresh = data(release(torchvision="0.99.0", torchaudio="9.9"))
    assert [d[1] for d in diff(data(), fresh, unread={"torchvision": "HTTP 500"})] == ["torchaudio"]
    # the cuda-toolkit metapackage was not read: the pins behind it are unknown, not gone
    build = dict(release()["pypi_linux_x86_64"], cublas=None, cudart=None)
    without = data(release(pypi_linux_x86_64=build))
    assert diff(data(), without, unread={"cuda-toolkit": "404"}) == []
    assert len(diff(data(), without)) == 2
    # nothing read in full: only presence on the index is compared
    assert diff(data(release(yanked=True)), None) == []


def minors(**changes: Any) -> dict[str, Any]:
    fresh = data()
    fresh["minors"]["2.13"].update(changes)
    return fresh


def test_minor_variants_compared_where_the_pytorch_index_was_read() -> None:
    fresh = minors(
        index_variants=["cu126", "cu130", "cu132", "rocm7.1", "cpu"],
        index_variants_by_platform={"win_amd64": ["cu130", "cpu"], "macos_arm64": ["cpu"]},
    )
    found = compare(data(), fresh, scope())
    assert [(d.where, d.field, d.packaged, d.fresh, d.source) for d in found] == [
        (
            "minor 2.13",
            "index_variants",
            ["cu126", "cu130", "rocm7.1", "cpu"],
            fresh["minors"]["2.13"]["index_variants"],
            "PT",
        ),
        (
            "minor 2.13",
            "index_variants_by_platform.win_amd64",
            ["cu126", "cu130", "cpu"],
            ["cu130", "cpu"],
            "PT",
        ),
        ("minor 2.13", "index_variants_by_platform.macos_arm64", None, ["cpu"], "PT"),
    ]
    assert diff(data(), fresh, unread={"pytorch-index": "Cannot read"}) == []


def test_a_platform_left_out_of_the_fresh_minor() -> None:
    # no wheel for it on the index, or the same list as Linux (db update leaves those out)
    fresh = minors(index_variants_by_platform={})
    assert diff(data(), fresh) == [
        (
            "minor 2.13",
            "index_variants_by_platform.win_amd64",
            CHANGED,
            ["cu126", "cu130", "cpu"],
            None,
        )
    ]
    packaged = data()
    packaged["minors"]["2.13"]["index_variants_by_platform"]["linux_aarch64"] = packaged["minors"][
        "2.13"
    ]["index_variants"]
    assert diff(packaged, minors()) == []


def test_an_inferred_packaged_list_becomes_verified() -> None:
    packaged = data()
    packaged["minors"]["2.13"]["verified"] = False
    assert diff(packaged, data()) == [("minor 2.13", "verified", CHANGED, False, True)]
    # a fresh list that was inferred (the index has no wheel of the minor) is not evidence
    assert diff(data(), minors(index_variants=["cu130"], verified=False)) == []


def test_a_minor_build_is_compared_only_when_its_newest_release_was_read() -> None:
    fresh = minors(pypi_default_linux_x86_64="cu132")
    assert diff(data(), fresh) == [
        ("minor 2.13", "pypi_default_linux_x86_64", CHANGED, "cu130", "cu132")
    ]
    newer = ("2.13.0", "2.13.1")
    assert diff(data(), fresh, index_versions=newer, only=frozenset({"2.13.0"})) == []


def test_a_minor_the_data_lacks() -> None:
    fresh = data(release(), release("2.14.0"))
    fresh["minors"]["2.14"] = {"index_variants": ["cu130"], "verified": False}
    packaged = data()
    found = diff(packaged, fresh, index_versions=("2.13.0", "2.14.0"))
    assert found == [
        ("release 2.14.0", "", MISSING, None, "2.14.0"),
        ("minor 2.14", "", MISSING, None, "2.14"),
    ]


def test_arch_lists() -> None:
    fresh = data()
    fresh["arch_lists"] = [
        {"torch": ["2.13"], "variant": "cu130", "archs": [*ARCHS, "compute_120"], "verified": True},
        {"torch": ["2.13"], "variant": "cu132", "archs": ARCHS, "verified": True},
    ]
    found = compare(data(), fresh, scope(sources={"pytorch-wheels": "PTW"}))
    assert [(d.where, d.field, d.change, d.source) for d in found] == [
        ("arch list 2.13 cu130", "archs", CHANGED, "PTW"),
        ("arch list 2.13 cu132", "archs", MISSING, "PTW"),
    ]
    assert diff(data(), fresh, unread={"pytorch-index": "x"}) == []
    assert diff(data(), fresh, unread={"pytorch-wheels": "x"}) == []
    packaged, fresh = data(), data()
    packaged["arch_lists"][0]["verified"] = False
    fresh["arch_lists"][0]["torch"] = ["2.13"]  # a fresh run reads the minors it was asked
    assert diff(packaged, fresh) == [("arch list 2.13 cu130", "verified", CHANGED, False, True)]
    # another platform's row is another list
    packaged["arch_lists"][0]["platform"] = "linux_aarch64"
    assert diff(packaged, fresh)[0][2] == MISSING


def test_odd_records_do_not_break_the_comparison() -> None:
    packaged = data(release("not a version"), release(), release("2.12.0"))
    packaged["releases"] += [{"no": "version"}, "text", {"version": 5}]
    packaged["minors"] = []
    packaged["arch_lists"] = {"not": "a list"}
    found = diff(packaged, data(), index_versions=("2.13.0", "nonsense"))
    assert ("release not a version", "", ABSENT, "not a version", None) in found
    assert ("release nonsense", "", MISSING, None, "nonsense") in found
    assert ("minor 2.13", "", MISSING, None, "2.13") in found
    # unparsable versions come after the others, minors and arch lists after the releases
    assert [d[0] for d in found] == [
        "release 2.12.0",
        "release nonsense",
        "release not a version",
        "minor 2.13",
        "arch list 2.12 cu130",
        "arch list 2.13 cu130",
    ]


def test_the_inputs_are_not_changed() -> None:
    packaged, fresh = data(), minors(index_variants=["cpu"])
    before = copy.deepcopy((packaged, fresh))
    compare(packaged, fresh, scope())
    assert (packaged, fresh) == before


# --------------------------------------------------------------------------- what to read
def test_only_values() -> None:
    assert parse_only([" 2.13.0", "2.13", "2.12.1"]) == ("2.13.0", "2.12.1")  # 2.13 == 2.13.0
    for bad in ("two", "", "2.13.0+cu130", "2.14.0rc1", "2.13.0.dev1", "2.13.0\x1b[31m"):
        with pytest.raises(UsageError, match="is not a final torch release"):
            parse_only([bad])


INDEX = ("1.13.1", "2.12.0", "2.12.1", "2.13.0", "2.14.0")


def test_the_default_reads_the_newest_release_of_the_last_minors_both_sides_hold() -> None:
    ours = ["1.13.1", "2.12.0", "2.12.1", "2.13.0", "2.15.0"]  # 2.14.0 missing, 2.15.0 absent
    assert choose(INDEX, ours, (), 2) == (["2.12.1", "2.13.0"], [])
    assert choose(INDEX, ours, (), 9) == (["1.13.1", "2.12.1", "2.13.0"], [])
    assert choose(INDEX, ours, (), 0) == ([], [])


def test_only_reads_what_the_index_holds_and_names_what_neither_side_does() -> None:
    ours = ["2.13.0", "2.15.0"]
    assert choose(INDEX, ours, ("2.13",), 2) == (["2.13.0"], [])
    assert choose(INDEX, ours, ("2.15.0", "2.14.0"), 2) == (["2.14.0"], [])  # 2.15.0: absent
    assert choose(INDEX, ours, ("9.9.9",), 2) == ([], ["9.9.9"])


def wheel(name: str) -> IndexFile:
    return IndexFile(name, "https://files.example/" + name, None, False, None, None)


def test_legacy_manylinux_wheels() -> None:
    old = [
        wheel("torch-1.13.1-cp310-cp310-manylinux1_x86_64.whl"),
        wheel("torch-1.13.1-cp310-cp310-manylinux2014_aarch64.whl"),
        wheel("torch-1.13.1-cp310-cp310-win_amd64.whl"),
    ]
    assert legacy_manylinux(old)
    new = [*old, wheel("torch-1.13.1-cp311-cp311-manylinux_2_28_x86_64.whl")]
    assert not legacy_manylinux(new)
    assert not legacy_manylinux(old[1:])  # no Linux x86_64 wheel: nothing was read from one
