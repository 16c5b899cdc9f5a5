"""Review and clean-up: what a person sees and decides about the copies found.

* :mod:`~neardupd.review.explanation`: a pair's details in words, from the original's side;
* :mod:`~neardupd.review.keep`: the keep-best rules (which file of a group stays, and why);
* :mod:`~neardupd.review.plan`: each group's plan from the index (kept file, files to go);
* :mod:`~neardupd.review.quarantine`: moves into the quarantine and back, with the undo journal;
* :mod:`~neardupd.review.act`, :mod:`~neardupd.review.decide`: the ``act``, ``undo`` and ``decide`` commands;
* :mod:`~neardupd.review.server`: ``neardupd serve``, the review page over the index.

Nothing here changes a photo except ``act --apply`` and ``undo``, and only on request.
"""
