"""The check job (`nox -s test_wheels`): wheels tested the way a user gets them, after NEURON's test_wheels.sh.

jobs: what is tested with which interpreter; tester: one job's work folder, environment and order of checks;
static, installed, ring: the checks; report: the tables; cli: the arguments and the run."""
