"""PCL-5, the PTSD Checklist for DSM-5 (Weathers et al., National Center for PTSD, 2013; in the
public domain). Optional: screened when the clinic chooses, neither at baseline nor at the
check-ins. A total at or above the protocol's cutoff (31–40, 33 by default) is a provisional
PTSD diagnosis; a drop of 10 points is a reliable, clinically meaningful change (National Center
for PTSD, "Using the PCL-5"; a 5-10 point change is reliable, 10-20 clinically meaningful),
judged against any baseline; it has no remission rule. No single item calls for a safety
assessment."""

from domain.instruments.spec import Band, InstrumentSpec, SurveyWording

SPEC = InstrumentSpec(
    name="pcl5",
    title="PCL-5",
    position=30,
    items=20,
    top=4,
    bands=(
        Band(floor=0, name="below_threshold"),
        Band(floor=33, name="provisional_ptsd", protocol_setting="pcl5_provisional_ptsd_cutoff"),
    ),
    outcome=True,
    reliable_change=10,
    survey=SurveyWording(
        preamble="In the past month, how much were you bothered by:",
        items=(
            "Repeated, disturbing, and unwanted memories of the stressful experience?",
            "Repeated, disturbing dreams of the stressful experience?",
            "Suddenly feeling or acting as if the stressful experience were actually happening "
            "again (as if you were actually back there reliving it)?",
            "Feeling very upset when something reminded you of the stressful experience?",
            "Having strong physical reactions when something reminded you of the stressful "
            "experience (for example, heart pounding, trouble breathing, sweating)?",
            "Avoiding memories, thoughts, or feelings related to the stressful experience?",
            "Avoiding external reminders of the stressful experience (for example, people, "
            "places, conversations, activities, objects, or situations)?",
            "Trouble remembering important parts of the stressful experience?",
            "Having strong negative beliefs about yourself, other people, or the world (for "
            "example, having thoughts such as: I am bad, there is something seriously wrong "
            "with me, no one can be trusted, the world is completely dangerous)?",
            "Blaming yourself or someone else for the stressful experience or what happened "
            "after it?",
            "Having strong negative feelings such as fear, horror, anger, guilt, or shame?",
            "Loss of interest in activities that you used to enjoy?",
            "Feeling distant or cut off from other people?",
            "Trouble experiencing positive feelings (for example, being unable to feel "
            "happiness or have loving feelings for people close to you)?",
            "Irritable behavior, angry outbursts, or acting aggressively?",
            "Taking too many risks or doing things that could cause you harm?",
            'Being "superalert" or watchful or on guard?',
            "Feeling jumpy or easily startled?",
            "Having difficulty concentrating?",
            "Trouble falling or staying asleep?",
        ),
        answers=("Not at all", "A little bit", "Moderately", "Quite a bit", "Extremely"),
    ),
)
