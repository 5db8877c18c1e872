# The two commands the README opens with:
#   make demo   set up everything, start the local cloud, run the main playbook against it
#   make test   unit tests, ansible-test sanity, ansible-lint, integration tests on the local cloud
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BUILD := .build
COLLECTIONS := $(BUILD)/collections
VENV_STAMP := $(VENV)/.installed
# pytest exits 5 when a selection collects no test: say so instead of failing silently
PYTEST = $(BIN)/pytest -p no:cacheprovider

.PHONY: demo test unit sanity lint integration cloud cloud-down collection clean bench bench-backfill bench-upload bench-migrate bench-objects bench-catalogue rclone chromium changelog

$(VENV_STAMP): requirements.txt tests/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt -r tests/requirements.txt
	touch $@

# cloud up installs Debian's Ceph (python3-rbd among it); the collection's venv then links its bindings
cloud: $(VENV_STAMP)
	tools/cloud up
	tools/cloud ceph-bindings $(VENV)

cloud-down:
	tools/cloud down

collection: $(VENV_STAMP)
	tools/build-collection $(BUILD) $(COLLECTIONS)

# seeds the legacy state once per fresh local cloud, then runs the maintenance playbook on it
demo: $(VENV_STAMP) cloud collection
	source <(tools/cloud env) && $(BIN)/python tools/seed_legacy.py && \
	ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/$(COLLECTIONS) ANSIBLE_STDOUT_CALLBACK=default \
	$(BIN)/ansible-playbook -i localhost, -c local \
	  -e ansible_python_interpreter=$(CURDIR)/$(BIN)/python \
	  -e @.localcloud/data/maintenance-legacy.yml storeops.openstack.maintenance

test: unit sanity lint integration

unit: $(VENV_STAMP)
	$(PYTEST) tests/unit

sanity: $(VENV_STAMP)
	tools/sanity $(BUILD)

# offline (.ansible-lint): it resolves this collection from the built tarball's install
lint: collection
	$(BIN)/antsibull-changelog lint
	ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/$(COLLECTIONS) $(BIN)/ansible-lint --profile production

# the report's test renders report.html in Debian's headless Chromium
integration: $(VENV_STAMP) cloud chromium
	$(PYTEST) tests/integration

# benchmarks print ratios against the peer measured in the same run
bench: bench-backfill bench-upload bench-migrate bench-objects bench-catalogue rclone

bench-backfill: $(VENV_STAMP) cloud collection
	$(BIN)/python bench/backfill.py

bench-upload: $(VENV_STAMP) cloud collection
	$(BIN)/python bench/upload.py

bench-migrate: $(VENV_STAMP) cloud collection
	$(BIN)/python bench/migrate.py

bench-objects: $(VENV_STAMP) cloud collection rclone
	$(BIN)/python bench/objects.py

bench-catalogue: $(VENV_STAMP) cloud collection
	$(BIN)/python bench/catalogue.py

rclone:
	@command -v rclone >/dev/null || $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -q rclone

# CHANGELOG.rst from changelogs/ (fragments included until the release consumes them)
changelog: $(VENV_STAMP)
	tools/changelog

# apt-get update only when the package lists do not know chromium yet (a fresh container has none)
chromium:
	@command -v chromium >/dev/null || { sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		apt-cache show chromium >/dev/null 2>&1 || $$sudo apt-get update -q; \
		$$sudo apt-get install -y -q chromium; }

clean:
	rm -rf $(BUILD)
