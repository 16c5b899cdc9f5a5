"""Matching rules, pure: which variants the neighbour search compares, and how a pair is judged.

No store and no files: pictures and signatures in, a :class:`~neardupd.pairs.Scored` out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from neardupd import changes, confirm, geometry
from neardupd.analyse import Analysed
from neardupd.config import Config, MatchSettings
from neardupd.features import Features
from neardupd.neighbours import CONTAINS, OVERLAP, WITHIN, HammingIndex, Neighbour
from neardupd.original import pasted_seam
from neardupd.pairs import Scored
from neardupd.signature import ROTATIONS, WINDOWS, Box, Picture, Signature

AGREEING = 3.0
PARTLY_FRAME = 0.8
"""A pair the keypoint search met is aligned whatever its thumbs say when at least AGREEING of
its keypoint matches agree on one scale and turn, or when either picture has under PARTLY_FRAME
of photo cells: a photo small in a screenshot keeps few of its indexed keypoints, which rarely
agree (the frames set's screenshot copies: 0-2.6). Most strangers the search meets agree less
(bench-dev: 3 in 4 of the pictures it alone puts forward). Aligning only those: 30 % fewer alignments on
bench-dev, its figures unchanged; augly_unseen strict 0.836 -> 0.841, the frames set unchanged."""

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


def new_neighbour_index(first_variant: int = 0) -> HammingIndex:
    return HammingIndex(VARIANTS, OVERLAP_PAIRS, first_variant=first_variant)


def indexed_variants_from(settings: MatchSettings, pictures: int) -> int:
    """The first stored variant the hash index keeps in an index of ``pictures``: every one, or in a
    large library only the rotated views. Its windows are 36 of a picture's 43 indexed hashes (720 B
    of its 1,021 B in memory at a million pictures), and at the large library's radii the keypoint
    candidates find the crops they would: with them left out from the first picture, bench-dev strict
    0.972 -> 0.972, ref 0.981 -> 0.979; augly_unseen 0.859 -> 0.855, 0.898 -> 0.897.

    >>> indexed_variants_from(MatchSettings(), 1_000), indexed_variants_from(MatchSettings(), 1_000_000)
    (0, 36)
    """
    return 0 if pictures < settings.large_library else len(WINDOWS)


def search_radii(settings: MatchSettings, pictures: int) -> tuple[int, int]:
    """The hash search's radius and overlap radius in an index of ``pictures``: the settings' own,
    or in a large library no further than ``large_radius`` and ``large_overlap_radius``.

    >>> search_radii(MatchSettings(), 1_000), search_radii(MatchSettings(), 1_000_000)
    ((16, 12), (8, 5))
    """
    if pictures < settings.large_library:
        return settings.radius, settings.overlap_radius
    return (min(settings.radius, settings.large_radius),
            min(settings.overlap_radius, settings.large_overlap_radius))


def matchable(picture: Picture, config: Config) -> bool:
    """Flat or tiny pictures only ever match exactly or by pixels."""
    settings = config.match
    return picture.contrast >= settings.min_contrast and min(picture.width, picture.height) >= settings.min_side


@dataclass(frozen=True)
class Candidate:
    """A stored picture the searches put forward for a new one, and what they know of the pair."""

    other: int
    hint: Neighbour | None
    """What the neighbour search matched (None: the keypoint search alone proposed it)."""
    keypoints: float | None
    """About how many of the keypoint matches the keypoint search found agree on one scale and
    turn (None: it did not meet the picture; see :class:`~neardupd.descriptor_index.Met`)."""


def judge_all(new: Picture, mirrored: Features | None, stored: Sequence[tuple[Picture | None, Candidate]],
              config: Config) -> list[Scored | None]:
    """:func:`judge` of a new picture (and its mirror image's keypoints) against each candidate
    (None for one without a picture: its file left the index)."""
    return [judge(picture, new, config, candidate.hint, mirrored, keypoints=candidate.keypoints)
            if picture is not None else None for picture, candidate in stored]


def judge(a: Picture, b: Picture, config: Config, hint: Neighbour | None = None,
          b_mirrored: Features | None = None, *, keypoints: float | None = AGREEING) -> Scored | None:
    """Confirm and explain a pair of pictures, A stored and B new, guided by the neighbour
    search's ``hint``; None if either is too flat or small.

    Two checks, each good where the other is blind: template matching of the blurred thumbs
    (mild edits, blur, heavy JPEG, tiny copies: where keypoints fail) and local features with a
    fitted homography (a photo anywhere in another picture, turned, in perspective, mirrored).
    The keypoints also veto: when they align the pictures but their photos disagree, the pair
    shares a frame, not a photo, however alike the thumbs are. A pair the keypoint search did not
    propose (``keypoints`` None), or whose keypoint matches hardly agree, is aligned only if its
    thumbs are alike enough to report (to be vetoed if they share only a frame)."""
    if not (matchable(a, config) and matchable(b, config)):
        return None
    variant_a, variant_b = _hinted_variants(hint)
    thumbs = confirm.confirm_pictures(a, b, variant_a, variant_b)
    part_differs = confirm.differing_region(thumbs.block_scores, DIFFER_BELOW) is not None
    alignment = None
    if a.features is not None and b.features is not None and _worth_aligning(
            thumbs, part_differs, keypoints, _framed(a, b) or _mostly_frame(a, b), _partly_frame(a, b),
            config.match):
        alignment = geometry.align(a.features, b.features, b_mirrored, min_inliers=config.match.min_inliers)
    return verdict(a, b, thumbs, part_differs, alignment, config.match)


def _worth_aligning(thumbs: confirm.Confirmation, part_differs: bool, keypoints: float | None, framed: bool,
                    partly_frame: bool, settings: MatchSettings) -> bool:
    """Whether the keypoints can change the verdict: thumbs alike all over are a copy (1 in 3
    of bench-dev's pairs is settled so, without the cost of an alignment); thumbs alike but for a
    part, or pictures with several photo regions (``framed``), may be a frame around another
    photo; unlike thumbs may hide a turned or pasted copy where the keypoint search met the
    pictures (``keypoints`` agreeing, or any where a picture is partly frame) or the thumbs
    half agree."""
    if thumbs.score >= settings.threshold:
        return part_differs or framed
    if keypoints is not None and (keypoints >= AGREEING or framed or partly_frame):
        return True
    return thumbs.score >= ALIGN_FROM


def verdict(a: Picture, b: Picture, thumbs: confirm.Confirmation, part_differs: bool,
            alignment: geometry.Alignment | None, settings: MatchSettings) -> Scored:
    """One score and explanation from the thumbs' comparison (``part_differs``: a patch of its
    blocks disagrees) and the keypoints' alignment."""
    framed = _framed(a, b)
    if alignment is None:
        score = thumbs.score
        if ((part_differs and thumbs.score < UNDER_OVERLAY) or framed or _mostly_frame(a, b)) \
                and _both_textured(a, b, settings):
            # a part of the pictures differs, or they are mostly frame, and with plenty of keypoints
            # on both photos not one alignment: the photos differ (what agrees is a frame around them).
            # Thumbs this alike but for a part are a copy under an overlay that took the keypoints.
            score = min(score, settings.unaligned_cap)
        kind, details = changes.explain(a, b, thumbs)
        return Scored(score, kind, thumbs.transform_name, details)
    aligned = agreement_score(alignment.agreement, settings)
    if alignment.frame_shared or not alignment.contained:
        # one photo region agrees, another not: a frame shared, whatever else agrees; or the pictures
        # overlap in part: a background shared, each with its own photo
        kind, details = changes.explain(a, b, thumbs)
        return Scored(min(aligned, thumbs.score, settings.unaligned_cap), kind, thumbs.transform_name, details)
    if alignment.another_shot and thumbs.score < SETTLED:  # thumbs this alike settle a copy
        kind, details = changes.explain(a, b, thumbs)
        details |= _geometry_details(alignment, a, b)
        return Scored(min(max(aligned, thumbs.score), settings.unaligned_cap), "similar", "none", details)
    if framed:  # the thumbs see mostly the frame: the keypoints alone decide
        thumbs = confirm.Confirmation(0.0, thumbs.transform, thumbs.block_scores)
    if aligned >= settings.threshold and not _pictures_agree(a, b, alignment, settings):
        # keypoints agree (a shared caption, big text, a background) but the photos do not; thumbs
        # alike but unsettled are alike for the same reason
        kind, details = changes.explain(a, b, thumbs)
        score = thumbs.score if thumbs.score >= SETTLED else min(thumbs.score, settings.unaligned_cap)
        return Scored(score, kind, thumbs.transform_name, details)
    if aligned >= thumbs.score:
        found = _as_confirmation(alignment, aligned)
        kind, details = changes.explain(a, b, found)
        details |= _geometry_details(alignment, a, b)
        return Scored(aligned, "modified" if kind == "near" and _moved(alignment) else kind,
                      found.transform_name, details)
    vetoed = (part_differs or framed) and alignment.agreement < settings.min_agreement \
        and not _under_overlay(a, b, thumbs, alignment, settings)
    score = min(aligned, settings.unaligned_cap) if vetoed else thumbs.score
    kind, details = changes.explain(a, b, thumbs)
    return Scored(score, kind, thumbs.transform_name, details)


def _under_overlay(a: Picture, b: Picture, thumbs: confirm.Confirmation, alignment: geometry.Alignment,
                   settings: MatchSettings) -> bool:
    """A big overlay (text, a sticker) took the new picture's keypoints, so few of the photo's found
    partners: on two pictures that are photo nearly all over, the thumbs, alike but for that part and
    alike where the keypoints aligned them, vouch (a frame's thumbs are alike for the frame)."""
    return thumbs.score >= SETTLED and not _partly_frame(a, b) and _pictures_agree(a, b, alignment, settings)


def _pictures_agree(a: Picture, b: Picture, alignment: geometry.Alignment, settings: MatchSettings) -> bool:
    """Whether the thumbs, aligned by the keypoints' fit, agree where the keypoints cannot speak.

    Keypoints crowd where contrast is strongest: a meme's caption can hold 248 of 256 while the
    photo under it holds 8, and a shared background photo outvotes a small pasted one. So the
    aligned thumbs judge too: their trimmed mean must reach ``min_aligned``, and the blocks that
    disagree where both pictures are photo and no agreeing keypoint vouches for them (a different
    photo there, not an overlay on the same one) must not be a patch of their own (see DIFFERENT_PHOTO),
    nor those far from every agreeing keypoint, photo or not, a big share (FAR_DIFFER). Judged on
    the picture that lies within the other, where the shared part fills the view: on a screenshot's
    grid its photo covers a few blocks, their edges blurred into the chrome around."""
    if alignment.b_lies_in_a:
        a, b, alignment = b, a, alignment.seen_from_b()
    blocks = confirm.aligned_block_scores(a.thumb, b.thumb, alignment.in_thumbs(a.thumb.shape[0]))
    compared = ~np.isnan(blocks)
    if compared.sum() < 4 or a.features is None or b.features is None:
        return False
    grid = blocks.shape[0]
    vouched = cv2.resize(alignment.agreeing_a.astype(np.float32), (grid, grid), interpolation=cv2.INTER_AREA) > 0
    photo_a = cv2.resize(a.features.photo.astype(np.float32), (grid, grid), interpolation=cv2.INTER_AREA) >= 0.5
    photo_b = alignment.mask_of_b_at_a(b.features.photo, grid)
    low = compared & (np.nan_to_num(blocks, nan=1.0) < DIFFER_BELOW)
    differ = low & ~vouched & photo_a & photo_b
    beside_vouched = cv2.dilate(vouched.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    isolated = differ & ~beside_vouched
    far = low & ~beside_vouched  # photo mask or not
    another_photo = (differ.sum() >= DIFFERENT_PHOTO * compared.sum() and isolated.sum() >= ISOLATED * compared.sum()) \
        or far.sum() >= FAR_DIFFER * compared.sum()
    return confirm.trimmed_mean(blocks) >= settings.min_aligned and not another_photo


def agreement_score(agreement: float, settings: MatchSettings) -> float:
    """Agreement of the photos mapped to the scale of scores: ``min_agreement`` meets the reporting
    threshold, full agreement is 1."""
    low, threshold = settings.min_agreement, settings.threshold
    if agreement >= low:
        return threshold + (1 - threshold) * (agreement - low) / (1 - low)
    return agreement * threshold / low


def _framed(a: Picture, b: Picture) -> bool:
    """Either picture is composed of separate photo regions (a screenshot with its photo, ads and
    avatars; a collage): the thumbs see mostly frame, so only keypoints can confirm the pair."""
    if a.features is None or b.features is None:
        return False
    # Tried: also both pictures mostly flat graphics (under half photo cells). It stopped two
    # photos in one drawn phone frame, but cost bench-dev 10 copies of flat photos (0.950 -> 0.940).
    return max(a.features.regions, b.features.regions) > 1 and not (_frameless(a.features) or _frameless(b.features))


def _frameless(found: Features) -> bool:
    """A picture that is one photo all over has no frame to share: against it, the thumbs see the
    other's photo too (a photo with a flat sky in patches, against its noisy copy)."""
    return found.regions == 1 and float(found.photo.mean()) >= PARTLY_FRAME


def _photo_shares(a: Picture, b: Picture) -> tuple[float, float] | None:
    """The smaller and the larger of the two pictures' shares of photo cells (None: either has no keypoints)."""
    if a.features is None or b.features is None:
        return None
    shares = float(a.features.photo.mean()), float(b.features.photo.mean())
    return min(shares), max(shares)


def _partly_frame(a: Picture, b: Picture) -> bool:
    """Either picture is in good part not photo (a photo in a screenshot, on a background)."""
    shares = _photo_shares(a, b)
    return shares is not None and shares[0] < PARTLY_FRAME


def _mostly_frame(a: Picture, b: Picture) -> bool:
    """Both pictures are mostly not photo (two phone screenshots around their photos, two cards):
    their thumbs are mostly frame, so thumbs alike prove little. Both, because one blurred or tiny
    copy also looks flat (bench-dev: 3 copies lost when either sufficed)."""
    shares = _photo_shares(a, b)
    return shares is not None and shares[1] < MOSTLY_FRAME


def _both_textured(a: Picture, b: Picture, settings: MatchSettings) -> bool:
    return min(len(a.features or ()), len(b.features or ())) >= settings.textured_keypoints


def _moved(alignment: geometry.Alignment) -> bool:
    return alignment.mirrored or abs(alignment.rotation) > 1 or alignment.perspective > PERSPECTIVE \
        or abs(alignment.scale - 1) > 0.05


ALIGN_FROM = 0.4
"""Thumbs alike this well are aligned even when the keypoint index did not propose the pair: a
skewed or turned copy whose thumbs half agree (augly_unseen: 18 of 23 such copies confirmed,
strict R@P99 0.806 -> 0.824; bench-dev 0.954 -> 0.959)."""
MOSTLY_FRAME = 0.5
"""Under this share of photo cells a picture is mostly frame (bench-dev originals: 90 % of cells are photo)."""
SETTLED = 0.8
"""Thumbs agreeing this well make a pair a copy even when its keypoints fit loosely like another shot's
(bench-dev: small copies fit with residuals of 1.4-2 px too)."""
DIFFERENT_PHOTO = 0.25
ISOLATED = 0.15
"""Aligned thumbs disagreeing on DIFFERENT_PHOTO of their blocks where both pictures are photo and
no agreeing keypoint is in the block, ISOLATED of them with none beside it either: another photo
in a shared frame or on a shared background (the meme captions of the frames set: 0.36-0.42 and
0.36-0.40). A copy under an overlay keeps agreeing keypoints around it: bench-dev's semi-transparent
stripes disagree on 0.27-0.37 of the blocks, isolated at most 0.12."""
FAR_DIFFER = 0.3
"""Aligned thumbs disagreeing on this share of their blocks with no agreeing keypoint in or beside
them, photo cells or not: another photo too. The photo mask leaves a flat sky out, so under a
shared meme caption the caption's keypoints agree on 0.45 of the "photo" and the test above counts
too few blocks; those pairs disagree far from the caption on 0.41-0.52 of the blocks (the frames
set of 443 originals: 11 -> 6 stranger pairs at or above 0.65; at 0.2 a copy was lost on bench-dev
and one on augly_unseen, at 0.3 none)."""
UNDER_OVERLAY = 0.9
"""Thumbs alike but for a part, this well, with no keypoint alignment: a copy under an overlay that
took the keypoints (bench-dev: big text on a smooth photo, 0.987), not two photos in one frame
(the frames set: two landscapes in one card frame, 0.857)."""
DIFFER_BELOW = 0.3
"""Thumb blocks correlating less than this disagree (as in the explanation's differing region)."""
PERSPECTIVE = 0.05
"""Homogeneous weights varying more than this over the picture: a perspective view, not a flat copy."""


def _as_confirmation(alignment: geometry.Alignment, score: float) -> confirm.Confirmation:
    """The alignment in the terms of the thumbs' comparison, so one explanation serves both."""
    angle = alignment.rotation
    quarter = round(angle / 90) % 4
    transform = quarter * 2 + int(alignment.mirrored)
    crop = Box(*alignment.box_of_b_in_a())
    inside = Box(*alignment.box_of_a_in_b())
    return confirm.Confirmation(score, transform, np.full((8, 8), np.nan),
                                region_a=crop if crop.area < 0.95 else Box(),
                                region_b=inside if inside.area < 0.95 else Box(),
                                rotation=round(((angle - 90 * quarter) + 180) % 360 - 180, 1))


def _geometry_details(alignment: geometry.Alignment, a: Picture, b: Picture) -> dict:
    """What only the keypoints know: where A lies inside B, perspective, and how sure."""
    inside = alignment.box_of_a_in_b()
    details: dict = {"aligned_by": "keypoints", "inliers": alignment.inliers,
                     "agreement": round(alignment.agreement, 3), "inlier_ratio": round(alignment.inlier_ratio, 3),
                     "residual_px": round(alignment.residual, 2),
                     "perspective": alignment.perspective > PERSPECTIVE}
    if (inside[2] - inside[0]) * (inside[3] - inside[1]) < 0.9:
        details["contained_in"] = inside
        # pasted into a screenshot or onto a background (a seam round it): that one is the copy; else A
        # is a crop of B, the original
        details["likely_original"] = "a" if pasted_seam(b.thumb, inside) else "b"
    else:
        holds = alignment.box_of_b_in_a()
        if (holds[2] - holds[0]) * (holds[3] - holds[1]) < 0.9 and pasted_seam(a.thumb, holds):
            details["likely_original"] = "b"  # the same seen from the other side: B pasted into A
    return details


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
    return judge(a.picture, b.picture, config, hints[0] if hints else None, b.mirrored) or NOT_COMPARABLE
