"""``python -m services.phone_log``: serve the webhooks with uvicorn."""

from services.phone_log.main import main

main()
