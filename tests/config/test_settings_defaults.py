"""Settings sit below the domain (config imports nothing of the project), so a default that
mirrors a clinical default is checked here instead of imported."""

from config.settings import Settings
from domain.followups import MAINTENANCE_REMINDERS


def test_the_maintenance_reminder_default_is_the_domains() -> None:
    assert Settings.model_fields["maintenance_reminders"].default == MAINTENANCE_REMINDERS
