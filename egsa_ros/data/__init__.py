"""Data: the shared transforms, dataset readers (Syn-TODD, ClearPose, our rendered set),
the Mitsuba glassware renderer (``synth``, CLI ``egsa-synth``) and generated demo frames."""
