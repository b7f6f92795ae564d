-- fbl store, version 26: fbl's own reasons in one letter case. Reasons were kept as they
-- came in, so an import of `Unsubscribe`, `UNSUBSCRIBE` or `Complaint` (or an SES list's
-- `COMPLAINT`), or `suppress add --reason Unsubscribe`, was kept with its capitals: it got no
-- expiry from `expire_after_days = { unsubscribe = ... }`, and a weaker reason could replace
-- it (`manual` over `Complaint`). fbl now folds its own reasons (complaint, unsubscribe,
-- bounce, manual, import) to lower case when they come in, and compares reasons without
-- letter case; this gives the entries kept before the same spelling, so that `fbl suppress
-- list`, the exports and a list manager reading the fbl_suppressions view see one.
--
-- Other reasons (free text given to `suppress add --reason`) are kept as written. The
-- history is not rewritten (it says what was done, as it was said). No expiry is added: the
-- configuration is not known here, and an entry keeps the expiry it was given.
UPDATE suppressions SET reason = lower(reason)
 WHERE lower(reason) IN ('complaint', 'unsubscribe', 'bounce', 'manual', 'import')
   AND reason <> lower(reason);
