"""The supervision-policy study at CPU scale (``make ablation`` -> ``docs/ablation.md``): the
comparison of policies' predictions (:mod:`.comparison`) and the report (:mod:`.report`)."""
