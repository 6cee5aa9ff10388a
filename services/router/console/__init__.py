"""The web console under /console: server-rendered pages over the router's service functions."""
