"""The release job: checking and uploading a release (nox -s upload) and the release workflow (nox -s release)."""
