"""The Canny step alone: in-graph Canny (torch CPU, CUDA if present) against ``cv2.Canny``
(plus the upload of its edge map to the GPU when there is one)."""

from __future__ import annotations

import cv2
import torch

from ..data.generated import tabletop_frame
from ..edges import RGBCanny
from ..model.config import ModelConfig
from .stats import time_call


def canny_step_costs(config: ModelConfig, repeats: int) -> list[dict]:
    """Rows ``{"what", "ms": percentiles, "size": [h, w]}`` at the network input size."""
    h, w = config.input_size
    rgb = tabletop_frame(1, h, w)
    canny = RGBCanny(config.canny_low, config.canny_high, config.hysteresis_rounds, config.canny_blur).eval()
    rows = []

    def cv2_canny():
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        grey = cv2.GaussianBlur(grey, (5, 5), 0) if config.canny_blur else grey
        return cv2.Canny(grey, config.canny_low, config.canny_high)

    rows.append({"what": "cv2.Canny (grey+blur+Canny, CPU)", "ms": time_call(cv2_canny, repeats)})
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float()
    with torch.inference_mode():
        rows.append(
            {
                "what": f"in-graph Canny, torch CPU ({config.hysteresis_rounds} rounds)",
                "ms": time_call(lambda: canny(x), repeats),
            }
        )
    if torch.cuda.is_available():
        gpu_canny, xg = canny.cuda(), x.cuda()

        def on_gpu():
            with torch.inference_mode():
                gpu_canny(xg)
            torch.cuda.synchronize()

        def cv2_and_upload():
            torch.from_numpy(cv2_canny()).cuda()
            torch.cuda.synchronize()

        rows.append({"what": "in-graph Canny, torch CUDA fp32", "ms": time_call(on_gpu, repeats)})
        rows.append({"what": "cv2.Canny (CPU) + upload to GPU", "ms": time_call(cv2_and_upload, repeats)})
    for row in rows:
        row["size"] = [h, w]
    return rows
