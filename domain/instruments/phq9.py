"""PHQ-9, the Patient Health Questionnaire's depression module (Kroenke, Spitzer & Williams,
2001; free to use). Item 9 asks about thoughts of death or self-harm: any answer above "not at
all" calls for a safety assessment.

An outcome measure. A total of 10 or more is the cut-point for major depression (sensitivity
and specificity 88%: Kroenke, Spitzer & Williams, J Gen Intern Med 2001;16:606-13), the usual
entry threshold of depression outcome studies: response (a drop of 50% or more) and remission (a
total below 5, the "minimal" band) are judged only against a baseline of 10 or more, as the
PHQ-9's authors define them for monitoring treatment (Kroenke & Spitzer, Psychiatric Annals
2002;32:509-15; Löwe et al., Med Care 2004;42:1194-201). A client who starts below 10 cannot
"respond" or "remit": 4 -> 2 is noise, 3 was never depressed."""

from domain.instruments.spec import Band, InstrumentSpec, ItemRisk, SurveyWording

SPEC = InstrumentSpec(
    name="phq9",
    title="PHQ-9",
    position=10,
    items=9,
    top=3,
    bands=(
        Band(floor=0, name="minimal"),
        Band(floor=5, name="mild"),
        Band(floor=10, name="moderate"),
        Band(floor=15, name="moderately_severe"),
        Band(floor=20, name="severe"),
    ),
    risk_items=(ItemRisk(item=9, above=0),),
    outcome=True,
    judged_from=10,
    remission_below=5,
    baseline=True,
    follow_up=True,
    survey=SurveyWording(
        preamble="Over the last 2 weeks, how often have you been bothered by the following "
        "problems?",
        items=(
            "Little interest or pleasure in doing things",
            "Feeling down, depressed, or hopeless",
            "Trouble falling or staying asleep, or sleeping too much",
            "Feeling tired or having little energy",
            "Poor appetite or overeating",
            "Feeling bad about yourself, or that you are a failure or have let yourself or your "
            "family down",
            "Trouble concentrating on things, such as reading the newspaper or watching television",
            "Moving or speaking so slowly that other people could have noticed, or the opposite: "
            "being so fidgety or restless that you have been moving around a lot more than usual",
            "Thoughts that you would be better off dead, or of hurting yourself in some way",
        ),
        answers=("Not at all", "Several days", "More than half the days", "Nearly every day"),
    ),
)
