"""The application around the checking kernel (`grader`): a learner's sessions on labs, starting-state
layers, the gradebook and its export, the CLI, port forwarding, the selftest, lab lint, checks run
in isolated processes, and the notebook UI."""
