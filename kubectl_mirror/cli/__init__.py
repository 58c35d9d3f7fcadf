"""The `kubectl mirror` command line: one small module per command, errors turned into one line
in exactly one place (`main.main`)."""
