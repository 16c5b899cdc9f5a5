"""Matching rules, pure: which variants the neighbour search compares, and how a pair is judged.

No store and no files: pictures and signatures in, a :class:`~neardupd.pairs.Scored` out.
"""

from __future__ import annotations

from neardupd import confirm
from neardupd.analyse import Analysed
from neardupd.config import Config
from neardupd.neighbours import CONTAINS, OVERLAP, WITHIN, HammingIndex, Neighbour
from neardupd.pairs import Scored
from neardupd.signature import ROTATIONS, WINDOWS, Picture, Signature

VARIANTS = len(WINDOWS) + len(ROTATIONS)
OVERLAP_PAIRS = (((0, len(WINDOWS)), (0, len(WINDOWS))),
                 ((len(WINDOWS), VARIANTS), (len(WINDOWS), VARIANTS)))
"""Which probes of a new picture meet which stored variants in an overlap search: windows meet
windows, rotated views rotated views. Measured on bench-dev: window-rotation pairs were a quarter
of the search and leaving them out changed no figure; adding mirrored windows against windows
(for crops that were also mirrored) cost 30 % more time and lowered ref R@P99 (0.962 -> 0.957),
their chance near-hits crowding out true candidates."""

NOT_COMPARABLE = Scored(0.0, "none", "none", {"reason": "too flat or too small to compare"})


def variants_of(sig: Signature) -> tuple[int, ...]:
    return sig.window_hashes + sig.rotation_hashes


def new_neighbour_index() -> HammingIndex:
    return HammingIndex(VARIANTS, OVERLAP_PAIRS)


def matchable(picture: Picture, config: Config) -> bool:
    """Flat or tiny pictures only ever match exactly or by pixels."""
    settings = config.match
    return picture.contrast >= settings.min_contrast and min(picture.width, picture.height) >= settings.min_side


def judge(a: Picture, b: Picture, config: Config, hint: Neighbour | None = None) -> Scored | None:
    """Confirm and explain a pair of pictures, A stored and B new, guided by the neighbour
    search's ``hint``; None if either is too flat or small."""
    if not (matchable(a, config) and matchable(b, config)):
        return None
    variant_a, variant_b = _hinted_variants(hint)
    result = confirm.confirm_pictures(a, b, variant_a, variant_b)
    kind, details = confirm.explain(a, b, result)
    return Scored(result.score, kind, result.transform_name, details)


def _hinted_variants(hint: Neighbour | None) -> tuple[int, int]:
    """Which variant of A (stored) and of B (new) the neighbour search matched (-1: the content)."""
    if hint is None:
        return -1, -1
    if hint.relation == WITHIN:
        return hint.variant, -1
    if hint.relation == CONTAINS:  # forms past the variants are flipped windows: same box, turned
        return -1, hint.form if hint.form < VARIANTS else (hint.form - VARIANTS) % len(WINDOWS)
    if hint.relation == OVERLAP:
        return hint.variant, hint.form
    return -1, -1


def compare(a: Analysed, b: Analysed, config: Config) -> Scored:
    """Score two analysed files: exact, pixel, or confirmed by template matching guided by their
    closest hashes."""
    if a.file_digest == b.file_digest:
        return Scored(1.0, "exact")
    if a.pixel_digest == b.pixel_digest:
        return Scored(1.0, "pixel")
    pair = new_neighbour_index()
    pair.add(0, a.signature.content_hashes[0], variants_of(a.signature))
    hints = pair.nearest(b.signature.content_hashes, variants_of(b.signature), radius=64, limit=1,
                         contained=b.signature.flipped_window_hashes)
    return judge(a.picture, b.picture, config, hints[0] if hints else None) or NOT_COMPARABLE
