"""Pure normalisation of raw mail into the unified interaction (no I/O)."""

from services.email_ingest.normalise.flags import OwnIdentity
from services.email_ingest.normalise.mail import (
    MailContext,
    NormalisedMail,
    Quarantined,
    normalise_mail,
)

__all__ = ["MailContext", "NormalisedMail", "OwnIdentity", "Quarantined", "normalise_mail"]
