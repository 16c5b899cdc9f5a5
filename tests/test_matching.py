"""Copies in shared/data are found, strangers and flat pictures are not (one index of everything)."""

from __future__ import annotations

import itertools
import shutil
import sqlite3

import pytest


def _pairs(db, min_score=None) -> dict[frozenset[str], sqlite3.Row]:
    """Reported pairs (the duplicate_pairs view), or every scored pair down to ``min_score``."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    connection.row_factory = sqlite3.Row
    if min_score is None:
        rows = connection.execute("SELECT * FROM duplicate_pairs").fetchall()
    else:
        rows = connection.execute(
            "SELECT fa.path AS path_a, fb.path AS path_b, m.* FROM matches m JOIN files fa ON fa.id = m.a "
            "JOIN files fb ON fb.id = m.b WHERE m.score >= ?", (min_score,)).fetchall()
    connection.close()
    return {frozenset((r["path_a"], r["path_b"])): r for r in rows}


def _all_pairs_found(pairs, paths):
    missing = [(a, b) for a, b in itertools.combinations(paths, 2) if frozenset((str(a), str(b))) not in pairs]
    assert not missing, f"{len(missing)} pairs not found, e.g. {missing[:3]}"


@pytest.mark.parametrize("kind", ["landscape", "portrait"])
def test_the_eight_orientation_variants_are_copies_of_each_other(data, data_index, kind):
    _all_pairs_found(_pairs(data_index), [data / f"orientation/{kind}_{n}.jpg" for n in range(1, 9)])


def test_landscape_and_portrait_are_not_copies(data, data_index):
    pairs = _pairs(data_index)
    for a, b in itertools.product(range(1, 9), repeat=2):
        assert frozenset((str(data / f"orientation/landscape_{a}.jpg"),
                          str(data / f"orientation/portrait_{b}.jpg"))) not in pairs


def test_all_eight_dihedral_files_are_copies_of_each_other(data, data_index):
    pairs = _pairs(data_index)
    files = sorted((data / "dihedral").glob("*.jpg"))
    assert len(files) == 8
    _all_pairs_found(pairs, files)
    mirrored = pairs[frozenset((str(data / "dihedral/bridge-1-original.jpg"),
                                str(data / "dihedral/bridge-6-flipy.jpg")))]
    assert mirrored["kind"] == "modified" and "mirror" in mirrored["transform"]


def test_the_eleven_edits_are_copies_of_the_original(data, data_index):
    pairs = _pairs(data_index)
    original = str(data / "edits/aaa-orig.jpg")
    edits = [p for p in sorted((data / "edits").glob("*.jpg")) if p.name != "aaa-orig.jpg"]
    assert len(edits) == 11
    missing = [e.name for e in edits if frozenset((original, str(e))) not in pairs]
    assert not missing


def test_ukbench_formats_are_copies_of_each_other(data, data_index):
    pairs = _pairs(data_index)
    files = sorted((data / "formats").glob("ukbench09380.*"))
    assert len(files) == 5
    _all_pairs_found(pairs, files)
    same_bytes = pairs[frozenset((str(data / "formats/ukbench09380.bmp"), str(data / "formats/ukbench09380.jpeg")))]
    assert same_bytes["kind"] == "exact" and same_bytes["score"] == 1.0
    webp = pairs[frozenset((str(data / "formats/ukbench09380.jpeg"), str(data / "formats/ukbench09380.webp")))]
    assert webp["kind"] in ("near", "modified")


def test_hdr_pair_is_a_near_copy(data, data_index):
    pairs = _pairs(data_index)
    pair = pairs.get(frozenset((str(data / "camera/iphone_hdr_YES.jpg"), str(data / "camera/iphone_hdr_NO.jpg"))))
    assert pair is not None and pair["kind"] in ("near", "modified")


def test_camera_rotations_are_never_exact_or_pixel_copies(data, data_index):
    pairs = _pairs(data_index, min_score=0.0)
    shots = [str(data / f"camera/exif-rotn-{n}.jpg") for n in (1, 3, 6, 8)]
    for a, b in itertools.combinations(shots, 2):
        pair = pairs.get(frozenset((a, b)))
        assert pair is None or pair["kind"] not in ("exact", "pixel")


def test_flat_and_tiny_pictures_match_nothing_perceptually(data, data_index):
    pairs = _pairs(data_index, min_score=0.0)
    for name in ("flat-black.jpg", "flat-white.png", "spacer-1x1.gif"):
        path = str(data / "hostile" / name)
        found = [p for p in pairs if path in p]
        assert all(pairs[p]["kind"] in ("exact", "pixel") for p in found), name


def test_mode_variants_match_the_original(data, data_index):
    pairs = _pairs(data_index)
    original = str(data / "modes/original.jpg")
    for path in sorted((data / "modes").glob("*")):
        if path.suffix in (".md",) or path.name == "original.jpg":
            continue
        assert frozenset((original, str(path))) in pairs, path.name


def test_no_pair_joins_unrelated_pictures(data, data_index):
    """Precision on the fixtures: the families of related files, and nothing across them."""
    families = {
        "bridge": lambda p: any(k in p for k in ("/dihedral/", "/edits/", "/modes/")),
        "ukbench": lambda p: "ukbench09380" in p,
        "landscape": lambda p: "/orientation/landscape" in p,
        "portrait": lambda p: "/orientation/portrait" in p,
        "desk": lambda p: "exif-rotn" in p,
        "hdr": lambda p: "iphone_hdr" in p,
    }

    def family(path: str) -> str:
        return next((name for name, test in families.items() if test(path)), path)

    wrong = [tuple(p) for p in _pairs(data_index) if len({family(x) for x in p}) > 1]
    assert not wrong, wrong[:5]


def test_a_large_librarys_index_without_windows_still_finds_crops_by_their_keypoints(tmp_path, data, cli):
    """With ``large_library = 0`` the index keeps no stored windows and searches the narrower radii
    from the first picture: a crop scanned after its original (met before by the original's windows)
    is found by its keypoints, as is every edit, and no pair the default settings do not report. (The
    crop and the blurred copy, whose keypoints the blur took, are the pair it loses here.)"""
    from PIL import Image

    folder = tmp_path / "photos"
    shutil.copytree(data / "edits", folder)
    photo = Image.open(data / "edits/aaa-orig.jpg").convert("RGB")
    width, height = photo.size
    photo.crop((int(width * 0.1), int(height * 0.15), int(width * 0.8), int(height * 0.9))).save(folder / "zz-crop.jpg")
    config = tmp_path / "large.toml"
    config.write_text("[match]\nlarge_library = 0\n")
    large, default = tmp_path / "large.sqlite", tmp_path / "default.sqlite"
    cli("--config", str(config), "scan", "--db", str(large), str(folder))
    cli("scan", "--db", str(default), str(folder))
    found, original = _pairs(large), str(folder / "aaa-orig.jpg")
    copies = [path for path in sorted(folder.glob("*.jpg")) if path.name != "aaa-orig.jpg"]
    assert len(copies) == 12 and all(frozenset((original, str(copy))) in found for copy in copies)
    assert set(found) <= set(_pairs(default))
