"""The table ``neardupd bench run`` prints (its ``--json`` is :meth:`BenchReport.as_json`)."""

from __future__ import annotations

from neardupd.bench.run import BenchReport


def bench_text(report: BenchReport) -> str:
    """Each finder's figures, then recall per transform."""
    finders = [report.neardupd, *report.baselines]
    lines = [f"{report.folder}: {report.images} images, {report.positives} copies to find "
             "(scored with the bench-dev protocol)", "",
             f"{'finder':<30}{'strict R@P99':>13}{'ref R@P99':>11}{'AP':>8}{'seconds':>9}"]
    for finder in finders:
        result = finder.result
        lines.append(f"{finder.label:<30}{result.strict_r_at_p99:>13.3f}{result.ref_r_at_p99:>11.3f}"
                     f"{result.average_precision:>8.3f}{finder.seconds:>9.1f}")
    lines += ["", f"neardupd candidate recall: {report.candidate_recall:.3f} ({report.candidates_found}/"
              f"{report.positives} copies put forward for confirmation by the neighbour search or found by digest)",
              "neardupd calibration (score >= t: precision, recall): " + ", ".join(
                  f"{t:.2f}: {p:.3f}/{r:.3f}" for t, p, r in report.neardupd.result.calibration),
              "", "recall per transform, each finder at its own strict threshold:",
              f"{'transform':<16}{'copies':>7}" + "".join(f"{finder.name:>15}" for finder in finders)]
    families = sorted(report.neardupd.result.per_transform)
    for family in families:
        total = report.neardupd.result.per_transform[family][1]
        cells = "".join(f"{finder.result.per_transform.get(family, (0, total))[0]:>15}" for finder in finders)
        lines.append(f"{family:<16}{total:>7}{cells}")
    return "\n".join(lines)
