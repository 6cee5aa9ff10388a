"""phone_log: phone-system call events (Twilio Voice, Asterisk, FreeSWITCH, CTI) to Kafka."""
