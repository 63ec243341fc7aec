"""Supply-chain records beside each image: signed provenance (in-toto + SLSA, DSSE) and how to verify it."""
