"""--gpu values and nvidia-smi names resolve to compute capabilities (gpus.json, S12)."""

from __future__ import annotations

import pytest

from torchenv.errors import ExitCode, UsageError
from torchenv.knowledge import load_knowledge
from torchenv.knowledge.gpus import GpuTarget, gpu_name_cc, matching, normalise, resolve_gpu
from torchenv.models.compat import GpuModel

MODELS = load_knowledge(packaged_only=True).gpu_models()

# names as nvidia-smi (or torch.cuda.get_device_name on Jetson) prints them
SMI_NAMES = [
    ("NVIDIA H100 80GB HBM3", "9.0"),
    ("NVIDIA H100 PCIe", "9.0"),
    ("NVIDIA A100-SXM4-80GB", "8.0"),
    ("Tesla V100-SXM2-16GB", "7.0"),
    ("NVIDIA GeForce RTX 4090", "8.9"),
    ("NVIDIA GeForce RTX 3060 Laptop GPU", "8.6"),
    ("NVIDIA RTX A6000", "8.6"),
    ("NVIDIA L40S", "8.9"),
    ("NVIDIA GeForce GTX 1080 Ti", "6.1"),
    ("NVIDIA B200", "10.0"),
    ("NVIDIA GB10", "12.1"),
    ("Orin", "8.7"),
    ("Tesla T4", "7.5"),
    ("NVIDIA L4", "8.9"),
    ("NVIDIA GH200 480GB", "9.0"),
    ("NVIDIA RTX 6000 Ada Generation", "8.9"),
    ("Quadro RTX 8000", "7.5"),
    ("NVIDIA GeForce RTX 2080 Ti", "7.5"),
    ("NVIDIA GeForce GTX 1660 SUPER", "7.5"),
    ("NVIDIA RTX PRO 6000 Blackwell Workstation Edition", "12.0"),
    ("NVIDIA H800", "9.0"),
    ("NVIDIA H800 PCIe", "9.0"),
    ("NVIDIA H20", "9.0"),
    ("NVIDIA A800-SXM4-80GB", "8.0"),
    ("NVIDIA A800 80GB PCIe", "8.0"),
    ("Tesla P40", "6.1"),
    ("Tesla P4", "6.1"),
    ("Tesla M60", "5.2"),
    ("Tesla M40 24GB", "5.2"),
    ("NVIDIA GeForce GTX 980 Ti", "5.2"),
    ("NVIDIA GeForce GTX 950", "5.2"),
    ("NVIDIA TITAN RTX", "7.5"),
    ("NVIDIA T1000 8GB", "7.5"),
    ("NVIDIA T400 4GB", "7.5"),
    ("NVIDIA T600 Laptop GPU", "7.5"),
    ("NVIDIA Jetson AGX Thor", "11.0"),
]
# names as users type them
TYPED = [
    ("h100", "9.0"),
    ("rtx 5090", "12.0"),
    ("5090", "12.0"),
    ("a100", "8.0"),
    ("4090", "8.9"),
    ("gtx1080", "6.1"),
    ("RTX3090", "8.6"),
    ("l40s", "8.9"),
    ("A6000", "8.6"),
    ("h800", "9.0"),
    ("h20", "9.0"),
    ("a800", "8.0"),
    ("p40", "6.1"),
    ("p4", "6.1"),
    ("m60", "5.2"),
    ("m40", "5.2"),
    ("gtx 970", "5.2"),
    ("titan rtx", "7.5"),
    ("t1000", "7.5"),
    ("Thor", "11.0"),
]


@pytest.mark.parametrize(("name", "cc"), SMI_NAMES + TYPED)
def test_names_resolve(name: str, cc: str) -> None:
    target = resolve_gpu(name, MODELS)
    assert (target.cc, target.how) == (cc, "name")
    assert gpu_name_cc(name, MODELS) == cc


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("NVIDIA H800", "H800"),
        ("NVIDIA H20", "H20"),
        ("NVIDIA H200", "H200"),
        ("NVIDIA A800-SXM4-80GB", "A800"),
        ("Tesla P40", "Tesla P40"),
        ("Tesla P4", "Tesla P4"),
        ("Tesla P100-PCIE-16GB", "Tesla P100"),
        ("Tesla M60", "Tesla M60"),
        ("Tesla M40", "Tesla M40"),
        ("NVIDIA GeForce GTX 980", "GeForce GTX 9xx (950-980 Ti)"),
        ("NVIDIA GeForce GTX 1080", "GeForce GTX 10xx (1050-1080 Ti), TITAN Xp"),
        ("NVIDIA TITAN RTX", "TITAN RTX"),
        ("NVIDIA TITAN V", "TITAN V"),
        ("NVIDIA T1000 8GB", "T400 / T600 / T1000"),
        ("NVIDIA T400", "T400 / T600 / T1000"),
        ("Tesla T4", "Tesla T4"),
        ("NVIDIA RTX A4000", "RTX A-series (A400-A6000)"),
        ("Thor", "Jetson AGX Thor (T5000/T4000)"),
    ],
)
def test_added_names_match_one_row_only(name: str, model: str) -> None:
    # no pattern of the added rows reaches a neighbour: H20/H200, P4/P40, T4/T400, A800/A80xx
    assert [m.name for m in matching(name, MODELS)] == [model]


def test_thor_is_11_0() -> None:
    # CUDA 13 numbers Thor 11.0 (10.1 under CUDA 12.8/12.9, S10a): --gpu Thor plans for sm_110
    target = resolve_gpu("Thor", MODELS)
    assert (target.cc, target.segment) == ("11.0", "embedded")


def test_similar_names_stay_apart() -> None:
    # word boundaries: A10 is not A100, L40 is not L40S, B200 is not GB200
    assert resolve_gpu("NVIDIA A10", MODELS).name == "A10"
    assert resolve_gpu("NVIDIA L40", MODELS).name == "L40"
    assert resolve_gpu("NVIDIA GB200", MODELS).name == "GB200"
    assert resolve_gpu("NVIDIA A10G", MODELS).cc == "8.6"


@pytest.mark.parametrize(
    ("text", "cc", "how"),
    [
        ("sm_90", "9.0", "arch"),
        ("sm90", "9.0", "arch"),
        ("SM_120", "12.0", "arch"),
        ("sm_37", "3.7", "arch"),
        ("9.0", "9.0", "cc"),
        ("12.1", "12.1", "cc"),
        (" 8.6 ", "8.6", "cc"),
    ],
)
def test_archs_and_compute_capabilities(text: str, cc: str, how: str) -> None:
    target = resolve_gpu(text, MODELS)
    assert (target.name, target.cc, target.how) == (text.strip(), cc, how)


def test_segments() -> None:
    assert resolve_gpu("Orin", MODELS).segment == "embedded"
    assert resolve_gpu("rtx 4090", MODELS).segment == "consumer"
    # a CC or arch gets the segment its known GPUs share, none when they differ
    assert resolve_gpu("8.7", MODELS) == GpuTarget("8.7", "8.7", "cc", "embedded")
    assert resolve_gpu("sm_90", MODELS).segment == "datacenter"
    assert resolve_gpu("8.6", MODELS).segment is None
    assert resolve_gpu("9.9", MODELS).segment is None


@pytest.mark.parametrize("text", ["compute_90", "foo", "", "sm_5", "9", "rtx 6000", "8.6.1"])
def test_unknown_values_say_what_is_expected(text: str) -> None:
    with pytest.raises(UsageError) as info:
        resolve_gpu(text, MODELS)
    err = info.value
    assert err.exit_code == ExitCode.USAGE and err.reference == "gpu-unknown"
    assert err.message.startswith('--gpu takes a GPU name (e.g. "H100", "RTX 4090"), a compute')
    assert f'"{text.strip()}" is none of these' in err.message
    assert err.hint is not None and "H100" in err.hint


@pytest.mark.parametrize("text", ["99.1", "2.0", "13.0", "sm_20", "sm_130"])
def test_compute_capability_out_of_range(text: str) -> None:
    with pytest.raises(UsageError) as info:
        resolve_gpu(text, MODELS)
    assert info.value.reference == "gpu-cc-range" and "3 to 12" in info.value.message


def test_ambiguous_names_are_refused() -> None:
    models = (
        GpuModel("Alpha 100", "8.0", "Ampere", "datacenter", "S12", (r"\balpha\b",)),
        GpuModel("Alpha 200", "9.0", "Hopper", "datacenter", "S12", (r"\balpha\b",)),
        GpuModel("Beta", "9.0", "Hopper", "datacenter", "S12", (r"\bbeta\b", r"\balpha 2")),
    )
    with pytest.raises(UsageError) as info:
        resolve_gpu("alpha", models)
    assert info.value.reference == "gpu-ambiguous"
    assert "Alpha 100 (8.0)" in info.value.message and "Alpha 200 (9.0)" in info.value.message
    assert gpu_name_cc("alpha", models) is None
    # several rows of one compute capability are not ambiguous
    assert resolve_gpu("alpha 200", models[1:]).cc == "9.0"


def test_normalise() -> None:
    assert normalise("NVIDIA GeForce RTX 3060 Laptop GPU") == "rtx 3060 laptop gpu"
    assert normalise("Tesla V100-SXM2-16GB") == "v100 sxm2 16gb"
    assert normalise("  NVIDIA   A100_PCIE ") == "a100 pcie"


def test_gpu_name_cc_unknown_and_default_models() -> None:
    assert gpu_name_cc("NVIDIA Quantum 9000") is None
    assert gpu_name_cc("") is None
    assert gpu_name_cc("NVIDIA H100 NVL") == "9.0"  # packaged models when none are given


@pytest.mark.parametrize(
    ("smi_name", "cc"),
    [
        # the GPUs issue 13 found missing, as nvidia-smi prints them (NVIDIA's compute
        # capability table, S12)
        ("Tesla K40m", "3.5"),
        ("NVIDIA GeForce GTX 750 Ti", "5.0"),
        ("Quadro P4000", "6.1"),
        ("NVIDIA L20", "8.9"),
        ("NVIDIA RTX PRO 4000 Blackwell", "12.0"),
        ("NVIDIA RTX PRO 4500 Blackwell", "12.0"),
        ("NVIDIA RTX PRO 5000 Blackwell", "12.0"),
        ("NVIDIA Tegra X1", "5.3"),
        # and their neighbours keep theirs
        ("Tesla P4", "6.1"),
        ("NVIDIA H20", "9.0"),
        ("NVIDIA Jetson Orin Nano", "8.7"),
        ("NVIDIA RTX 4000 Ada Generation", "8.9"),
    ],
)
def test_the_gpus_that_were_missing_resolve(smi_name: str, cc: str) -> None:
    assert gpu_name_cc(smi_name) == cc


# NVIDIA's compute capability table (S12b) as nvidia-smi names its GPUs: the rows added from it
# and their neighbours, each to exactly one compute capability
TABLE_NAMES = [
    ("NVIDIA GeForce RTX 3060 Laptop GPU", "8.6"),
    ("NVIDIA A10G", "8.6"),
    ("Tesla T4", "7.5"),
    ("NVIDIA RTX A6000", "8.6"),
    ("NVIDIA RTX A500 Laptop GPU", "8.6"),
    ("Quadro RTX 8000", "7.5"),
    ("Quadro RTX 3000 with Max-Q Design", "7.5"),
    ("NVIDIA L40S", "8.9"),
    ("NVIDIA H20", "9.0"),
    ("NVIDIA GB200", "10.0"),
    ("NVIDIA B300 SXM6 AC", "10.3"),
    ("NVIDIA DGX Spark", "12.1"),
    ("NVIDIA GB10", "12.1"),
    ("NVIDIA Thor", "11.0"),
    ("Jetson AGX Thor", "11.0"),
    ("NVIDIA GeForce RTX 5050", "12.0"),
    ("NVIDIA RTX PRO 6000 Blackwell Server Edition", "12.0"),
    ("NVIDIA GeForce RTX 4050 Laptop GPU", "8.9"),
    ("NVIDIA RTX 2000 Ada Generation", "8.9"),
    ("Quadro GV100", "7.0"),
    ("Quadro T2000", "7.5"),
    ("NVIDIA T1200 Laptop GPU", "7.5"),
    ("NVIDIA T500", "7.5"),
    ("NVIDIA GeForce GTX 1650 Ti", "7.5"),
    ("Quadro P6000", "6.1"),
    ("Quadro P2000", "6.1"),
    ("Quadro P620", "6.1"),
    ("Quadro P5200", "6.1"),
    ("Quadro P400", "6.1"),
    ("NVIDIA TITAN X (Pascal)", "6.1"),
    ("NVIDIA TITAN Xp", "6.1"),
    ("Quadro GP100", "6.0"),
    ("Tesla P100-PCIE-16GB", "6.0"),
    ("Quadro M6000 24GB", "5.2"),
    ("Quadro M5000", "5.2"),
    ("Quadro M2200", "5.2"),
    ("NVIDIA GeForce GTX TITAN X", "5.2"),
    ("NVIDIA GeForce GTX 980M", "5.2"),
    ("NVIDIA GeForce 910M", "5.2"),
    ("Quadro M5000M", "5.0"),
    ("Quadro M1200", "5.0"),
    ("Quadro K2200", "5.0"),
    ("Quadro K620M", "5.0"),
    ("NVIDIA GeForce GTX 960M", "5.0"),
    ("NVIDIA GeForce 940M", "5.0"),
    ("NVS 810", "5.0"),
    ("Tesla K80", "3.7"),
    ("Tesla K20m", "3.5"),
    ("Tesla K40c", "3.5"),
    ("Quadro K6000", "3.5"),
    ("Quadro K610M", "3.5"),
    ("NVIDIA GeForce GTX TITAN Black", "3.5"),
    ("NVIDIA GeForce GTX TITAN", "3.5"),
    ("NVIDIA GeForce GTX 780 Ti", "3.5"),
    ("NVIDIA GeForce GT 720", "3.5"),
    ("NVIDIA GeForce 920M", "3.5"),
]


@pytest.mark.parametrize(("smi_name", "cc"), TABLE_NAMES)
def test_nvidia_table_names_resolve_to_one_cc(smi_name: str, cc: str) -> None:
    assert {m.cc for m in matching(smi_name, MODELS)} == {cc}
    assert gpu_name_cc(smi_name, MODELS) == cc


@pytest.mark.parametrize(
    "smi_name",
    # compute capability 3.0 parts (older than the table covers) next to 3.5/5.x rows: a
    # trailing "M" or a "GTX" keeps them off those rows
    ["Quadro K5200M", "NVIDIA GeForce GTX 780M", "Quadro K5000", "NVIDIA GeForce GTX 770"],
)
def test_older_neighbours_stay_unknown(smi_name: str) -> None:
    assert matching(smi_name, MODELS) == []


def test_table_rows_cite_s12b() -> None:
    rows = [m for m in MODELS if m.source == "S12b"]
    assert len(rows) == 15 and all(m.match for m in rows)
    assert {m.name for m in matching("NVIDIA TITAN X (Pascal)", MODELS)} == {"TITAN X (Pascal)"}
