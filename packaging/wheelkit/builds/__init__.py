"""The build job: the wheel matrix (nox -s build_linux, build_osx) and the sdist (nox -s sdist)."""
