"""Join the pieces of one transparent component that belong to one object.

Image edges and depth jumps cut a component into pieces (:mod:`.instances`); glass is full of
edges of its own (rims, a liquid's surface, labels, refraction), which cut one object into pieces
stacked one above the other. Three rules join a piece B to a piece A (image rows: "below" is the
next row down):

- resting: an object stands on the table, not on another piece, so a piece whose lowest pixels
  mostly rest on other pieces joins the one they rest on most. On the v2 validation renders with
  the model's own mask (table plane from the camera pose) this rule with Canny thresholds of
  100/250 gave glass d<1.05 0.418 / RMSE 0.088 m / per-object centroid p50 4.8 cm, against 0.401
  / 0.101 / 5.3 without image edges and 0.352 / 0.129 / 7.2 with the earlier 60/150 thresholds
  and no merging (246 objects for 158 true ones; the model of that time).
- supporting: a stemmed glass's bowl does not rest on its stem (its lowest pixels are its sloping
  sides), so a piece whose top pixels lie mostly under one piece joins it (a stem under its bowl);
- neck: a piece whose highest row lies wholly under one piece and meets it over at most a
  quarter of that piece's width joins it (a stem with its foot; a glass in front of another
  meets it along its rim, a wide contact).

The last two were each fixed before measuring (``models/rules/2026-12-04_geometry_*.md``). With
the bundled model on the v2 validation renders they moved own-mask glass d<1.05 0.395 -> 0.443 and
centroid p50 4.90 -> 4.64 cm, and with true masks centroid p50 1.31 -> 0.81 cm.
"""

from __future__ import annotations

import numpy as np


def merge_stacked(
    pieces: np.ndarray, resting_share: float | None, supporting_share: float | None, neck_share: float | None
) -> np.ndarray:
    """(h, w) int32 pieces renumbered 1..k after merging, one pair at a time, by three rules
    (None turns one off), each piece B into a piece A when:

    - resting: more than ``resting_share`` of B's lowest pixels (no pixel of B right below)
      rest on other pieces; A is the one they rest on most;
    - supporting: more than ``supporting_share`` of B's top pixels (no pixel of B right above)
      lie under the one piece A (a stem whose top is covered by its bowl);
    - neck: all of B's highest row lies under A and B meets A (B's pixels with an A pixel right
      above) over at most ``neck_share`` of A's width in columns (a stem and its foot under a
      bowl; a glass in front of another meets it along its rim, a wide contact).
    """
    pieces = pieces.copy()
    while True:
        above = np.zeros_like(pieces)
        above[1:] = pieces[:-1]  # the pixel over each pixel (0 over the first row)
        below = np.zeros_like(pieces)
        below[:-1] = pieces[1:]  # the pixel under each pixel (0 under the last row)
        pair = None
        if resting_share is not None:
            pair = _first_match(pieces, below, resting_share, one_piece=False)
        if pair is None and supporting_share is not None:
            pair = _first_match(pieces, above, supporting_share, one_piece=True)
        if pair is None and neck_share is not None:
            pair = _neck(pieces, above, neck_share)
        if pair is None:
            break
        piece, into = pair
        pieces[pieces == piece] = into
    ids = np.unique(pieces)
    relabel = np.zeros(int(ids.max()) + 1, np.int32)
    relabel[ids[ids > 0]] = np.arange(1, int((ids > 0).sum()) + 1)
    return relabel[pieces]


def _first_match(pieces: np.ndarray, neighbour: np.ndarray, share: float, one_piece: bool) -> tuple[int, int] | None:
    """The first ``(piece, into)`` whose boundary pixels towards ``neighbour`` (pixels whose
    neighbour is not the same piece) lie on other pieces for more than ``share`` of them (on ONE
    piece when ``one_piece``), ``into`` being the piece they lie on most; None if none does."""
    edge = (pieces > 0) & (neighbour != pieces)
    for piece in np.unique(pieces[edge]):
        seen = neighbour[edge & (pieces == piece)]
        others = seen[seen > 0]
        if not others.size:
            continue
        counts = np.bincount(others)
        if (counts.max() if one_piece else others.size) > share * seen.size:
            return int(piece), int(counts.argmax())
    return None


def _neck(pieces: np.ndarray, above: np.ndarray, share: float) -> tuple[int, int] | None:
    """The first ``(piece, into)`` whose highest row lies wholly under ``into`` and whose contact
    with it is at most ``share`` of ``into``'s width; None if none."""
    for piece in range(1, int(pieces.max()) + 1):
        rows, cols = np.nonzero(pieces == piece)
        if not len(rows):
            continue
        top = rows == rows.min()
        over = above[rows[top], cols[top]]
        into = int(over[0])
        if into in (0, piece) or not np.all(over == into):
            continue
        contact = int(np.count_nonzero(above[rows, cols] == into))
        into_cols = np.nonzero(pieces == into)[1]
        if contact <= share * (int(np.ptp(into_cols)) + 1):
            return piece, into
    return None
