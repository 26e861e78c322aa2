"""Where certplan keeps what it did: state backends (the files backend, its lock),
the keystore of private keys, and atomic file writes."""
