"""`omnidesk privacy forget`: one erasure request sent to every store this machine reaches."""
