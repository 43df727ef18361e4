"""The ``bastion`` command line: thin wrappers over the library, one module per command group."""
