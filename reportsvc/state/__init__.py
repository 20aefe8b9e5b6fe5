"""Everything that owns rows or bytes: models, the lifecycle (the only writer of a report's status),
read-side queries, file storage, accounts and the audit log."""
