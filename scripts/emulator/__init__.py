"""Workarounds that make SAM CLI 1.170.0's local emulator usable on a machine without a container registry; each
file says which defect or gap it covers and when it can go."""
