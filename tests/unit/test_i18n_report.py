"""The report layer in Chinese: a finding of doctor, the --explain entry and the rule listing
are shown in Chinese under a Chinese locale, while doctor's JSON stays what it is in English.
Real processes (the language is chosen once per process)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from builders import add_torch, make_venv

CJK = re.compile("[\u4e00-\u9fff]")


def torchenv(language: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LANGUAGE", "LC_ALL", "LANG")}
    env.update(LANG=language, TORCHENV_NVML="0")
    return subprocess.run(
        [sys.executable, "-m", "torchenv", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_a_finding_is_shown_in_chinese_and_its_json_stays_english(tmp_path: Path) -> None:
    env = make_venv(tmp_path)
    add_torch(
        env.site, "2.14.1+cu130", requires=[]
    )  # its python is a stub: interpreter-does-not-run
    english = torchenv("C.UTF-8", "doctor", "--prefix", str(env.prefix))
    chinese = torchenv("zh_CN.UTF-8", "doctor", "--prefix", str(env.prefix))
    assert "Traceback" not in chinese.stderr and english.returncode == chinese.returncode
    title = next(line for line in english.stdout.splitlines() if "interpreter-does-not-run" in line)
    finding = english.stdout.splitlines().index(title) + 1
    zh_lines = chinese.stdout.splitlines()
    zh_title = zh_lines[
        zh_lines.index(next(x for x in zh_lines if "interpreter-does-not-run" in x))
    ]
    assert CJK.search(zh_title) and CJK.search(zh_lines[zh_lines.index(zh_title) + 1])
    assert english.stdout.splitlines()[finding] not in chinese.stdout
    docs = [
        torchenv(lang, "doctor", "--prefix", str(env.prefix), "--json").stdout
        for lang in ("C.UTF-8", "zh_CN.UTF-8")
    ]
    assert docs[0] == docs[1] and json.loads(docs[0])["schema"] == "torchenv.doctor/1"


def test_explain_and_the_rule_listing_in_chinese() -> None:
    done = torchenv("zh_CN.UTF-8", "doctor", "--explain", "cpu-build-on-gpu-host")
    assert done.returncode == 0
    for heading in ("含义", "torchenv 如何检测", "修复方法"):
        assert f"\n{heading}\n" in done.stdout
    assert "`torch.cuda.is_available()`" in done.stdout  # code stays as it is
    listing = torchenv("zh_TW.UTF-8", "doctor", "--list-rules").stdout
    assert "driver-too-old-for-build" in listing and CJK.search(listing)
