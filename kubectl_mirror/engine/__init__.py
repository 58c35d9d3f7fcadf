"""The pure engine: markers in, mirror manifests out.

Nothing below this package does I/O, reads the clock or imports `kubernetes`, `typer`,
`ruamel` or `os`: the same input always gives the same output (tests/test_layers.py checks it).
"""
