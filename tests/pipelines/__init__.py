"""Run the repository's Azure Pipelines for real, offline: templates expanded, jobs in dependsOn order with
their conditions and matrices, every script step run with bash in a real clone, `##vso` logging commands
read from the steps' output, and the tasks the pipelines use replaced by local equivalents (runner.py is the
entry point). Where the harness cannot know what Azure would do it raises HarnessError instead of guessing.
"""
