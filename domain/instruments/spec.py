"""What an instrument is, as data: one frozen `InstrumentSpec` per questionnaire.

A spec says everything the pathway needs to know about a questionnaire: its items and answer
range, how a total reads (severity bands), when answers call for a safety assessment (risk),
whether it measures outcomes (a screener does not) and then what counts as remission and as a
meaningful change against which baselines, whether it is asked at baseline and at the check-ins
after a course, and the words the client's survey page shows. Scoring, outcomes,
`decide`, follow-ups and the survey page read the spec; nothing else names an instrument.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

# An instrument's code: what events, tables and the API carry ("phq9"). Safe in a form field's
# name and in SQL (`database/migrations/0063_instrument_check.sql` checks the same shape).
NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Words = Annotated[str, StringConstraints(min_length=1, max_length=500)]
Item = Annotated[int, Field(ge=1)]  # an item's number, from 1 as printed on the form


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Band(_Data):
    """A severity band: totals at or above `floor`, up to the next band's floor."""

    floor: int = Field(ge=0)
    name: Name
    # The clinic's protocol may set this floor: the name of the `Protocol` setting that does
    # (a journey's protocol is recorded when it starts, so a new one never rescores a journey).
    protocol_setting: str | None = None


class ItemBand(_Data):
    """A band given by items rather than the total: any of `items` answered above 0."""

    band: Name
    items: tuple[Item, ...] = Field(min_length=1)


class ItemRisk(_Data):
    """Risk when `item` is answered above `above` (PHQ-9: item 9, any answer but "not at all")."""

    item: Item
    above: int = Field(default=0, ge=0)


class Requires(_Data):
    """An answer above 0 to `item` needs an answer above 0 to `needs`; else `message`."""

    item: Item
    needs: Item
    message: Words


class SurveyWording(_Data):
    """What the client's survey page shows, as the instrument's authors publish it."""

    preamble: Words  # the question every item answers ("Over the last 2 weeks, …")
    items: tuple[Words, ...] = Field(min_length=1)
    answers: tuple[Words, ...] = Field(min_length=2)  # the label of answer 0, 1, …


class InstrumentSpec(_Data):
    """One questionnaire. Answers are whole numbers 0…`top`, one per item; the total is their sum.

    The band is the first `item_bands` rule that holds, else the highest `bands` floor the total
    reaches. Risk (a safety assessment is due) holds when a `risk_items` rule holds or the band
    is one of `risk_bands`; a band in `review_bands` alerts the care team without a hold.

    Outcomes (`scoring.judge`) are judged only for an `outcome` measure, only on measurements
    after the baseline, and only against a baseline total of `judged_from` or more: a
    meaningful change is a drop of `reliable_change` points or more, or, without one, by half
    (response); remission is a total below `remission_below` (none without one). A screener
    (`outcome` False: the C-SSRS) has no outcome rules at all.
    """

    name: Name
    title: Words  # as clinicians write it: "PHQ-9"
    position: int = Field(ge=0)  # where it comes among instruments: lists, the survey page
    items: int = Field(ge=1, le=100)
    top: int = Field(ge=1, le=10)  # the highest answer to an item
    bands: tuple[Band, ...] = Field(min_length=1)
    item_bands: tuple[ItemBand, ...] = ()
    requires: tuple[Requires, ...] = ()
    risk_items: tuple[ItemRisk, ...] = ()
    risk_bands: frozenset[Name] = frozenset()
    review_bands: frozenset[Name] = frozenset()  # below risk: the care team reviews, no hold
    # An outcome measure: later totals are judged against the baseline (response, remission).
    # False for a screener, which triages risk and is never read as a course's outcome.
    outcome: bool = False
    # Outcomes are judged only against a baseline total at least this high (PHQ-9, GAD-7: 10).
    judged_from: int = Field(default=0, ge=0)
    reliable_change: int | None = Field(default=None, ge=1)
    remission_below: int | None = Field(default=None, ge=1)
    baseline: bool = False  # required before the consultation completes
    follow_up: bool = False  # asked at the check-ins after a course that gave a dose
    survey: SurveyWording | None = None  # None: not asked on the client's survey page

    @property
    def max_total(self) -> int:
        return self.items * self.top

    @property
    def band_names(self) -> frozenset[str]:
        return frozenset(b.name for b in self.bands) | {b.band for b in self.item_bands}

    @model_validator(mode="after")
    def _consistent(self) -> InstrumentSpec:
        floors = [b.floor for b in self.bands]
        if floors[0] != 0 or floors != sorted(set(floors)):
            raise ValueError(f"{self.name}: band floors must rise from 0")
        if len({b.name for b in self.bands}) != len(self.bands):
            raise ValueError(f"{self.name}: band names must differ")
        if max(floors) > self.max_total:
            raise ValueError(f"{self.name}: a band starts above the highest total")
        numbers = [r.item for r in self.risk_items]
        numbers += [n for b in self.item_bands for n in b.items]
        numbers += [n for r in self.requires for n in (r.item, r.needs)]
        if any(n > self.items for n in numbers):
            raise ValueError(f"{self.name}: a rule names an item it does not have")
        if any(r.above >= self.top for r in self.risk_items):
            raise ValueError(f"{self.name}: a risk rule no answer can meet")
        if not self.risk_bands <= self.band_names:
            raise ValueError(f"{self.name}: a risk band is not one of its bands")
        if not self.review_bands <= self.band_names - self.risk_bands:
            raise ValueError(
                f"{self.name}: a review band must be one of its bands, not a risk band"
            )
        rules = (self.reliable_change, self.remission_below)
        if not self.outcome and (any(r is not None for r in rules) or self.judged_from):
            raise ValueError(
                f"{self.name}: a screener (not an outcome measure) has no outcome rules"
            )
        if self.judged_from > self.max_total:
            raise ValueError(f"{self.name}: no baseline can be judged")
        if self.survey is not None:
            if len(self.survey.items) != self.items:
                raise ValueError(f"{self.name}: the survey wording needs one text per item")
            if len(self.survey.answers) != self.top + 1:
                raise ValueError(f"{self.name}: the survey wording needs a label per answer")
        if self.follow_up and self.survey is None:
            raise ValueError(f"{self.name}: a follow-up instrument needs its survey wording")
        return self
