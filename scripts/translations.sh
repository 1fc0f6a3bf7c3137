#!/usr/bin/env bash
# Refresh the translations: extract every marked string, merge it into each language, compile.
#
#   scripts/translations.sh                  extract -> messages.pot, update (or init) fr and nl, compile
#   scripts/translations.sh --extract-to F   only extract the template to F (tests/test_i18n.py uses it)
#
# Then translate the new or fuzzy entries in focalpoint/translations/<lang>/LC_MESSAGES/messages.po
# (Poedit, or any editor: remove the "#, fuzzy" line once checked), run this script again to compile,
# and commit the .pot, .po and .mo files (the .mo are committed so an install needs no build step).
# PYTHON picks the interpreter that has Babel installed (default: python3, the active virtualenv's).
set -euo pipefail

cd "$(dirname "$0")/.."
PYBABEL=("${PYTHON:-python3}" -m babel.messages.frontend)
TRANSLATIONS=focalpoint/translations
LANGUAGES=(fr nl)

extract() {
    # Babel's default keywords (_, gettext, ngettext, N_ ...) plus Flask-Babel's lazy ones. Without
    # --ignore-dirs Babel would also skip directories starting with "_" (templates/_macros).
    "${PYBABEL[@]}" --quiet extract -F babel.cfg -k _l -k lazy_gettext -k lazy_ngettext:1,2 \
        --ignore-dirs=".* __pycache__ node_modules" --sort-by-file \
        --project=focalpoint --copyright-holder="Focal Point contributors" \
        --version="$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml)" -o "$1" .
}

if [[ "${1:-}" == "--extract-to" ]]; then
    extract "${2:?--extract-to needs a file}"
    exit 0
fi

mkdir -p "$TRANSLATIONS"
fresh="$(mktemp)"
trap 'rm -f "$fresh"' EXIT
extract "$fresh"
# Keep the template (and so the catalogs) untouched when only its creation date would change.
if ! [[ -f "$TRANSLATIONS/messages.pot" ]] || ! cmp -s <(grep -v '^"POT-Creation-Date:' "$fresh") \
        <(grep -v '^"POT-Creation-Date:' "$TRANSLATIONS/messages.pot"); then
    cat "$fresh" >"$TRANSLATIONS/messages.pot"
fi
for lang in "${LANGUAGES[@]}"; do
    if [[ -f "$TRANSLATIONS/$lang/LC_MESSAGES/messages.po" ]]; then
        "${PYBABEL[@]}" --quiet update --ignore-obsolete -i "$TRANSLATIONS/messages.pot" \
            -d "$TRANSLATIONS" -l "$lang"
    else
        "${PYBABEL[@]}" --quiet init -i "$TRANSLATIONS/messages.pot" -d "$TRANSLATIONS" -l "$lang"
    fi
done
"${PYBABEL[@]}" compile --statistics -d "$TRANSLATIONS"
