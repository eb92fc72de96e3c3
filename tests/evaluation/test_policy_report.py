"""The supervision-policy report (alphafree_matting/evaluation/policy_report.py)."""

from alphafree_matting.evaluation.policy_report import claims


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
