"""TensorFlow's start-up chatter is kept off the terminal; everything else it prints is kept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cvd_explorer.quiet_tf import drop_startup_noise

REPO = Path(__file__).resolve().parents[2]

NO_GPU_STARTUP = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1795830609.289200   11306 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results.
I0000 00:00:1795830609.289640   11306 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
E0000 00:00:1795830611.682736   11306 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)
I0000 00:00:1795830942.693441   13277 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.
/lib/python3.11/site-packages/keras/src/foo.py:1: UserWarning: something a user should read
"""  # noqa: E501  (TensorFlow's start-up lines, verbatim)


def test_known_lines_go_and_warnings_stay():
    assert drop_startup_noise(NO_GPU_STARTUP) == (
        "/lib/python3.11/site-packages/keras/src/foo.py:1: UserWarning: something a user should read\n"
    )


def test_cuda_failure_is_kept_on_a_machine_with_a_driver():
    text = ("E0000 00:00:1.0 1 cuda_platform.cc:52] failed call to cuInit: CUDA_ERROR_NO_DEVICE\n"
            "W0000 00:00:1.0 1 gpu_device.cc:2] Cannot dlopen some GPU libraries: libcudnn.so.9\n")
    assert drop_startup_noise(text) == text


def test_a_tensorflow_command_prints_no_startup_chatter(tmp_path):
    code = (
        "import sys; from cvd_explorer.cli import main; rc = main(['evaluate', sys.argv[1]]); "
        "print('tensorflow loaded:', 'tensorflow' in sys.modules); sys.exit(rc)"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "no-run")], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "tensorflow loaded: True" in proc.stdout
    for noise in ("absl::InitializeLog", "oneDNN", "cuda drivers", "cuInit"):
        assert noise not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("error:") and "no-run" in proc.stderr, proc.stderr


def test_devices_can_still_be_configured_after_a_panel_import():
    # GPU users call set_memory_growth / set_visible_devices after importing; that fails once
    # TensorFlow has initialised its devices, which the quiet import must not do.
    code = (
        "from cvd_explorer import Explorer\n"
        "import tensorflow as tf\n"
        "cpu = tf.config.list_physical_devices('CPU')[0]\n"
        "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)\n"
        "print(len(tf.config.list_logical_devices('CPU')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "2"
