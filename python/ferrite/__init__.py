"""ferrite: a persistent heap engine. `ferrite.pmemobj` keeps Python objects
in a pool file with nvm.pmemobj's API (docs/python.md)."""
