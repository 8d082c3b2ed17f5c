"""One module per verb: orchestration only, returning typed results."""
