#!/bin/sh
# Creates Carepath's search attributes once Temporal answers. Generated from
# workflows/search_attributes.py; tests/test_compose.py keeps the two the same.
set -eu
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do
  echo "waiting for Temporal at $TEMPORAL_ADDRESS"; sleep 2
done
create() {
  temporal operator search-attribute create --address "$TEMPORAL_ADDRESS" \
    --namespace default --name "$1" --type "$2" || true  # already there on a re-run
}
create CarepathStage Keyword
create CarepathStatus Keyword
create CarepathTherapist Keyword
create CarepathPrescriber Keyword
create CarepathClinic Keyword
create CarepathNextDueAt Datetime
create CarepathNextDueKind Keyword
create CarepathDosesUsed Int
create CarepathDosesAuthorized Int
create CarepathOverdue Bool
create CarepathAlert Keyword
