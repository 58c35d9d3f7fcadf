"""Readers for every marker dialect, each turning an object into the same `MirrorSpec`.

The order of `DIALECTS` is the precedence when one object carries markers of several tools:
our own markers first, then the tools users migrate from.
"""
