"""HTTP API and static web app server (FastAPI); no numerics here, only calls into deepmend."""
