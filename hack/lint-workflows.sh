#!/usr/bin/env bash
# Lints .github/workflows with actionlint, which also runs shellcheck on every
# `run:` block. Fails on any finding. shellcheck is required (installed from
# Debian when apt-get is available) so that findings are the same everywhere.
set -euo pipefail

ACTIONLINT_VERSION=v1.7.8

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
gobin="${XDG_CACHE_HOME:-${HOME}/.cache}/synapse-tools/actionlint-${ACTIONLINT_VERSION}/bin"
actionlint="${gobin}/actionlint"

if [ ! -x "${actionlint}" ]; then
  echo "lint-workflows: installing actionlint ${ACTIONLINT_VERSION} into ${gobin}" >&2
  mkdir -p "${gobin}"
  GOBIN="${gobin}" go install "github.com/rhysd/actionlint/cmd/actionlint@${ACTIONLINT_VERSION}"
fi

if ! command -v shellcheck >/dev/null 2>&1; then
  sudo=()
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
    sudo=(sudo -n)
  fi
  if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" -eq 0 ] || [ "${#sudo[@]}" -gt 0 ]; }; then
    echo "lint-workflows: installing shellcheck with apt-get" >&2
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends shellcheck >/dev/null
  fi
fi
if ! command -v shellcheck >/dev/null 2>&1; then
  echo "lint-workflows: shellcheck is required (apt-get install shellcheck / brew install shellcheck)" >&2
  exit 1
fi

cd "${root}"
shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
if [ "${#workflows[@]}" -eq 0 ]; then
  echo "lint-workflows: no workflows under .github/workflows" >&2
  exit 1
fi
"${actionlint}" "${workflows[@]}"
echo "lint-workflows: ${#workflows[@]} workflow(s) clean (actionlint ${ACTIONLINT_VERSION}, $(shellcheck --version | sed -n 's/^version: //p' | head -n1 | sed 's/^/shellcheck /'))"
