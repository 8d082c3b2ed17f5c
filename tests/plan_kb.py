"""A small, hand-made knowledge base for planner unit tests: three releases whose facts are
chosen to exercise each rule, independent of the packaged data."""

from __future__ import annotations

from dataclasses import dataclass, field

from torchenv.models.compat import (
    CondaForgeBuild,
    DefaultBuild,
    DomainPairing,
    DriverRequirement,
    GpuModel,
    TorchRelease,
    VariantArchs,
    minor_of,
    variant_cuda,
)

OLD = ("sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90")
NEW = ("sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120")
SBSA = ("sm_80", "sm_90", "sm_100", "sm_110", "sm_120")
PY = ("3.10", "3.11", "3.12", "3.13")


def release(
    version: str,
    default: str,
    vision: str | None,
    glibc: str | None = None,
    python: tuple[str, ...] = PY,
    yanked: bool = False,
) -> TorchRelease:
    archs = NEW if default.startswith("cu13") else OLD
    return TorchRelease(
        version=version,
        released="2026-01-01",
        requires_python=">=3.10",
        python=dict.fromkeys(("linux_x86_64", "linux_aarch64", "win_amd64", "macos_arm64"), python),
        pypi_default={"linux_x86_64": default, "linux_aarch64": "cpu", "win_amd64": "cpu"},
        torchvision=vision,
        torchaudio=None,
        source="test",
        yanked=yanked,
        glibc=glibc,
        default_build=DefaultBuild(default, variant_cuda(default), archs, "9.1", "2.2"),
    )


@dataclass
class FakeKnowledge:
    releases: list[TorchRelease] = field(
        default_factory=lambda: [
            release("2.6.0", "cu124", "0.21.0"),
            release("2.8.0", "cu128", "0.23.0", glibc="2.28"),
            release("2.11.0", "cu130", "0.26.0", glibc="2.28"),
        ]
    )
    variants: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "2.6": ("cu118", "cu124", "cu126", "rocm6.2.4", "cpu"),
            "2.8": ("cu126", "cu128", "cpu"),
            "2.11": ("cu126", "cu130", "xpu", "cpu"),
        }
    )
    archs: dict[tuple[str, str], tuple[str, ...]] = field(
        default_factory=lambda: {
            ("2.6", "cu118"): ("sm_37", *OLD),
            ("2.6", "cu124"): OLD,
            ("2.6", "cu126"): OLD,
            ("2.8", "cu126"): OLD,
            ("2.8", "cu128"): ("sm_70", *NEW),
            ("2.11", "cu126"): OLD,
            ("2.11", "cu130"): NEW,
        }
    )
    conda: tuple[CondaForgeBuild, ...] = (
        CondaForgeBuild("2.8.0", "linux_x86_64", ("12.9",), "test"),
        CondaForgeBuild("2.11.0", "linux_x86_64", ("12.9", "13.0"), "test"),
    )

    # --- CompatKnowledge ---
    def driver_requirement(self, cuda: str, os: str = "linux") -> DriverRequirement | None:
        floors = {"11": "450.80.02", "12": "525.60.13", "13": "580.65.06"}
        release_floors = {
            "11.8": "520.61.05",
            "12.4": "550.54.14",
            "12.6": "560.28.03",
            "12.8": "570.26",
            "12.9": "575.51.03",
            "13.0": "580.65.06",
        }
        major = cuda.split(".", maxsplit=1)[0]
        if major not in floors:
            return None
        return DriverRequirement(cuda, floors[major], release_floors.get(cuda), "test")

    def index_variants(self, torch_version: str) -> tuple[str, ...]:
        return self.variants.get(minor_of(torch_version), ())

    def variant_archs(
        self, torch_version: str, variant: str, platform: str = "linux_x86_64"
    ) -> VariantArchs | None:
        if platform == "linux_aarch64" and variant.startswith("cu13"):
            # the SBSA lists: no sm_87 (Orin), sm_110 for Thor
            return VariantArchs(variant, SBSA, "test", True)
        if platform != "linux_x86_64":
            return None
        found = self.archs.get((minor_of(torch_version), variant))
        return VariantArchs(variant, found, "test", True) if found else None

    def pairing(self, torch_version: str) -> DomainPairing | None:
        return None

    def last_pytorch_channel_version(self) -> str:
        return "2.5.1"

    # --- PlanKnowledge ---
    def torch_releases(self) -> tuple[TorchRelease, ...]:
        return tuple(self.releases)

    def platform_variants(self, torch_version: str, platform: str) -> tuple[str, ...]:
        if platform.startswith("macos"):
            return ("cpu",)
        return self.index_variants(torch_version)

    def conda_forge_builds(self) -> tuple[CondaForgeBuild, ...]:
        return self.conda

    def conda_forge_archs(self, cuda: str, platform: str) -> VariantArchs | None:
        archs = (
            ("sm_50", "sm_60", "sm_70", *NEW, "compute_120")
            if cuda == "12.9"
            else (*NEW, "compute_120")
        )
        return VariantArchs("cu" + cuda.replace(".", ""), archs, "test", False)

    def gpu_models(self) -> tuple[GpuModel, ...]:
        return (GpuModel("H100", "9.0", "Hopper", "datacenter", "test"),)

    library_wheels: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    unverified: tuple[str, ...] = ()

    def library_pythons(self, library: str, version: str, platform: str) -> tuple[str, ...] | None:
        return self.library_wheels.get((library, version))

    def variants_verified(self, torch_version: str) -> bool:
        return minor_of(torch_version) not in self.unverified

    def describe_origin(self) -> str:
        return "test data"
