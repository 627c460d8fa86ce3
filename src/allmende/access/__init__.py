"""Users, authentication, roles and the one policy that decides every access."""
