"""What is true now, gathered before planning: what each installer sees at its
targets, and the CAs' renewal windows (ARI) with their cache."""
