"""Mutation testing of the shared layer with mutmut (`make mutation`): run.sh, report.py, and survivors.txt, the
survivors that cannot change behaviour with the reason for each."""
