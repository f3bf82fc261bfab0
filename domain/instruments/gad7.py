"""GAD-7, the Generalized Anxiety Disorder scale (Spitzer, Kroenke, Williams & Löwe, 2006; free
to use). No single item calls for a safety assessment.

An outcome measure, judged like the PHQ-9: a total of 10 or more is the cut-point for
generalized anxiety disorder (sensitivity 89%, specificity 82%: Spitzer et al., Arch Intern Med
2006;166:1092-7), so response (a drop of 50% or more) and remission (a total below 5, the
"minimal" band) are judged only against a baseline of 10 or more."""

from domain.instruments.spec import Band, InstrumentSpec, SurveyWording

SPEC = InstrumentSpec(
    name="gad7",
    title="GAD-7",
    position=20,
    items=7,
    top=3,
    bands=(
        Band(floor=0, name="minimal"),
        Band(floor=5, name="mild"),
        Band(floor=10, name="moderate"),
        Band(floor=15, name="severe"),
    ),
    outcome=True,
    judged_from=10,
    remission_below=5,
    baseline=True,
    follow_up=True,
    survey=SurveyWording(
        preamble="Over the last 2 weeks, how often have you been bothered by the following "
        "problems?",
        items=(
            "Feeling nervous, anxious, or on edge",
            "Not being able to stop or control worrying",
            "Worrying too much about different things",
            "Trouble relaxing",
            "Being so restless that it is hard to sit still",
            "Becoming easily annoyed or irritable",
            "Feeling afraid, as if something awful might happen",
        ),
        answers=("Not at all", "Several days", "More than half the days", "Nearly every day"),
    ),
)
