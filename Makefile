# The course in two commands: `make book` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Tools that nbgrader and jupyter-book start (alembic, jupyter) come from the venv.
export PATH := $(abspath $(BIN)):$(PATH)
STAMP := $(VENV)/.installed

.PHONY: install release student-edition book test test-gpu check check-html lint format clean

# tools/install.py: what `pip install -r requirements.txt` installs, by two pip processes
# at once (on 2 cores, 36 s instead of 50 s: benchmarks/install.py).
$(STAMP): requirements.txt pyproject.toml tools/install.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python tools/install.py requirements.txt
	touch $(STAMP)

install: $(STAMP)

# Student notebooks in exercises/, generated from solutions/ by nbgrader.
release: install
	$(BIN)/python -m autograder release

# What students are handed: dist/student/ and dist/rnncourse-student.zip (the release
# notebooks, the helper package as a wheel, a README); no solution, no grader.
student-edition: release
	$(BIN)/python -m autograder student-edition

# The HTML book in _build/html, every chapter executed (cached by jupyter-cache; the
# chapters the cache lacks run first, one per core: python -m autograder execute-book).
# A changed table of contents or configuration changes every page's sidebar: then all
# pages are written again (an incremental build would keep their old sidebars).
BUILT := _build/.built
REWRITE_ALL = $(shell test -f $(BUILT) -a ! _toc.yml -nt $(BUILT) -a ! _config.yml -nt $(BUILT) || echo --all)
book: student-edition
	$(BIN)/python -m autograder toc
	$(BIN)/python -m autograder execute-book
	$(BIN)/jupyter-book build --warningiserror --nitpick --keep-going $(REWRITE_ALL) .
	touch $(BUILT)

# Two test processes (pytest-xdist); tests/conftest.py says how the tests are shared out.
test: book
	$(BIN)/python -m pytest -n 2

# On a machine with CUDA: every exercise's hidden checks (references and a sample of known
# mistakes, through the real pipeline) and every chapter's code on the GPU, with a short
# report (tests/gpu_report.py). Without CUDA it says so and exits 0.
test-gpu: release
	$(BIN)/python tests/gpu_report.py

# The quick loop while working: lint, then the tests that need no book build and grade
# no class through nbgrader (make test is the whole proof).
QUICK_TESTS := tests/test_book_numbers.py tests/test_book_on_other_cpus.py tests/test_checked_in_process.py tests/test_checker.py tests/test_checks.py tests/test_course.py tests/test_diagnosis.py tests/test_install.py \
	tests/test_forkserver.py tests/test_lms.py tests/test_package_audit.py tests/test_plays.py tests/test_report.py \
	tests/test_similarity.py
check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q $(QUICK_TESTS)

# Only the browser check of the built book (needs Chromium: apt-get install chromium).
check-html: book
	REQUIRE_BROWSER=1 $(BIN)/python -m pytest tests/test_html_in_browser.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf _build _grading dist
