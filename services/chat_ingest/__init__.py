"""chat_ingest: chat webhooks (Twilio, WhatsApp, Telegram, Slack, LINE, Channel Talk,
Kakao, web chat) → ``support.interactions.v1``, acknowledged only after Kafka acked."""
