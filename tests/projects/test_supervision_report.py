"""The supervision-policy report (projects/SupervisionAblation/supervision_ablation/report.py)."""

from supervision_ablation.report import claims, mixed_section

from alphafree_matting.evaluation.metrics import BENCHMARK_KEYS


def test_claims_use_the_issue_thresholds():
    def metrics(sad, grad, sad_t):
        return {"SAD": sad, "Grad": grad, "SAD-T": sad_t}

    holding = {
        "known_only": metrics(1.0, 1.0, 1.0),
        "known_ddc": metrics(0.65, 0.69, 0.79),
        "alpha_l1": metrics(0.5, 0.8, 0.5),
    }
    assert [ok for _, _, ok in claims(holding)] == [True, True, True]
    failing = {
        "known_only": metrics(1.0, 1.0, 1.0),
        "known_ddc": metrics(0.66, 0.71, 0.81),
        "alpha_l1": metrics(0.5, 0.8, 0.5),
    }
    assert [ok for _, _, ok in claims(failing)] == [False, False, False]


def test_mixed_section_places_the_mixed_policy_between_trimap_only_and_alpha_only():
    def metrics(value):
        return {key: value for key in BENCHMARK_KEYS}

    runs = {"known_ddc": metrics(1.0), "alpha_l1": metrics(0.5), "mixed_alpha10": metrics(0.75)}
    lines = mixed_section(runs)
    assert "Between the two on 7 of 7 metrics." in " ".join(lines)
    rows = [line for line in lines if line.startswith("| SAD |")]
    assert rows == ["| SAD | 1 | 0.75 | 0.5 | 50 % |"]
    worse = mixed_section({**runs, "mixed_alpha10": metrics(1.25)})
    assert "on 0 of 7" in " ".join(worse) and "| SAD | 1 | 1.25 | 0.5 | -50 % |" in worse
    assert mixed_section({"known_ddc": metrics(1.0), "alpha_l1": metrics(0.5)}) == []
