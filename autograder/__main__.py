from autograder.cli import main

# Guarded: parallel grading starts worker processes that import this module.
if __name__ == "__main__":
    raise SystemExit(main())
