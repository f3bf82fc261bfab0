-- Instruments are data (`domain/instruments/`, one spec module each): a new instrument needs no
-- migration. The check-in table no longer lists the instruments there are; it checks that an
-- instrument is named as every spec is (`domain.instruments.spec.NAME_PATTERN`): a short lower
-- case code, never free text. Every row written so far ('phq9', 'gad7', 'pcl5', 'cssrs') has it.
ALTER TABLE follow_up_check_ins DROP CONSTRAINT follow_up_check_ins_instrument_check;
ALTER TABLE follow_up_check_ins ADD CONSTRAINT follow_up_check_ins_instrument_check
    CHECK (instrument ~ '^[a-z][a-z0-9_]{0,39}$');
