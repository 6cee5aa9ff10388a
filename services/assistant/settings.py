"""Assistant settings: environment variables with the ``ASSISTANT_`` prefix."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from libs.common.settings import ServiceSettings

#: The demo KB written for the project; production points ASSISTANT_KB_PATH at its own.
SAMPLE_KB = Path(__file__).with_name("sample_kb")

#: Calibrated on ../shared/corpus/faq/dev-questions.yaml with that KB
#: (`omnidesk assistant eval … --calibrate`); recalibrate for another KB.
DEFAULT_THRESHOLD = 0.1348


class AssistantSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_", extra="ignore", env_nested_delimiter="__"
    )

    service_name: str = Field("omnidesk-assistant", description="Kafka client id and log name.")
    kb_path: Path = Field(SAMPLE_KB, description="KB folder (every *.yaml) or one file.")
    builtin_synonyms: bool = Field(
        True, description="Merge the shipped desk vocabulary under the KB's own synonyms."
    )
    threshold: float = Field(
        DEFAULT_THRESHOLD, ge=0, le=1, description="Confidence below which it hands off."
    )
    quiet_timeout_s: float = Field(
        600, gt=0, description="Silence after an answer that resolves the conversation."
    )
    max_message_chars: int = Field(2000, ge=1, description="Longer messages go to a person.")
    max_answers: int = Field(2, ge=1, description="Answers before it hands off.")
    kb_poll_s: float = Field(2.0, gt=0, description="How often the KB files are checked.")
    group_id: str = Field("omnidesk-assistant", description="Kafka consumer group.")
    source: str = Field("omnidesk/assistant", description="CloudEvents source of its events.")
    kiwi_default_dict: bool = Field(
        False,
        description="Load Kiwi's default dictionary (Wikipedia proper nouns): ~50 MB "
        "resident, no dev-set answer changed by it (bench/assistant_kiwi.py).",
    )
    probe_port: int = Field(9104, ge=0, description="/healthz, /readyz, /metrics (0: off).")

    def kiwi_options(self) -> dict[str, bool]:
        return {"load_default_dict": self.kiwi_default_dict}
