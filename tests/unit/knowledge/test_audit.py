"""The records the knowledge audit of 2026-12-06 found wrong (issue 13), each checked against
the primary source it was corrected from, and the plans those records changed.

Sources (knowledge/data/sources.json): S2 wheel METADATA on PyPI; S3c PYTORCH_RELEASES_CODE_CC
in torch/cuda/__init__.py of the PyPI wheels; S6b pytorch's aarch64_ci_build.sh per release;
S16 the download.pytorch.org file lists as the audit read them.
"""

from __future__ import annotations

import pytest

from torchenv.knowledge.store import load_knowledge, load_sources
from torchenv.models.indexes import pins
from torchenv.models.plan import PlanReport, PlanRequest, PlanTarget, TargetGpu
from torchenv.plan import make_plan

KB = load_knowledge(packaged_only=True)
RELEASES = {r.version: r for r in KB.torch_releases()}


def archs(version: str, variant: str, platform: str = "linux_x86_64") -> tuple[str, ...]:
    found = KB.variant_archs(version, variant, platform)
    assert found is not None, (version, variant, platform)
    return found.archs


def sources_of(version: str, variant: str, platform: str = "linux_x86_64") -> set[str]:
    found = KB.variant_archs(version, variant, platform)
    assert found is not None
    return set(found.source.split(","))


def test_every_audit_source_is_described() -> None:
    described = load_sources()
    for source in ("S3c", "S6b", "S16"):
        assert source in described and described[source]["url"].startswith("https://")


# --- 1-5: cu129 for 2.9-2.13 (S16; 2.13 also S3c) -------------------------------------------
@pytest.mark.parametrize("version", ["2.9.1", "2.10.0", "2.11.0", "2.12.1", "2.13.0"])
def test_cu129_exists_for_2_9_to_2_13(version: str) -> None:
    assert "cu129" in KB.platform_variants(version, "linux_x86_64")
    assert "sm_120" in archs(version, "cu129")


def test_cu129_gpu_code_of_2_13_is_its_wheel_table() -> None:
    # S3c: "12.9": {"x86_64": {75, 80, 86, 90, 100, 120}, "aarch64": {80, 90, 100, 120}}
    assert archs("2.13.0", "cu129") == ("sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120")
    assert archs("2.13.0", "cu129", "linux_aarch64") == ("sm_80", "sm_90", "sm_100", "sm_120")
    assert sources_of("2.13.0", "cu129") == {"S3c"}


# --- 6: 2.15's cu130 (and cu126) variants (S3c of the 2.15.0 wheel) -------------------------
def test_2_15_has_its_cu130_and_cu126_variants() -> None:
    for platform in ("linux_x86_64", "linux_aarch64"):
        assert {"cu126", "cu130", "cu132"} <= set(KB.platform_variants("2.15.0", platform))
    assert archs("2.15.0", "cu130")[-1] == "sm_120" and "sm_110" in archs(
        "2.15.0", "cu130", "linux_aarch64"
    )
    assert archs("2.15.0", "cu126")[0] == "sm_50"
    assert sources_of("2.15.0", "cu130") == {"S3c"}


# --- 7-9: aarch64 CUDA builds of 2.4-2.6 for Grace Hopper (S16, S5, S6b) ---------------------
@pytest.mark.parametrize(
    ("version", "variant"), [("2.4.1", "cu124"), ("2.5.1", "cu124"), ("2.6.0", "cu126")]
)
def test_aarch64_cuda_builds_before_2_7(version: str, variant: str) -> None:
    assert KB.platform_variants(version, "linux_aarch64") == (variant, "cpu")
    assert archs(version, variant, "linux_aarch64") == ("sm_90",)
    assert "S16" in sources_of(version, variant, "linux_aarch64")


# --- 10-11: the aarch64 arch lists of 2.7 cu128 and 2.8 cu129 (S6b) --------------------------
def test_aarch64_arch_lists_of_2_7_and_2_8_are_the_build_scripts() -> None:
    # 2.7: "12.8" -> 9.0;10.0;12.0 ; 2.8: "12.9" -> 8.0;9.0;10.0;12.0 (no +PTX in either)
    assert archs("2.7.1", "cu128", "linux_aarch64") == ("sm_90", "sm_100", "sm_120")
    assert archs("2.8.0", "cu129", "linux_aarch64") == ("sm_80", "sm_90", "sm_100", "sm_120")
    assert sources_of("2.7.1", "cu128", "linux_aarch64") == {"S6b"}


# --- 12-14: torchvision's aarch64 wheels of 2.7-2.9 carry no local label (S16) ---------------
@pytest.mark.parametrize(
    ("torch", "vision", "variant"),
    [("2.7.1", "0.22.1", "cu128"), ("2.8.0", "0.23.0", "cu129"), ("2.9.1", "0.24.1", "cu130")],
)
def test_torchvision_aarch64_pins_carry_no_label(torch: str, vision: str, variant: str) -> None:
    lines = pins(torch, f"+{variant}", [("torchvision", vision)], ["linux_aarch64"])
    assert lines == [f"torch=={torch}+{variant}", f"torchvision=={vision}"]
    x86 = pins(torch, f"+{variant}", [("torchvision", vision)], ["linux_x86_64"])
    assert x86[1] == f"torchvision=={vision}+{variant}"  # x86_64 wheels are labeled


def test_torchvision_aarch64_label_returns_at_2_10() -> None:
    lines = pins("2.10.0", "+cu130", [("torchvision", "0.25.0")], ["linux_aarch64"])
    assert lines[1] == "torchvision==0.25.0+cu130"


# --- 15: torchaudio 2.11.1 pairs with 2.12-2.15 (S2: py3-none, Requires-Dist torch>=2.11) -----
@pytest.mark.parametrize("version", ["2.12.0", "2.12.1", "2.13.0", "2.14.0", "2.14.1", "2.15.0"])
def test_torchaudio_2_11_1_pairs_with_later_releases(version: str) -> None:
    assert RELEASES[version].torchaudio == "2.11.1"
    assert KB.library_pythons("torchaudio", "2.11.1", "linux_x86_64") is None  # any Python 3
    lines = pins(version, "+cu130", [("torchaudio", "2.11.1")], ["linux_x86_64"])
    assert lines[1] == "torchaudio==2.11.1"  # PyPI's py3-none wheel has no label


def test_torchaudio_2_11_0_keeps_its_own_release() -> None:
    assert RELEASES["2.11.0"].torchaudio == "2.11.0"


# --- 16: the glibc floor is per variant (S16: 2.6.0's cu126 wheels are manylinux_2_28) --------
def test_glibc_floor_of_2_6_0_cu126() -> None:
    release = RELEASES["2.6.0"]
    assert release.glibc == "2.17" and release.glibc_for("cu126") == "2.28"
    assert release.glibc_for("cu124") == "2.17"


# --- the plans these records changed ------------------------------------------------------------
def plan(gpu: str, cc: str, driver: str, torch: str = "", platform: str = "linux_x86_64",
         glibc: str | None = None) -> PlanReport:  # fmt: skip
    target = PlanTarget(
        name="node",
        platform=platform,
        gpus=(TargetGpu(gpu, cc),),
        driver=driver,
        has_driver_facts=True,
        glibc=glibc,
    )
    request = PlanRequest(torch=torch) if torch else PlanRequest()
    return make_plan(KB, request, [target])


def chosen(report: PlanReport) -> str | None:
    return f"{report.stack.torch}+{report.stack.variant}" if report.stack else None


def test_rtx_5090_with_driver_575_gets_2_13_cu129() -> None:
    # was "nothing fits": cu130/cu132 need R580, cu126 has no sm_120
    report = plan("RTX 5090", "12.0", "575.57.08", torch="==2.13.*")
    assert chosen(report) == "2.13.0+cu129"


def test_gh200_with_torch_2_6_gets_the_aarch64_cu126_build() -> None:
    report = plan("GH200", "9.0", "570.124.06", torch="==2.6.*", platform="linux_aarch64")
    assert chosen(report) == "2.6.0+cu126"


def test_a100_driver_535_torch_2_6_gets_pypis_cu124_and_says_why() -> None:
    # 535 runs CUDA 12.4 through minor-version compatibility, which runs sm_80 cubins
    report = plan("A100", "8.0", "535.183.01", torch="==2.6.*")
    assert chosen(report) == "2.6.0+cu124"
    why = [n for n in report.notes if n.startswith("chose ")]
    assert why == [
        "chose 2.6.0+cu124 over cu118, cu126 (cu124 is PyPI's build of torch 2.6.0, the most used)"
    ]


def test_old_glibc_refuses_only_the_manylinux_2_28_variant() -> None:
    report = plan("A100", "8.0", "580.65.06", torch="==2.6.*", glibc="2.27")
    assert chosen(report) == "2.6.0+cu124"
    rejected = {r.candidate: " ".join(r.reasons) for r in report.rejected}
    assert "glibc 2.27 is older than 2.28" in rejected["2.6.0+cu126"]
    assert "manylinux_2_28" in rejected["2.6.0+cu126"]


def test_the_variant_glibc_floor_is_not_applied_to_conda_forge() -> None:
    target = PlanTarget(
        name="node",
        platform="linux_x86_64",
        gpus=(TargetGpu("A100", "8.0"),),
        driver="580.65.06",
        has_driver_facts=True,
        glibc="2.17",
    )
    report = make_plan(KB, PlanRequest(torch="==2.6.*", installer="conda"), [target])
    assert report.stack is not None and report.stack.variant == "cu126"
    assert not any(n.startswith("chose ") and "PyPI" in n for n in report.notes)


def test_torchaudio_2_11_1_may_come_from_pypi_in_recipes_and_locks() -> None:
    # whether the variant's index holds 2.11.1 was not read (S16 lists torch and torchvision):
    # the recipes and the lock read PyPI too, torch keeps its label
    from torchenv.backends.installers import Sources, uv_compile
    from torchenv.models.spec import SpecIndex

    report = plan("H100", "9.0", "580.65.06", torch="==2.13.*")
    uv = report.install["uv"]
    assert "--index-strategy unsafe-first-match" in uv.commands[1]
    assert "torch==2.13.0+cu130" in uv.commands[1]
    assert "torchaudio = " not in uv.files["pyproject.toml"]  # PyPI, uv's default index
    pip = report.install["pip"].commands[1]
    assert "--index-url https://pypi.org/simple --extra-index-url" in pip
    sources = Sources.for_variant(SpecIndex(), "cu130", macos=False)
    argv = uv_compile("uv", "r.in", "o.toml", "3.11", ["linux_x86_64"], sources, True)
    assert argv[argv.index("--index-strategy") + 1] == "unsafe-first-match"
    assert "--index-strategy" not in uv_compile("uv", "r.in", "o", "3.11", [], sources)
