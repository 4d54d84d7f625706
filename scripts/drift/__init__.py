"""The drift report (`make drift`): captured requests read from a folder or S3 (capture.py), compared with the
training data by Evidently in its own venv (report.py, run as `python -m scripts.drift`)."""
