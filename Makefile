# One command per contributor task; CI calls the same ones.
.PHONY: install lint format test e2e bench update-snapshots

install:
	python3 -m pip install -e '.[test]'

lint:
	ruff check kubectl_mirror tests bench krew
	ruff format --check kubectl_mirror tests bench krew
	mypy

format:
	ruff format kubectl_mirror tests bench krew
	ruff check --fix kubectl_mirror tests bench krew

test:
	python3 -m pytest -q

e2e:
	python3 -m pytest -q -m e2e

bench:
	python3 bench/render.py

update-snapshots:
	python3 -m pytest -q --snapshot-update
