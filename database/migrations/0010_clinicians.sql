-- Clinicians (therapists, prescribers, ops): opaque id, role, clinic, and contact details for
-- notifications. Contact details can be erased without touching the event log.
CREATE TABLE clinicians (
    clinician_id text PRIMARY KEY CHECK (clinician_id ~ '^[A-Za-z0-9_.:-]{1,100}$'),
    role         text NOT NULL CHECK (role IN ('therapist', 'prescriber', 'ops')),
    clinic_id    text NOT NULL DEFAULT 'default',
    display_name text,
    email        text,
    phone        text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX clinicians_by_clinic_role ON clinicians (clinic_id, role);
