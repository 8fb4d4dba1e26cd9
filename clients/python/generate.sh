#!/usr/bin/env bash
# Generates the package's types from offboard's published documents: each event type from
# docs/events/*.json (src/offboard_client/events/) and the API's shapes from
# docs/openapi.json (src/offboard_client/api.py), as TypedDicts, with a pinned
# datamodel-code-generator in a temporary environment. `--check` regenerates into a
# temporary folder and fails when the committed files differ (CI runs it).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q datamodel-code-generator==0.97.0 black==26.10.1 isort==8.0.1
gen() {
  "$work/venv/bin/datamodel-codegen" --input "$1" --input-file-type "$2" --output "$3" \
    --output-model-type typing.TypedDict --target-python-version 3.11 \
    --no-use-closed-typed-dict --disable-timestamp --formatters black isort 2>/dev/null
}
out="$work/out"
mkdir -p "$out"
# Relative inputs, so the generated headers name the files as the repository does.
(cd "$root/docs" && gen events jsonschema "$out/events")
(cd "$root/docs" && gen openapi.json openapi "$out/api.py")
target="$here/src/offboard_client"
if [ "${1:-}" = "--check" ]; then
  if ! diff -r "$out/events" "$target/events" >/dev/null || ! diff "$out/api.py" "$target/api.py" >/dev/null; then
    diff -r "$out/events" "$target/events" || true
    diff "$out/api.py" "$target/api.py" || true
    echo "error: the generated types are stale: run clients/python/generate.sh" >&2
    exit 1
  fi
  echo "generated types: up to date"
else
  rm -rf "$target/events"
  cp -r "$out/events" "$target/events"
  cp "$out/api.py" "$target/api.py"
  echo "generated: $target/events, $target/api.py"
fi
