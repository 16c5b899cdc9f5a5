"""Measuring copy finding on labelled folders (``images/`` + ``truth.json``).

* :mod:`~neardupd.bench.protocol`: the scoring protocol, pure functions on scores;
* :mod:`~neardupd.bench.baselines`: the three reference finders scored next to neardupd;
* :mod:`~neardupd.bench.run`: ``neardupd bench run``, neardupd and the baselines on a labelled folder;
* :mod:`~neardupd.bench.text`: the table ``neardupd bench run`` prints;
* :mod:`~neardupd.bench.make`: ``neardupd bench make``, a labelled folder made from the user's photos
  with the edit suite of :mod:`~neardupd.bench.edits`;
* :mod:`~neardupd.bench.frames`: ``neardupd bench make --frames``, every photo put into the same four
  frames, so pairs of different photos in one frame are measured as the negatives they are.

* :mod:`~neardupd.bench.synthetic`: synthetic pictures written through the store (``benchmarks/scale.py``,
  tests of a large index);
* :mod:`~neardupd.bench.commands`: the `bench run` and `bench make` commands (they import the rest only when run).

Only the bench commands import the rest of this package (it brings imagehash and the edit suite along).
"""
