"""Fixed image set for the Canny parity tests and the Canny benchmark.

``test_images()`` returns natural photographs from scikit-image's bundled data (no
download) plus generated scenes, all 480x640 RGB uint8. scikit-image is a test/bench
dependency only: without it the photographs are left out (with a note on stderr) and
only the generated scenes are returned.
"""

from __future__ import annotations

import sys

import cv2
import numpy as np

HEIGHT = 480
WIDTH = 640

_SKIMAGE_NAMES = ("astronaut", "coffee", "chelsea", "rocket", "camera")


def _cover_resize(img: np.ndarray, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """Scale ``img`` (h,w,3) uint8 to cover height x width, then centre-crop to it."""
    h, w = img.shape[:2]
    scale = max(height / h, width / w)
    nh, nw = max(height, round(h * scale)), max(width, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    img = cv2.resize(img, (nw, nh), interpolation=interp)
    top, left = (nh - height) // 2, (nw - width) // 2
    return np.ascontiguousarray(img[top : top + height, left : left + width])


def natural_images() -> list[tuple[str, np.ndarray]]:
    """Photographs from ``skimage.data`` as (name, 480x640x3 uint8 RGB); [] without skimage."""
    try:
        import skimage.data as skdata  # noqa: PLC0415 - optional test/bench dependency
    except ImportError:
        print("note: scikit-image not importable, natural test images skipped", file=sys.stderr)
        return []
    out = []
    for name in _SKIMAGE_NAMES:
        img = getattr(skdata, name)()
        if img.ndim == 2:
            img = np.stack([img] * 3, axis=-1)
        out.append((name, _cover_resize(img[..., :3])))
    return out


def _shapes(rng: np.random.Generator) -> np.ndarray:
    img = np.full((HEIGHT, WIDTH, 3), 40, np.uint8)
    for _ in range(40):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        kind = int(rng.integers(0, 4))
        x, y = int(rng.integers(0, WIDTH)), int(rng.integers(0, HEIGHT))
        if kind == 0:
            cv2.circle(img, (x, y), int(rng.integers(5, 80)), colour, -1, cv2.LINE_AA)
        elif kind == 1:
            x2, y2 = x + int(rng.integers(-150, 150)), y + int(rng.integers(-150, 150))
            cv2.rectangle(img, (x, y), (x2, y2), colour, -1)
        elif kind == 2:
            pts = rng.integers(0, [WIDTH, HEIGHT], (int(rng.integers(3, 7)), 2)).astype(np.int32)
            cv2.fillPoly(img, [pts], colour, cv2.LINE_AA)
        else:
            x2, y2 = int(rng.integers(0, WIDTH)), int(rng.integers(0, HEIGHT))
            cv2.line(img, (x, y), (x2, y2), colour, int(rng.integers(1, 6)), cv2.LINE_AA)
    return img


def _gradient_noise(rng: np.random.Generator) -> np.ndarray:
    """Smooth gradients, a sawtooth with sharp drops and Gaussian noise."""
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    r = (2.5 * xx + 0.8 * yy) % 256.0  # ramps with a sharp drop every ~100 px
    g = 255.0 * yy / (HEIGHT - 1)
    b = 127.5 + 127.5 * np.sin(xx / 9.0) * np.cos(yy / 13.0)
    img = np.stack([r, g, b], axis=-1) + rng.normal(0.0, 10.0, (HEIGHT, WIDTH, 3))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _checkerboard() -> np.ndarray:
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    board = ((xx // 40 + yy // 40) % 2).astype(np.uint8) * 200 + 30
    img = np.stack([board] * 3, axis=-1)
    # A slightly rotated copy in the middle gives non-axis-aligned edges too.
    rot = cv2.getRotationMatrix2D((WIDTH / 2, HEIGHT / 2), 17.0, 1.0)
    warped = cv2.warpAffine(img, rot, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR)
    img[120:360, 160:480] = warped[120:360, 160:480]
    return img


def _text(rng: np.random.Generator) -> np.ndarray:
    img = np.full((HEIGHT, WIDTH, 3), 235, np.uint8)
    for i in range(12):
        colour = tuple(int(c) for c in rng.integers(0, 120, 3))
        scale = float(rng.uniform(0.6, 1.6))
        org = (int(rng.integers(0, 200)), 35 + 38 * i)
        cv2.putText(
            img,
            "Glassware 0123 edges",
            org,
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            colour,
            int(rng.integers(1, 3)),
            cv2.LINE_AA,
        )
    return img


def _zone_plate() -> np.ndarray:
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    r2 = (xx - WIDTH / 2) ** 2 + (yy - HEIGHT / 2) ** 2
    grey = 127.5 + 127.5 * np.cos(r2 / 900.0)
    grey = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
    return np.stack([grey, 255 - grey, grey // 2 + 64], axis=-1)


def synthetic_images(seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """Generated scenes as (name, 480x640x3 uint8 RGB); deterministic for a given seed."""
    rng = np.random.default_rng(seed)
    return [
        ("shapes", _shapes(rng)),
        ("gradient_noise", _gradient_noise(rng)),
        ("checkerboard", _checkerboard()),
        ("text", _text(rng)),
        ("zone_plate", _zone_plate()),
    ]


def test_images() -> list[tuple[str, np.ndarray]]:
    """All Canny test images: list of (name, 480x640x3 uint8 RGB), photos first."""
    return natural_images() + synthetic_images()


# Keep pytest from collecting the helper above as a test when this module is imported
# into a test file.
test_images.__test__ = False
