"""nvm: the package name of Python's nvm.pmemobj, kept so that programs
written for it run unchanged; nvm.pmemobj is ferrite.pmemobj."""
