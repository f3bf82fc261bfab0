"""The screening instruments, as data: one spec module per questionnaire (`phq9`, `gad7`, `pcl5`,
`cssrs`), each a frozen `InstrumentSpec` (`spec`), found by the registry (`registry`) and scored
by one set of rules (`scoring`).

Adding an instrument is adding one spec module here (and its tests): its name is an
`Instrument` at once; scoring, outcomes (`judge`: only for an `outcome` measure), `decide`'s
baseline check, the check-ins after a course and the client's survey page all read the spec.
Events carry instruments by name: a spec whose name was ever recorded stays (stored events must
still read), and its name and items keep their meaning.
"""

from domain.instruments.registry import (
    SPECS,
    Instrument,
    baseline_instruments,
    follow_up_instruments,
    spec_of,
    specs,
)
from domain.instruments.scoring import (
    NOT_JUDGED,
    InstrumentError,
    Judgement,
    Score,
    judge,
    judged,
    meaningful_change,
    remitted,
    responded,
    score,
)
from domain.instruments.spec import (
    Band,
    InstrumentSpec,
    ItemBand,
    ItemRisk,
    Requires,
    SurveyWording,
)

__all__ = [
    "NOT_JUDGED",
    "SPECS",
    "Band",
    "Instrument",
    "InstrumentError",
    "InstrumentSpec",
    "ItemBand",
    "ItemRisk",
    "Judgement",
    "Requires",
    "Score",
    "SurveyWording",
    "baseline_instruments",
    "follow_up_instruments",
    "judge",
    "judged",
    "meaningful_change",
    "remitted",
    "responded",
    "score",
    "spec_of",
    "specs",
]
