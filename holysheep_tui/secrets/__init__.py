"""The API key: where it comes from and keeping it in the OS keyring."""
