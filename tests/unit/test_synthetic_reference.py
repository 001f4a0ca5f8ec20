"""The binary synthetic output (``--classes 2``, the default) is byte-identical to the generator's
output before it became a package: every file's sha256, recorded in
``tests/unit/data/synth_binary_reference.sha256`` (n=40, size 64, seed 3, hard fraction 0.3, label noise
0.1, 4 duplicates: every case, flips and every copy kind but one)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cvd_explorer.data.synthetic import generate

REFERENCE = Path(__file__).parent / "data" / "synth_binary_reference.sha256"


def _digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_binary_output_matches_the_recorded_digests(tmp_path: Path) -> None:
    lines = [line.split("  ", 1) for line in REFERENCE.read_text().splitlines()]
    expected = {name: digest for digest, name in lines}
    generate(tmp_path / "ref", n=40, size=64, seed=3, hard_fraction=0.3, label_noise=0.1, duplicates=4)
    got = _digests(tmp_path / "ref")
    assert len(expected) == 90
    assert sorted(got) == sorted(expected)
    assert [name for name in expected if got[name] != expected[name]] == []
