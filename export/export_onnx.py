#!/usr/bin/env python3
"""Export a trained model to one camera-frame ONNX graph (same as the ``egsa-export`` command).

Thin CLI over :func:`egsa_ros.export.cli.export_and_check`; see ``--help``.

    python export/export_onnx.py --frame-size 480x640 --out out/default_small_480x640.onnx
"""

import sys

from egsa_ros.export.cli import main

if __name__ == "__main__":
    sys.exit(main())
