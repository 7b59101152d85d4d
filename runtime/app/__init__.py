"""The `latticeff` command line and the pipeline jobs behind it."""
