-- The lowest schema version whose fbl may read this store as it is, without migrating it
-- (commands that only read: `fbl store info`, `fbl suppress check`, `fbl report`...), so
-- that after a downgrade the older fbl can still look at the store. A later migration that
-- only adds leaves it; one that changes what older read queries rely on (renames or drops a
-- column or table, changes a column's meaning or how values are written) sets it to its
-- own number: UPDATE read_compatibility SET read_compatible_from = N;
-- One row. 30: the first fbl that reads the marker is this one.
CREATE TABLE read_compatibility (
    only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
    read_compatible_from INTEGER NOT NULL
);
INSERT INTO read_compatibility (only_row, read_compatible_from) VALUES (1, 30);
