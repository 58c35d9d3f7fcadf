"""The live controller behind `kubectl mirror watch`."""
