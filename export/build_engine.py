#!/usr/bin/env python3
"""Build a TensorRT engine from a camera-frame ONNX graph (same as ``egsa-build-engine``).

Thin CLI over :func:`egsa_ros.model.tensorrt_engine.build_engine`; see ``--help``.
"""

import sys

from egsa_ros.export.engine_cli import main

if __name__ == "__main__":
    sys.exit(main())
