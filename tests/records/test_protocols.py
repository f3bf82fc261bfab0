"""The protocol registry against real PostgreSQL: versions per clinic, immutable, identified by
their content, the built-in defaults published on first use, the clinical lead's role."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from database.pgtypes import Pool
from domain.protocol import (
    DEFAULT_NAME,
    ProtocolValues,
    canonical_values,
    identified,
    protocol_digest,
)
from domain.vocabulary import Role
from records.protocols import (
    SYSTEM_PUBLISHER,
    ProtocolError,
    current_protocol,
    list_protocols,
    protocol_by_label,
    publish_protocol,
)
from records.tokens import clinician_of_token
from records.users import add_user

STRICTER = ProtocolValues(bp_systolic_limit=135, bp_diastolic_limit=85)
SLOWER = ProtocolValues(min_hours_between_doses=72)


async def test_a_clinic_without_versions_gets_the_defaults_published_once(db_pool: Pool) -> None:
    first = await current_protocol(db_pool, "default")
    again = await current_protocol(db_pool, "default")
    assert first == again
    assert (first.name, first.number) == (DEFAULT_NAME, 1)
    assert first.values == ProtocolValues()
    assert first.digest == protocol_digest(ProtocolValues())
    assert first.label == f"standard.1+{first.digest[:12]}"
    assert (first.published_by, first.publisher_role) == (SYSTEM_PUBLISHER, "system")
    assert first.protocol.version == first.label and identified(first.protocol)
    assert await db_pool.fetchval("SELECT count(*) FROM protocols") == 1


async def test_many_first_uses_at_once_publish_the_defaults_once(db_pool: Pool) -> None:
    found = await asyncio.gather(*(current_protocol(db_pool, "busy") for _ in range(8)))
    assert len({version.label for version in found}) == 1
    assert await db_pool.fetchval("SELECT count(*) FROM protocols WHERE clinic_id = 'busy'") == 1


async def test_publishing_makes_the_next_version_current(db_pool: Pool) -> None:
    await current_protocol(db_pool, "default")
    published = await publish_protocol(
        db_pool, "default", DEFAULT_NAME, STRICTER, published_by="lead-1"
    )
    assert published.created
    version = published.version
    assert (version.name, version.number, version.values) == (DEFAULT_NAME, 2, STRICTER)
    assert version.label == f"standard.2+{protocol_digest(STRICTER)[:12]}"
    assert (version.published_by, version.publisher_role) == ("lead-1", "clinical_lead")
    assert await current_protocol(db_pool, "default") == version
    pinned = version.protocol
    assert pinned.bp_systolic_limit == 135 and pinned.version == version.label
    listed = await list_protocols(db_pool, "default")
    assert [v.number for v in listed] == [2, 1]  # newest first
    assert await protocol_by_label(db_pool, "default", version.label) == version


async def test_the_current_values_again_answer_the_current_version(db_pool: Pool) -> None:
    first = await publish_protocol(db_pool, "c1", "kap", STRICTER, published_by="lead-1")
    again = await publish_protocol(db_pool, "c1", "kap", STRICTER, published_by="lead-2")
    assert first.created and not again.created
    assert again.version == first.version
    assert await db_pool.fetchval("SELECT count(*) FROM protocols WHERE clinic_id = 'c1'") == 1


async def test_an_older_version_s_values_again_are_a_new_current_version(db_pool: Pool) -> None:
    one = (await publish_protocol(db_pool, "c1", "kap", STRICTER, published_by="l")).version
    two = (await publish_protocol(db_pool, "c1", "kap", SLOWER, published_by="l")).version
    back = await publish_protocol(db_pool, "c1", "kap", STRICTER, published_by="l")
    assert back.created
    assert back.version.number == 3 and back.version.digest == one.digest
    assert back.version.label != one.label
    assert (await current_protocol(db_pool, "c1")).label == back.version.label
    assert [v.label for v in await list_protocols(db_pool, "c1")] == [
        back.version.label,
        two.label,
        one.label,
    ]


async def test_names_are_numbered_apart(db_pool: Pool) -> None:
    await publish_protocol(db_pool, "c1", "kap", STRICTER, published_by="l")
    other = (await publish_protocol(db_pool, "c1", "remote", SLOWER, published_by="l")).version
    assert (other.name, other.number) == ("remote", 1)
    assert (await current_protocol(db_pool, "c1")).name == "remote"


async def test_concurrent_publications_are_numbered_without_gaps(db_pool: Pool) -> None:
    values = [ProtocolValues(referral_sla_days=days) for days in range(1, 11)]
    done = await asyncio.gather(
        *(publish_protocol(db_pool, "c1", "kap", v, published_by="l") for v in values)
    )
    assert sorted(p.version.number for p in done) == list(range(1, 11))


async def test_another_clinic_s_versions_are_not_there(db_pool: Pool) -> None:
    theirs = (await publish_protocol(db_pool, "north", "kap", STRICTER, published_by="l")).version
    ours = await current_protocol(db_pool, "default")
    assert ours.values == ProtocolValues()
    assert theirs.label not in [v.label for v in await list_protocols(db_pool, "default")]
    assert await protocol_by_label(db_pool, "default", theirs.label) is None
    # The same values in another clinic are that clinic's own first version.
    mine = await publish_protocol(db_pool, "south", "kap", STRICTER, published_by="l")
    assert mine.created and mine.version.clinic_id == "south" and mine.version.number == 1


async def test_versions_are_immutable(db_pool: Pool) -> None:
    version = await current_protocol(db_pool, "default")
    for statement in (
        "UPDATE protocols SET protocol = jsonb_set(protocol, '{bp_systolic_limit}', '200')",
        "UPDATE protocols SET published_by = 'someone'",
        "DELETE FROM protocols",
    ):
        with pytest.raises(asyncpg.RestrictViolationError, match="immutable"):
            await db_pool.execute(statement)
    assert await current_protocol(db_pool, "default") == version


async def test_a_row_must_carry_its_own_label(db_pool: Pool) -> None:
    values = canonical_values(STRICTER)
    digest = protocol_digest(STRICTER)
    with pytest.raises(asyncpg.CheckViolationError):
        await db_pool.execute(
            "INSERT INTO protocols (clinic_id, name, number, digest, label, protocol,"
            " published_by, publisher_role) VALUES ('c1', 'kap', 1, $1, 'kap.1+000000000000',"
            " $2, 'l', 'clinical_lead')",
            digest,
            values,
        )


async def test_values_that_do_not_match_their_digest_are_refused(db_pool: Pool) -> None:
    digest = protocol_digest(ProtocolValues())
    tampered = {**canonical_values(ProtocolValues()), "bp_systolic_limit": 200}
    await db_pool.execute(
        "INSERT INTO protocols (clinic_id, name, number, digest, label, protocol,"
        " published_by, publisher_role) VALUES ('c1', 'kap', 1, $1, $2, $3, 'l', 'system')",
        digest,
        f"kap.1+{digest[:12]}",
        tampered,
    )
    with pytest.raises(ProtocolError, match="do not match its digest"):
        await current_protocol(db_pool, "c1")


async def test_a_version_missing_a_setting_added_since_reads_but_cannot_be_pinned(
    db_pool: Pool,
) -> None:
    stored = canonical_values(STRICTER)
    del stored["maintenance_interval_days"]  # as if published before the setting existed
    digest = protocol_digest(stored)
    await db_pool.execute(
        "INSERT INTO protocols (clinic_id, name, number, digest, label, protocol,"
        " published_by, publisher_role) VALUES ('c1', 'kap', 1, $1, $2, $3, 'l', 'clinical_lead')",
        digest,
        f"kap.1+{digest[:12]}",
        stored,
    )
    version = await current_protocol(db_pool, "c1")
    assert version.values.maintenance_interval_days == 45  # the default
    with pytest.raises(ProtocolError, match="does not name its values"):
        _ = version.protocol


async def test_the_clinical_lead_is_a_clinician_with_a_token(db_pool: Pool) -> None:
    clinician_id, token = await add_user(db_pool, "Cleo Lead", "clinical_lead", "north")
    assert clinician_id.startswith("lead-")
    clinician = await clinician_of_token(db_pool, token)
    assert clinician is not None
    assert (clinician.role, clinician.clinic_id) == (Role.CLINICAL_LEAD, "north")
    with pytest.raises(asyncpg.CheckViolationError):
        await db_pool.execute(
            "INSERT INTO clinicians (clinician_id, role) VALUES ('x-1', 'medical_director')"
        )
