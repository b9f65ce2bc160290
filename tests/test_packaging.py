"""The installed layout: the kernels install as motifnet.kernels, never as a top-level package
named ``kernels`` (the name of an unrelated PyPI distribution whose files a top-level
package would overwrite), and the package data (the JASPAR database) ships."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_holds_only_motifnet(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("motifnet-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"motifnet", next(t for t in tops if t.endswith(".dist-info"))}, tops
    assert "motifnet/kernels/conv1d.py" in names and "motifnet/kernels/registry.py" in names
    assert "motifnet/motif/JASPAR2024_CORE.meme" in names
    assert not any(name.startswith("kernels/") for name in names)
