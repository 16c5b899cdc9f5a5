"""How often the words of an explanation name the edit that was made, per edit family, on a labelled
folder (bench-dev's layout: ``images/`` and ``truth.json``): each original–copy pair found, its copy
made by one edit, explained from the true original's side (``neardupd/review/explanation.py``).

    python benchmarks/explain_words.py [BENCH_DIR] [--db INDEX]
"""

from __future__ import annotations

import json
import re
from collections import Counter

import labelled

from neardupd.review.explanation import phrase

EXPECTED = {
    "hflip": r"mirrored", "vflip": r"upside down|mirrored", "rot90": r"turned (90|180)°|upside down",
    "crop": r"cropped", "pad": r"border", "pad_square": r"border", "aspect": r"stretched",
    "downscale": r"size|shrunk", "brightness": r"brighter|darker", "contrast": r"contrast",
    "saturation": r"saturated|black and white", "grayscale": r"black and white", "blur": r"blurred",
    "sharpen": r"sharpened", "noise": r"noise", "jpeg_q": r"re-saved|compress",
    "text": r"added or changed", "emoji": r"added or changed", "logo": r"added or changed|pasted",
    "stripes": r"added or changed|stripes", "rotate_small": r"turned \d+°",
    "color_jitter": r"colour|brighter|darker|contrast|saturated",
}
"""Per edit family of bench-dev: words that name it (a regular expression)."""


def main() -> None:
    arguments = labelled.parser(__doc__)
    arguments.add_argument("--show", type=int, default=0, help="print this many wrong explanations per family")
    args = arguments.parse_args()
    with labelled.indexed(args.bench, args.db) as (truth, store):
        rows = store.pairs(float(store.setting("match_threshold") or 0.65))
    right, total, wrong = Counter(), Counter(), {}
    for row in rows:
        a, b = (labelled.role(truth, path) for path in (row.a, row.b))
        if {a["role"], b["role"]} != {"original", "copy"} or a["group"] != b["group"]:
            continue
        edit = (a if a["role"] == "copy" else b)["transform"]
        if edit not in EXPECTED:
            continue
        words = phrase({**json.loads(row.details), "transform": row.transform}, "a" if a["role"] == "original" else "b")
        total[edit] += 1
        if re.search(EXPECTED[edit], words):
            right[edit] += 1
        else:
            wrong.setdefault(edit, []).append(words)
    print(f"{args.bench}: words naming the edit, one-edit copies explained from their original")
    for edit in sorted(total, key=lambda name: right[name] / total[name]):
        print(f"  {edit:13} {right[edit]:3}/{total[edit]:<3} {right[edit] / total[edit]:.2f}")
        for words in wrong.get(edit, [])[:args.show]:
            print(f"      said: {words}")
    named, told = sum(right.values()), sum(total.values())
    if not told:  # augly_unseen's edits have other names
        print(f"  no copy here was made by one of the edits named in EXPECTED ({', '.join(EXPECTED)})")
        return
    print(f"  all           {named}/{told} = {named / told:.3f}")


if __name__ == "__main__":
    main()
