"""The C-SSRS screener (Columbia Suicide Severity Rating Scale, screen version; Posner et al.),
yes (1) or no (0) to items 1–6, then item 6 asked again for the past three months (item 7):
1 wish to be dead, 2 suicidal thoughts, 3 thoughts of a method, 4 intent, 5 a plan,
6 suicidal behaviour ever, 7 behaviour in the past three months.

Triage, the most urgent first: intent, a plan or recent behaviour → high (imminent risk: a safety
assessment is due, the journey is held); a method or past behaviour → moderate (the therapist and
prescriber are alerted to review, no hold); a wish or thoughts → low; else none.
Asked by a clinician, never on the client's survey page.

A screener, not an outcome measure (`outcome` False): its answers triage risk now, and no
response, remission or change is ever judged from them (a count of yes answers measures no
course's effect)."""

from domain.instruments.spec import Band, InstrumentSpec, ItemBand, Requires

SPEC = InstrumentSpec(
    name="cssrs",
    title="C-SSRS screener",
    position=40,
    items=7,
    top=1,
    bands=(Band(floor=0, name="none"),),
    item_bands=(
        ItemBand(band="high", items=(4, 5, 7)),
        ItemBand(band="moderate", items=(3, 6)),
        ItemBand(band="low", items=(1, 2)),
    ),
    requires=(Requires(item=7, needs=6, message="recent behaviour needs behaviour answered yes"),),
    risk_bands=frozenset({"high"}),
    review_bands=frozenset({"moderate"}),
)
