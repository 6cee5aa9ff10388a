"""One module per chat provider: payload models, signature check and a pure
normaliser (payload → ChatEvents), plus a thin route."""
