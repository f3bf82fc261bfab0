-- Contact details live outside the event log so that they can be erased;
-- events refer to clients by client_id only.
CREATE TABLE clients (
    client_id text PRIMARY KEY CHECK (client_id ~ '^[A-Za-z0-9_.:-]{1,200}$'),
    display_name text,
    email text,
    phone text,
    created_at timestamptz NOT NULL DEFAULT now(),
    erased_at timestamptz,
    CONSTRAINT clients_erased_have_no_details CHECK (
        erased_at IS NULL OR (display_name IS NULL AND email IS NULL AND phone IS NULL)
    )
);
