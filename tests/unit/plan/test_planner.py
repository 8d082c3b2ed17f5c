"""The planner's rules on a small hand-made knowledge base (tests/plan_kb.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from plan_kb import FakeKnowledge, release
from torchenv.models.plan import PlanReport, PlanRequest, PlanTarget, TargetGpu
from torchenv.plan import make_plan

H100 = TargetGpu("H100", "9.0")
GTX1080 = TargetGpu("GTX 1080", "6.1")
B200 = TargetGpu("B200", "10.0")
K80 = TargetGpu("K80", "3.7")


def node(*gpus: TargetGpu, driver: str | None = "580.65.06", **kw: object) -> PlanTarget:
    return PlanTarget(
        name=str(kw.pop("name", "node")),
        platform=str(kw.pop("platform", "linux_x86_64")),
        gpus=gpus,
        driver=driver,
        has_driver_facts=True,
        **kw,  # type: ignore[arg-type]
    )


def plan(*targets: PlanTarget, kb: FakeKnowledge | None = None, **request: str) -> PlanReport:
    return make_plan(kb or FakeKnowledge(), PlanRequest(**request), targets)  # type: ignore[arg-type]


def chosen(report: PlanReport) -> str | None:
    return f"{report.stack.torch}+{report.stack.variant}" if report.stack else None


def reasons(report: PlanReport) -> str:
    return "\n".join(f"{r.candidate}: {'; '.join(r.reasons)}" for r in report.rejected)


def test_hopper_with_a_new_driver_gets_the_newest_default_build() -> None:
    report = plan(node(H100))
    assert chosen(report) == "2.11.0+cu130"
    assert report.stack is not None and report.stack.torchvision == "0.26.0"
    assert report.stack.driver_floor == "580.65.06"
    assert report.fits[0].gpus == ("H100 (9.0): native",)
    assert report.rejected == ()  # nothing newer was turned down


def test_pascal_falls_back_to_the_variant_that_still_has_its_kernels() -> None:
    report = plan(node(GTX1080))
    assert chosen(report) == "2.11.0+cu126"
    assert "2.11.0+cu130: node: no kernels for GTX 1080 (6.1)" in reasons(report)


def test_old_driver_walks_back_to_a_cuda_11_build_and_says_why() -> None:
    report = plan(node(H100, driver="470.82.01"))
    assert chosen(report) == "2.6.0+cu118"
    text = reasons(report)
    assert "2.11.0+cu130: node: driver 470.82.01 is older than 580.65.06" in text
    assert "2.8.0+cu128: node: driver 470.82.01 is older than 525.60.13" in text


def test_driver_too_old_for_everything_is_no_stack_with_every_reason() -> None:
    report = plan(node(H100, driver="418.67"))
    assert report.stack is None and report.install == {}
    assert len(report.rejected) == 7  # every CUDA variant of every release
    assert all("older than" in r.reasons[0] for r in report.rejected)


def test_python_without_wheels_rejects_every_release() -> None:
    report = plan(node(H100), python="3.9")
    assert report.stack is None
    assert [r.candidate for r in report.rejected] == ["torch 2.11.0", "torch 2.8.0", "torch 2.6.0"]
    assert "no wheels for Python 3.9 (torch 2.11.0 has 3.10-3.13" in reasons(report)


def test_python_defaults_to_the_targets_and_else_to_the_newest_with_wheels() -> None:
    assert plan(node(H100, python="3.11")).stack.python == "3.11"  # type: ignore[union-attr]
    report = plan(node(H100))
    assert report.stack is not None and report.stack.python == "3.13"
    assert any("Python not given: chose 3.13" in n for n in report.notes)


def test_a_mixed_fleet_gets_one_stack_covering_both_generations() -> None:
    report = plan(node(H100, name="a"), node(GTX1080, name="b"))
    assert chosen(report) == "2.11.0+cu126"
    assert [f.target for f in report.fits] == ["a", "b"]


def test_a_fleet_no_single_build_covers_says_what_each_machine_could_run() -> None:
    report = plan(node(B200, name="new"), node(K80, name="old", driver="470.82.01"))
    assert report.stack is None
    assert report.per_target == {
        "new": "torch 2.11.0+cu130 would fit it alone",
        "old": "torch 2.6.0+cu118 would fit it alone",
    }


def test_cpu_only_machine_gets_the_cpu_build_and_cuda_cpu_forces_it() -> None:
    assert chosen(plan(node(driver=None))) == "2.11.0+cpu"
    report = plan(node(H100), cuda="cpu")
    assert chosen(report) == "2.11.0+cpu"
    assert "CPU-only build" in report.fits[0].caveats[0] if report.fits[0].caveats else True


def test_requested_cuda_version_is_honoured() -> None:
    assert chosen(plan(node(H100), cuda="12.8")) == "2.8.0+cu128"
    report = plan(node(H100), cuda="11.7")
    assert report.stack is None and "no CUDA 11.7 build" in reasons(report)


def test_minor_version_compatibility_does_not_outrank_pypis_build() -> None:
    # 565 runs 12.8 only through minor-version compatibility (12.8 GA wants 570.26), which runs
    # the H100's sm_90 cubins: PyPI's cu128 build stays the choice, and the plan says why
    report = plan(node(H100, driver="565.57.01"), torch="==2.8.*")
    assert chosen(report) == "2.8.0+cu128"
    assert "minor-version compatibility" in " ".join(report.fits[0].caveats)
    assert "chose 2.8.0+cu128 over cu126 (cu128 is PyPI's build of torch 2.8.0" in report.notes[1]


def test_full_driver_support_decides_between_builds_that_are_not_pypis() -> None:
    forced = plan(node(H100, driver="565.57.01"), torch="==2.8.*", cuda="12.8")
    assert chosen(forced) == "2.8.0+cu128"


def test_old_glibc_rejects_manylinux_2_28_wheels() -> None:
    report = plan(node(H100, glibc="2.27"))
    assert chosen(report) == "2.6.0+cu124"  # the PyPI default among equals
    assert "glibc 2.27 is older than 2.28" in reasons(report)


def test_yanked_release_is_skipped_unless_pinned() -> None:
    kb = FakeKnowledge()
    kb.releases[-1] = release("2.11.0", "cu130", "0.26.0", glibc="2.28", yanked=True)
    assert chosen(plan(node(H100), kb=kb)) == "2.8.0+cu128"
    assert chosen(plan(node(H100), kb=kb, torch="==2.11.0")) == "2.11.0+cu130"


def test_unknown_compute_capability_is_a_caveat_not_a_rejection() -> None:
    report = plan(node(TargetGpu("Mystery GPU", None)))
    assert chosen(report) == "2.11.0+cu130"
    assert "compute capability of Mystery GPU unknown" in " ".join(report.fits[0].caveats)


def test_gpu_without_a_given_driver_states_the_floor() -> None:
    target = replace(node(H100, driver=None), has_driver_facts=False)
    report = plan(target)
    assert chosen(report) == "2.11.0+cu130"
    assert "driver not given: needs >= 580.65.06" in report.fits[0].caveats[0]


def test_jetson_orin_needs_jetpack_but_thor_is_in_the_cuda_13_aarch64_lists() -> None:
    orin = node(TargetGpu("Orin", "8.7"), platform="linux_aarch64", jetson=True)
    report = plan(orin)
    assert report.stack is None
    assert "no kernels for Orin (8.7)" in reasons(report) and "JetPack" in reasons(report)
    thor = node(TargetGpu("Thor", "11.0"), platform="linux_aarch64", jetson=True)
    assert chosen(plan(thor)) == "2.11.0+cu130"


def test_macos_plans_the_cpu_build_without_a_local_label() -> None:
    report = plan(node(driver=None, platform="macos_arm64"))
    assert chosen(report) == "2.11.0+cpu"
    assert " torch==2.11.0 " in report.install["pip"].commands[1]


def test_no_release_matches_the_specifier() -> None:
    report = plan(node(H100), torch=">=9")
    assert report.stack is None and "no known torch release matches >=9" in report.notes


def test_uv_and_pip_pin_the_local_label_on_the_variant_index() -> None:
    report = plan(node(H100))
    uv = report.install["uv"]
    assert uv.commands[1] == (
        "uv pip install --python .venv torch==2.11.0+cu130 torchvision==0.26.0+cu130 "
        "--index-url https://download.pytorch.org/whl/cu130"
    )
    assert 'torch = [{ index = "pytorch-cu130" }]' in uv.files["pyproject.toml"]
    assert "--index-url https://download.pytorch.org/whl/cu130" in report.install["pip"].commands[1]


def test_conda_recipe_when_conda_forge_has_the_same_build() -> None:
    report = plan(node(H100))
    conda = report.install["conda"]
    assert conda.unavailable is None
    assert "'pytorch=2.11.0=cuda130*'" in conda.commands[0]
    assert "-c pytorch " not in conda.commands[0]
    pixi = report.install["pixi"].commands
    assert "[system-requirements]" in pixi[1] and 'cuda = "13"' in pixi[1]
    assert pixi[2].startswith("pixi add ")  # the requirement must be there before the solve


def test_conda_recipe_says_why_when_conda_forge_lacks_the_build() -> None:
    report = plan(node(GTX1080))  # 2.11.0+cu126: conda-forge built 12.9 and 13.0 only
    assert "not 12.6" in (report.install["conda"].unavailable or "")


def test_conda_installer_plans_among_conda_forge_builds() -> None:
    report = plan(node(GTX1080), installer="conda")
    assert report.stack is not None and report.stack.channel == "conda-forge"
    # the conda-forge 12.9 build has sm_50 and sm_60 cubins, so Pascal runs natively there
    assert (report.stack.torch, report.stack.variant) == ("2.11.0", "cu129")
    assert list(report.install) == ["conda"]


@pytest.mark.parametrize("platform", ["win_amd64"])
def test_other_platforms_use_their_own_variant_lists(platform: str) -> None:
    report = plan(node(H100, platform=platform))
    # the fake knowledge base records no arch lists off Linux x86_64: coverage is unchecked
    assert chosen(report) == "2.11.0+cu130"
    assert "not recorded" in " ".join(report.fits[0].caveats)


def test_targets_with_different_pythons_are_each_checked_for_their_own() -> None:
    report = plan(node(H100, name="a", python="3.13"), node(H100, name="b", python="3.9"))
    assert report.stack is None
    assert "b: no wheels for Python 3.9" in reasons(report)
    report = plan(node(H100, name="a", python="3.13"), node(H100, name="b", python="3.10"))
    assert report.stack is not None and report.stack.python == "3.13"
    assert any("different Pythons" in n for n in report.notes)


def test_a_paired_library_without_a_wheel_for_the_python() -> None:
    kb = FakeKnowledge(library_wheels={("torchvision", "0.26.0"): ("3.10", "3.11", "3.12")})
    # Python not given: the newest Python that torch and torchvision both have
    report = plan(node(H100), kb=kb)
    assert report.stack is not None and report.stack.python == "3.12"
    assert report.stack.torchvision == "0.26.0"
    # Python given and the library is optional: it is left out, with the reason
    report = plan(node(H100), kb=kb, python="3.13")
    assert report.stack is not None and report.stack.torchvision is None
    assert any("torchvision 0.26.0 has no wheel for Python 3.13" in n for n in report.notes)
    # the library is required (a spec's `libraries`): the release is rejected instead
    required = make_plan(kb, PlanRequest(python="3.13", libraries=("torchvision",)), [node(H100)])
    assert chosen(required) == "2.8.0+cu128"
    assert "torchvision 0.26.0 has no wheel for Python 3.13" in reasons(required)
    missing = make_plan(kb, PlanRequest(libraries=("torchaudio",)), [node(H100)])
    assert missing.stack is None and "no torchaudio release is paired" in reasons(missing)


def test_unverified_facts_are_said_with_the_choice() -> None:
    report = plan(node(H100), kb=FakeKnowledge(unverified=("2.11",)))
    assert chosen(report) == "2.11.0+cu130"
    assert any(n.startswith("unverified: the build variants of torch 2.11.0") for n in report.notes)
    none = plan(node(H100, driver="418.67"), kb=FakeKnowledge(unverified=("2.11",)))
    assert any("variant lists of torch 2.11.0 are inferred" in n for n in none.notes)


def test_labels_are_left_off_where_wheels_have_none() -> None:
    mac, linux = node(driver=None, platform="macos_arm64"), node(driver=None, name="ci")
    report = plan(mac, linux)
    assert chosen(report) == "2.11.0+cpu"
    assert " torch==2.11.0 " in report.install["uv"].commands[1]  # one pin for both
    arm = plan(node(driver=None, platform="linux_aarch64"))
    # aarch64 CPU wheels are labelled +cpu from 2.8 on (models/indexes.py): one rule for
    # the recipe and the lock
    assert " torch==2.11.0+cpu " in arm.install["pip"].commands[1]


def test_fleet_with_different_pythons_gets_commands_without_a_python_version() -> None:
    report = plan(node(H100, name="a", python="3.12"), node(H100, name="b", python="3.11"))
    uv = report.install["uv"]
    assert uv.commands[0] == "uv venv .venv"
    assert any("3.12 on a, 3.11 on b" in n for n in uv.notes)


def test_windows_commands() -> None:
    report = plan(node(H100, platform="win_amd64", python="3.12"))
    pip = report.install["pip"].commands
    assert pip[0] == "py -3.12 -m venv .venv" and pip[1].startswith(".venv\\Scripts\\python -m pip")


def test_musl_is_rejected_and_the_uv_project_is_complete() -> None:
    report = plan(node(driver=None, musl=True))
    assert report.stack is None and "musl libc" in reasons(report)
    project = plan(node(H100)).install["uv"].files["pyproject.toml"]
    assert 'name = "' in project and 'version = "' in project


RTX5090 = TargetGpu("GeForce RTX 5090", "12.0")


@pytest.mark.parametrize("gpu", [B200, RTX5090])
def test_blackwell_needs_a_driver_of_the_r570_branch_whatever_the_cuda(gpu: TargetGpu) -> None:
    # failure catalog 3.2: the GPU generation needs a driver that knows it; R570 (570.26 on
    # Linux, the CUDA 12.8 GA driver) is the first for Blackwell, whatever the wheel's CUDA
    report = plan(node(gpu, driver="550.163.01"), cuda="12.8")
    assert chosen(report) is None
    assert "needs 570.26 or newer (the R570 branch)" in reasons(report)
    report = plan(node(gpu, driver="570.26"), cuda="12.8")
    assert "R570" not in reasons(report)


def test_the_generation_floor_is_per_os_and_only_for_blackwell() -> None:
    from torchenv.plan.evaluate import generation_driver

    assert generation_driver("12.0", "linux_x86_64") == ("570.26", "Blackwell")
    assert generation_driver("10.0", "win_amd64") == ("570.65", "Blackwell")
    assert generation_driver("11.0", "linux_aarch64") == ("570.26", "Blackwell")
    assert generation_driver("9.0", "linux_x86_64") is None
    assert generation_driver(None, "linux_x86_64") is None
    assert generation_driver("x.y", "linux_x86_64") is None
