-- Contact details and note texts are sealed at rest (AES-256-GCM, privacy/fields.py) in the
-- same text columns. sealed_with names the payload key that sealed a row's values; NULL means
-- plaintext written before sealing (still read as is) or nothing to seal (erased rows).
-- `carepath keys reseal` seals plaintext rows and moves rows to the newest key.
ALTER TABLE clients ADD COLUMN sealed_with text
    CHECK (sealed_with IS NULL OR (sealed_with ~ '^[A-Za-z0-9_-]{1,32}$' AND erased_at IS NULL));
ALTER TABLE psychotherapy_notes ADD COLUMN sealed_with text
    CHECK (sealed_with IS NULL OR (sealed_with ~ '^[A-Za-z0-9_-]{1,32}$' AND erased_at IS NULL));
